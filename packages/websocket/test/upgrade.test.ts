import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FlatBuffer, type TcpStream } from '@tsio/net';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { acceptUpgrade, error, type Stream } from '../src/index.js';

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
