/*
 * Fault injection over real TCP (issue 9): the peer resets the connection
 * (RST, `socket.resetAndDestroy()`) mid-handshake, mid-frame and mid-close.
 * Each operation completes exactly once, with an error, and the stream
 * reports `isOpen() === false` afterwards.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { ErrorCode } from '@tsio/completion-token';
import { Endpoint, FlatBuffer, TcpStream } from '@tsio/net';
import { afterEach, describe, expect, it } from 'vitest';
import { acceptFor, buildFrame, Rng, validRequest } from '../../../bench/lib/fuzz-engine.mjs';
import { Stream } from '../src/index.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

/** Records completions of one operation; `settled` resolves at the first. */
function completion() {
  const calls: (ErrorCode | null)[] = [];
  let resolve: () => void = () => {};
  const settled = new Promise<void>((r) => (resolve = r));
  const handler = (ec: ErrorCode | null) => {
    calls.push(ec);
    resolve();
  };
  return { calls, settled, handler };
}

/** Waits a few event-loop turns, so that a second completion would have been seen. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 5));
}

function listen(onConnection: (s: Socket) => void): Promise<{ server: Server; port: number }> {
  const server = createServer({ allowHalfOpen: true }, (s) => {
    s.on('error', () => {});
    onConnection(s);
  });
  cleanups.push(() => server.close());
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const a = server.address();
      resolve({ server, port: typeof a === 'object' && a ? a.port : 0 });
    }),
  );
}

/** Our server Stream over a TcpStream for each raw client connection. */
async function ourServer(): Promise<{ port: number; next: () => Promise<Stream<TcpStream>> }> {
  const waiting: ((s: Stream<TcpStream>) => void)[] = [];
  const { port } = await listen((s) => {
    const ws = new Stream(new TcpStream(s));
    cleanups.push(() => ws.nextLayer().close());
    waiting.shift()?.(ws);
  });
  return { port, next: () => new Promise((r) => waiting.push(r)) };
}

function rawClient(port: number): Promise<Socket> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port, allowHalfOpen: true }, () => resolve(s));
    s.on('error', () => {});
    cleanups.push(() => s.destroy());
  });
}

function readUntil(s: Socket, marker: string): Promise<Buffer> {
  return new Promise((resolve) => {
    let acc = Buffer.alloc(0);
    const on = (d: Buffer) => {
      acc = Buffer.concat([acc, d]);
      if (acc.includes(marker)) {
        s.off('data', on);
        resolve(acc);
      }
    };
    s.on('data', on);
  });
}

/** Waits for `n` bytes or more in total. */
function readBytes(s: Socket, n: number): Promise<Buffer> {
  return new Promise((resolve) => {
    let acc = Buffer.alloc(0);
    const on = (d: Buffer) => {
      acc = Buffer.concat([acc, d]);
      if (acc.length >= n) {
        s.off('data', on);
        resolve(acc);
      }
    };
    s.on('data', on);
  });
}

/** An upgraded connection: our server Stream and a raw client that did a valid handshake. */
async function upgradedToOurServer() {
  const srv = await ourServer();
  const streamP = srv.next();
  const raw = await rawClient(srv.port);
  const ws = await streamP;
  const accepted = completion();
  ws.asyncAccept(accepted.handler);
  const head = readUntil(raw, '\r\n\r\n');
  raw.write(validRequest(new Rng(1)));
  await head;
  await accepted.settled;
  expect(accepted.calls).toEqual([null]);
  return { ws, raw };
}

/** Our client Stream connected to a raw server that answers the handshake correctly. */
async function upgradedToRawServer(): Promise<{ ws: Stream<TcpStream>; peer: Socket }> {
  let peerResolve: (s: Socket) => void = () => {};
  const peerP = new Promise<Socket>((r) => (peerResolve = r));
  const { port } = await listen((s) => {
    cleanups.push(() => s.destroy());
    readUntil(s, '\r\n\r\n').then((req) => {
      const key = /Sec-WebSocket-Key: *([^\r]*)/i.exec(req.toString('latin1'))?.[1] ?? '';
      const accept = acceptFor(key);
      s.write(
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
      );
      peerResolve(s);
    });
  });
  const tcp = new TcpStream();
  cleanups.push(() => tcp.close());
  await tcp.asyncConnect(new Endpoint('127.0.0.1', port));
  const ws = new Stream(tcp);
  await ws.asyncHandshake('127.0.0.1', '/');
  return { ws, peer: await peerP };
}

describe('TCP reset mid-handshake', () => {
  it('server: the client resets after half a request; asyncAccept completes once with an error', async () => {
    const srv = await ourServer();
    const streamP = srv.next();
    const raw = await rawClient(srv.port);
    const ws = await streamP;
    const c = completion();
    ws.asyncAccept(c.handler);
    const req = validRequest(new Rng(2));
    raw.write(req.subarray(0, req.length >> 1), () => raw.resetAndDestroy());
    await c.settled;
    await settle();
    expect(c.calls).toHaveLength(1);
    expect(c.calls[0]).not.toBeNull();
    expect(ws.isOpen()).toBe(false);
  });

  it('client: the server resets after half a 101; asyncHandshake completes once with an error', async () => {
    const { port } = await listen((s) => {
      readUntil(s, '\r\n\r\n').then(() => {
        s.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n', () => s.resetAndDestroy());
      });
    });
    const tcp = new TcpStream();
    cleanups.push(() => tcp.close());
    await tcp.asyncConnect(new Endpoint('127.0.0.1', port));
    const ws = new Stream(tcp);
    const c = completion();
    ws.asyncHandshake('127.0.0.1', '/', c.handler);
    await c.settled;
    await settle();
    expect(c.calls).toHaveLength(1);
    expect(c.calls[0]).not.toBeNull();
    expect(ws.isOpen()).toBe(false);
  });
});

describe('TCP reset mid-frame', () => {
  it('server read: the client resets after half a frame; asyncRead completes once with an error', async () => {
    const { ws, raw } = await upgradedToOurServer();
    const c = completion();
    ws.asyncRead(new FlatBuffer(), c.handler);
    const frame = buildFrame({ opcode: 2, key: Buffer.from([1, 2, 3, 4]), payload: Buffer.alloc(1000, 7) });
    raw.write(frame.subarray(0, 300), () => raw.resetAndDestroy());
    await c.settled;
    await settle();
    expect(c.calls).toHaveLength(1);
    expect(c.calls[0]).not.toBeNull();
    expect(ws.isOpen()).toBe(false);
  });

  it('server write: the client resets while a large write is pending; asyncWrite completes once with an error', async () => {
    const { ws, raw } = await upgradedToOurServer();
    raw.pause();
    ws.binary(true);
    const c = completion();
    ws.asyncWrite(Buffer.alloc(32 * 1024 * 1024, 1), c.handler);
    // Let the socket buffers fill, then reset.
    await new Promise((r) => setTimeout(r, 50));
    expect(c.calls).toHaveLength(0);
    raw.resetAndDestroy();
    await c.settled;
    await settle();
    expect(c.calls).toHaveLength(1);
    expect(c.calls[0]).not.toBeNull();
    expect(ws.isOpen()).toBe(false);
  });

  it('client read: the server resets after half a frame; asyncRead completes once with an error', async () => {
    const { ws, peer } = await upgradedToRawServer();
    const c = completion();
    ws.asyncRead(new FlatBuffer(), c.handler);
    const frame = buildFrame({ opcode: 2, payload: Buffer.alloc(5000, 3) });
    peer.write(frame.subarray(0, 2000), () => peer.resetAndDestroy());
    await c.settled;
    await settle();
    expect(c.calls).toHaveLength(1);
    expect(c.calls[0]).not.toBeNull();
    expect(ws.isOpen()).toBe(false);
  });
});

describe('TCP reset mid-close', () => {
  it('server asyncClose: the client resets instead of answering the close frame', async () => {
    const { ws, raw } = await upgradedToOurServer();
    const closeFrame = readBytes(raw, 4);
    const c = completion();
    ws.asyncClose(1000, c.handler);
    await closeFrame;
    raw.resetAndDestroy();
    await c.settled;
    await settle();
    expect(c.calls).toHaveLength(1);
    expect(c.calls[0]).not.toBeNull();
    expect(ws.isOpen()).toBe(false);
  });

  it('client asyncClose with a pending read: the server resets; both complete once, with errors', async () => {
    const { ws, peer } = await upgradedToRawServer();
    const r = completion();
    ws.asyncRead(new FlatBuffer(), r.handler);
    const closeFrame = readBytes(peer, 8);
    const c = completion();
    ws.asyncClose(1000, c.handler);
    await closeFrame;
    peer.resetAndDestroy();
    await Promise.all([c.settled, r.settled]);
    await settle();
    expect(c.calls).toHaveLength(1);
    expect(r.calls).toHaveLength(1);
    expect(c.calls[0]).not.toBeNull();
    expect(r.calls[0]).not.toBeNull();
    expect(ws.isOpen()).toBe(false);
  });

  it('server: the client resets after its close frame, during teardown', async () => {
    const { ws, raw } = await upgradedToOurServer();
    const r = completion();
    ws.asyncRead(new FlatBuffer(), r.handler);
    const p = Buffer.alloc(2);
    p.writeUInt16BE(1000);
    const echo = readBytes(raw, 4);
    raw.write(buildFrame({ opcode: 8, key: Buffer.from([9, 9, 9, 9]), payload: p }));
    await echo;
    raw.resetAndDestroy();
    await r.settled;
    await settle();
    // The closing handshake completed (both close frames crossed): the read reports `closed`.
    expect(r.calls).toHaveLength(1);
    expect(r.calls[0]).not.toBeNull();
    expect(ws.isOpen()).toBe(false);
  });
});
