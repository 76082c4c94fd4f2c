import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FlatBuffer, type TcpStream } from '@tsio/net';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { acceptUpgrade, error, isUpgrade, RequestType, type Stream } from '../src/index.js';

describe("Node http server 'upgrade' event", () => {
  it('accepts a ws client, echoes, and closes with code and reason seen by both', async () => {
    const accepted: Stream<TcpStream>[] = [];
    const server = createServer((_req, res) => res.end('plain http'));
    server.on('upgrade', (req, socket, head) => {
      acceptUpgrade(req, socket, head, async (ec, ws) => {
        if (ec) return;
        accepted.push(ws);
        const buf = new FlatBuffer();
        await ws.asyncRead(buf);
        ws.text(ws.gotText());
        await ws.asyncWrite(buf.data());
        const rest = new FlatBuffer();
        const end = await ws.asyncRead(rest).catch((e: { code: unknown }) => e.code);
        expect(end).toBe(error.closed);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    const client = new WebSocket(`ws://127.0.0.1:${port}/path?x=1`);
    await new Promise((r, j) => client.once('open', r).once('error', j));
    client.send('hello over upgrade');
    const echoed = await new Promise<string>((r) => client.once('message', (d) => r(String(d))));
    expect(echoed).toBe('hello over upgrade');
    const closed = new Promise<[number, string]>((r) =>
      client.once('close', (c, why) => r([c, String(why)])),
    );
    client.close(4000, 'bye');
    expect(await closed).toEqual([4000, '']);
    expect(accepted[0]?.reason()).toEqual({ code: 4000, reason: 'bye' });
    await new Promise((r) => server.close(r));
  });

  it('refuses a bad upgrade request with 400 and completes with the error', async () => {
    const results: unknown[] = [];
    const server = createServer();
    server.on('upgrade', (req, socket, head) => {
      acceptUpgrade(req, socket, head, (ec) => results.push(ec));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    const { connect } = await import('node:net');
    const sock = connect(port, '127.0.0.1');
    sock.write(
      'GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
    const chunks: Buffer[] = [];
    await new Promise<void>((r) => sock.on('data', (d) => chunks.push(d)).on('close', () => r()));
    expect(Buffer.concat(chunks).toString().split('\r\n')[0]).toBe('HTTP/1.1 400 Bad Request');
    expect(results).toEqual([error.noSecKey]);
    await new Promise((r) => server.close(r));
  });
});

describe('isUpgrade (Beast’s websocket::is_upgrade)', () => {
  const request = (method: string, version: number, fields: Record<string, string>): RequestType => {
    const r = new RequestType();
    r.method = method;
    r.target = '/';
    r.version = version;
    for (const [n, v] of Object.entries(fields)) r.fields.insert(n, v);
    return r;
  };
  const upgrade = { Host: 'x', Connection: 'keep-alive, Upgrade', Upgrade: 'h2c, WebSocket' };

  it('is true for GET, HTTP/1.1, Connection listing upgrade and Upgrade listing websocket (any case)', () => {
    expect(isUpgrade(request('GET', 11, upgrade))).toBe(true);
  });

  it('is false for another method, HTTP/1.0, or either token missing', () => {
    expect(isUpgrade(request('POST', 11, upgrade))).toBe(false);
    expect(isUpgrade(request('GET', 10, upgrade))).toBe(false);
    expect(isUpgrade(request('GET', 11, { ...upgrade, Connection: 'keep-alive' }))).toBe(false);
    expect(isUpgrade(request('GET', 11, { ...upgrade, Upgrade: 'h2c' }))).toBe(false);
    expect(isUpgrade(request('GET', 11, { Host: 'x', Upgrade: 'websocket' }))).toBe(false);
    // A token is a whole list element, not a substring.
    expect(isUpgrade(request('GET', 11, { ...upgrade, Upgrade: 'websockets' }))).toBe(false);
  });

  it("tells a Node http server's upgrade requests from its plain ones", async () => {
    const seen: [string, boolean][] = [];
    const server = createServer((req, res) => {
      seen.push(['request', isUpgrade(req)]);
      res.end('plain');
    });
    server.on('upgrade', (req, socket) => {
      seen.push(['upgrade', isUpgrade(req)]);
      socket.destroy();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    await fetch(`http://127.0.0.1:${port}/`).then((r) => r.text());
    const client = new WebSocket(`ws://127.0.0.1:${port}/`);
    await new Promise((r) => client.once('error', r).once('close', r));
    await new Promise<void>((r) => server.close(() => r()));
    expect(seen).toEqual([
      ['request', false],
      ['upgrade', true],
    ]);
  });
});
