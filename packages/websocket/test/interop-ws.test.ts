/*
 * Interop with `ws` (npm) over loopback TCP: `ws` as the client of our
 * server, and as the server of our client. Text and binary from 0 B to
 * 16 MiB, fragmented messages, pings both ways, close codes and reasons
 * both ways, and permessage-deflate both ways.
 */
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { type RawData, WebSocketServer } from 'ws';
import { closeCode, type FrameType, PermessageDeflate } from '../src/index.js';
import {
  bytesOf,
  connectClient,
  echo,
  type OurServer,
  readMessage,
  readUntilClosed,
  SIZES,
  startServer,
  textOf,
  type WsStream,
} from './peers/interop.js';

interface Received {
  data: Buffer;
  binary: boolean;
}

function toBuffer(d: RawData): Buffer {
  if (Buffer.isBuffer(d)) return d;
  if (Array.isArray(d)) return Buffer.concat(d);
  return Buffer.from(d);
}

/** The messages of a `ws` socket as a pull queue. */
function inbox(sock: WebSocket): () => Promise<Received> {
  const queue: Received[] = [];
  const waiters: ((m: Received) => void)[] = [];
  sock.on('message', (d: RawData, binary: boolean) => {
    const m = { data: toBuffer(d), binary };
    const w = waiters.shift();
    if (w) w(m);
    else queue.push(m);
  });
  return () => {
    const m = queue.shift();
    return m ? Promise.resolve(m) : new Promise((resolve) => waiters.push(resolve));
  };
}

async function wsClient(port: number, options: WebSocket.ClientOptions = {}): Promise<WebSocket> {
  const c = new WebSocket(`ws://127.0.0.1:${port}/interop?x=1`, { perMessageDeflate: false, ...options });
  await once(c, 'open');
  return c;
}

function closeEvent(sock: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) => {
    sock.once('close', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString('utf8') }));
  });
}

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function track<T extends OurServer | WebSocket | WebSocketServer | WsStream>(x: T): T {
  if (x instanceof WebSocket) cleanups.push(() => x.terminate());
  else if (x instanceof WebSocketServer) {
    cleanups.push(() => {
      for (const c of x.clients) c.terminate();
      x.close();
    });
  } else if ('sessions' in x) cleanups.push(() => x.close());
  else cleanups.push(() => x.nextLayer().close());
  return x;
}

describe('ws client -> our server', () => {
  it('echoes text and binary of every size from 0 B to 16 MiB', async () => {
    const server = track(await startServer(echo));
    const c = track(await wsClient(server.port));
    const next = inbox(c);
    for (const n of SIZES) {
      const text = textOf(n);
      c.send(text);
      const t = await next();
      expect(t.binary).toBe(false);
      expect(t.data.length).toBe(n);
      expect(t.data.toString('utf8') === text).toBe(true);
      const bin = bytesOf(n);
      c.send(bin);
      const b = await next();
      expect(b.binary).toBe(true);
      expect(b.data.equals(bin)).toBe(true);
    }
    const closed = closeEvent(c);
    c.close(closeCode.normal);
    expect((await closed).code).toBe(closeCode.normal);
    const result = (await server.sessions[0]) as Awaited<ReturnType<typeof echo>>;
    expect(result.messages).toBe(SIZES.length * 2);
    expect(result.reason.code).toBe(closeCode.normal);
  });

  it('reassembles fragmented messages (ws send with fin: false)', async () => {
    const server = track(await startServer(echo));
    const c = track(await wsClient(server.port));
    const next = inbox(c);
    c.send('frag-', { fin: false });
    c.send('men-', { fin: false });
    c.send('ted', { fin: true });
    const t = await next();
    expect([t.data.toString(), t.binary]).toEqual(['frag-men-ted', false]);
    c.send(Buffer.from([1, 2]), { binary: true, fin: false });
    c.send(Buffer.alloc(0), { binary: true, fin: false });
    c.send(Buffer.from([3]), { binary: true, fin: true });
    const b = await next();
    expect([[...b.data], b.binary]).toEqual([[1, 2, 3], true]);
    c.close();
    await closeEvent(c);
  });

  it('answers pings and sees pongs; its pings are answered by ws', async () => {
    const seen: [FrameType, string][] = [];
    const server = track(
      await startServer(
        async (ws) => {
          const first = readMessage(ws); // a read must be pending to see control frames
          await ws.asyncPing('server-ping');
          const m = await first; // 'after-ping', sent once ws saw our ping (its pong precedes it)
          expect(m.data.toString()).toBe('after-ping');
          return echo(ws);
        },
        (ws) => ws.controlCallback((kind, payload) => seen.push([kind, payload])),
      ),
    );
    const c = track(new WebSocket(`ws://127.0.0.1:${server.port}/`, { perMessageDeflate: false }));
    const pinged = once(c, 'ping');
    await once(c, 'open');
    const [pingPayload] = (await pinged) as [Buffer];
    expect(pingPayload.toString()).toBe('server-ping');
    c.send('after-ping');
    const pong = once(c, 'pong');
    c.ping('client-ping');
    const [pongPayload] = (await pong) as [Buffer];
    expect(pongPayload.toString()).toBe('client-ping');
    const closed = closeEvent(c);
    c.close(closeCode.normal);
    await closed;
    await server.sessions[0];
    expect(seen).toContainEqual(['pong', 'server-ping']);
    expect(seen).toContainEqual(['ping', 'client-ping']);
    expect(seen).toContainEqual(['close', '']);
  });

  it('ws close(code, reason) is seen by reason(); the code is echoed', async () => {
    const server = track(await startServer(echo));
    const c = track(await wsClient(server.port));
    const closed = closeEvent(c);
    c.close(4001, 'client says bye');
    expect((await closed).code).toBe(4001);
    const result = (await server.sessions[0]) as Awaited<ReturnType<typeof echo>>;
    expect(result.reason).toEqual({ code: 4001, reason: 'client says bye' });
  });

  it('our asyncClose({ code, reason }) reaches the ws close event', async () => {
    const server = track(
      await startServer(async (ws) => {
        await ws.asyncClose({ code: 4002, reason: 'server says bye' });
        return ws.reason();
      }),
    );
    const c = track(await wsClient(server.port));
    const ev = await closeEvent(c);
    expect(ev).toEqual({ code: 4002, reason: 'server says bye' });
    // asyncClose succeeded: both close frames crossed; ws echoed our code.
    expect(await server.sessions[0]).toMatchObject({ code: 4002 });
  });
});

describe('our client -> ws server', () => {
  async function wsServer(
    onConnection: (s: WebSocket) => void,
    options: WebSocket.ServerOptions = {},
  ): Promise<WebSocketServer> {
    const wss = track(
      new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, ...options }),
    );
    await once(wss, 'listening');
    wss.on('connection', onConnection);
    return wss;
  }
  const echoing = (s: WebSocket) => s.on('message', (d: RawData, binary: boolean) => s.send(d, { binary }));
  const portOf = (wss: WebSocketServer) => (wss.address() as { port: number }).port;

  it('exchanges text and binary of every size from 0 B to 16 MiB', async () => {
    const closes: Promise<{ code: number; reason: string }>[] = [];
    const wss = await wsServer((s) => {
      closes.push(closeEvent(s));
      echoing(s);
    });
    const ws = track(await connectClient(portOf(wss), '/interop'));
    for (const n of SIZES) {
      const text = textOf(n);
      ws.text(true);
      await ws.asyncWrite(text);
      const t = await readMessage(ws);
      expect(t.binary).toBe(false);
      expect(t.data.length).toBe(n);
      expect(t.data.toString('utf8') === text).toBe(true);
      const bin = bytesOf(n);
      ws.binary(true);
      await ws.asyncWrite(bin);
      const b = await readMessage(ws);
      expect(b.binary).toBe(true);
      expect(b.data.equals(bin)).toBe(true);
    }
    await ws.asyncClose(closeCode.normal);
    expect(ws.isOpen()).toBe(false);
    expect((await closes[0]).code).toBe(closeCode.normal);
  });

  it('fragmented messages both ways', async () => {
    const wss = await wsServer((s) => {
      s.once('message', (d: RawData, binary: boolean) => {
        s.send(toBuffer(d), { binary });
        s.send('x', { fin: false });
        s.send('y', { fin: false });
        s.send('z', { fin: true });
      });
    });
    const ws = track(await connectClient(portOf(wss)));
    ws.binary(true);
    await ws.asyncWriteSome(false, Buffer.from('abc'));
    await ws.asyncWriteSome(false, Buffer.alloc(0));
    await ws.asyncWriteSome(true, Buffer.from('def'));
    const echoed = await readMessage(ws);
    expect([echoed.data.toString(), echoed.binary]).toEqual(['abcdef', true]);
    const frag = await readMessage(ws);
    expect([frag.data.toString(), frag.binary]).toEqual(['xyz', false]);
    await ws.asyncClose(closeCode.normal);
  });

  it('pings both ways', async () => {
    const events: string[] = [];
    const wss = await wsServer((s) => {
      s.on('ping', (p: Buffer) => {
        events.push(`ws got ping ${p.toString()}`);
        s.ping('server-ping');
      });
      s.on('pong', (p: Buffer) => {
        events.push(`ws got pong ${p.toString()}`);
        s.send('pong-seen');
      });
    });
    const ws = track(await connectClient(portOf(wss)));
    const seen: [FrameType, string][] = [];
    ws.controlCallback((kind, payload) => seen.push([kind, payload]));
    const msg = readMessage(ws);
    await ws.asyncPing('client-ping');
    expect((await msg).data.toString()).toBe('pong-seen');
    expect(seen).toEqual([
      ['pong', 'client-ping'],
      ['ping', 'server-ping'],
    ]);
    expect(events).toEqual(['ws got ping client-ping', 'ws got pong server-ping']);
    await ws.asyncClose(closeCode.normal);
  });

  it('ws close(code, reason) ends our read with closed and reason()', async () => {
    let wsSide: Promise<{ code: number; reason: string }> | null = null;
    const wss = await wsServer((s) => {
      wsSide = closeEvent(s);
      s.close(4003, 'ws server says bye');
    });
    const ws = track(await connectClient(portOf(wss)));
    expect(await readUntilClosed(ws)).toBe('closed');
    expect(ws.reason()).toEqual({ code: 4003, reason: 'ws server says bye' });
    expect(ws.isOpen()).toBe(false);
    expect((await wsSide) ?? null).toMatchObject({ code: 4003 });
  });

  it('our asyncClose({ code, reason }) reaches the ws close event', async () => {
    let wsSide: Promise<{ code: number; reason: string }> | null = null;
    const wss = await wsServer((s) => {
      wsSide = closeEvent(s);
    });
    const ws = track(await connectClient(portOf(wss)));
    await ws.asyncClose({ code: 4004, reason: 'our client says bye' });
    expect(ws.reason().code).toBe(4004); // ws echoes the code
    expect(await wsSide).toEqual({ code: 4004, reason: 'our client says bye' });
  });
});

describe('ws with perMessageDeflate', () => {
  const sizes = [0, 1, 125, 126, 65535, 65536, 1 << 20];

  it('ws client with perMessageDeflate against our server', async () => {
    const server = track(
      await startServer(echo, (ws) => ws.setOption(new PermessageDeflate({ server: true }))),
    );
    const c = track(await wsClient(server.port, { perMessageDeflate: true }));
    expect(c.extensions).toContain('permessage-deflate');
    const next = inbox(c);
    for (const n of sizes) {
      const text = textOf(n);
      c.send(text);
      const t = await next();
      expect([t.data.toString() === text, t.binary]).toEqual([true, false]);
      const bin = bytesOf(n);
      c.send(bin);
      const b = await next();
      expect([b.data.equals(bin), b.binary]).toEqual([true, true]);
    }
    const closed = closeEvent(c);
    c.close(closeCode.normal);
    expect((await closed).code).toBe(closeCode.normal);
  });

  it('our client with deflate against a ws server with perMessageDeflate', async () => {
    const wss = track(
      new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: { threshold: 0 } }),
    );
    await once(wss, 'listening');
    const negotiated: string[] = [];
    wss.on('connection', (s) => {
      negotiated.push(s.extensions);
      s.on('message', (d: RawData, binary: boolean) => s.send(d, { binary }));
    });
    const port = (wss.address() as { port: number }).port;
    const ws = track(
      await connectClient(port, '/', (w) => w.setOption(new PermessageDeflate({ client: true }))),
    );
    for (const n of sizes) {
      const text = textOf(n);
      ws.text(true);
      await ws.asyncWrite(text);
      const t = await readMessage(ws);
      expect([t.data.toString() === text, t.binary]).toEqual([true, false]);
      const bin = bytesOf(n);
      ws.binary(true);
      await ws.asyncWrite(bin);
      const b = await readMessage(ws);
      expect([b.data.equals(bin), b.binary]).toEqual([true, true]);
    }
    expect(negotiated[0]).toContain('permessage-deflate');
    await ws.asyncClose(closeCode.normal);
  });
});
