/*
 * Security protections over real TCP (issue 9). Each test proves its
 * protection triggers: it would fail if the protection were removed.
 */
import { connect, type Socket } from 'node:net';
import type { ErrorCode } from '@tsio/completion-token';
import { beastError, FlatBuffer, TcpStream } from '@tsio/net';
import { afterEach, describe, expect, it } from 'vitest';
import { Rng, validRequest } from '../../../bench/lib/fuzz-engine.mjs';
import { RequestType } from '../src/detail/handshake.js';
import { ownOpts } from '../src/impl.js';
import { error, RequestFilter, Stream, Timeout } from '../src/index.js';
import { loopbackServer } from './helpers.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

interface Accepted {
  ws: Stream<TcpStream>;
  tcp: TcpStream;
  raw: Socket;
  /** Everything the raw client received, once the server closed the connection. */
  received: Promise<string>;
}

/** A raw client connected to a server-side Stream over TcpStream; `prepare` configures the stream. */
async function pair(prepare: (ws: Stream<TcpStream>) => void = () => {}): Promise<Accepted> {
  let onStream: (ws: Stream<TcpStream>, tcp: TcpStream) => void = () => {};
  const got = new Promise<[Stream<TcpStream>, TcpStream]>((r) => (onStream = (ws, tcp) => r([ws, tcp])));
  const port = await loopbackServer((s) => {
    const tcp = new TcpStream(s);
    const ws = new Stream(tcp);
    prepare(ws);
    cleanups.push(() => tcp.close());
    onStream(ws, tcp);
  }, cleanups);
  const raw = await new Promise<Socket>((resolve) => {
    const s = connect({ host: '127.0.0.1', port }, () => resolve(s));
    s.on('error', () => {});
  });
  cleanups.push(() => raw.destroy());
  const received = new Promise<string>((resolve) => {
    let acc = '';
    raw.on('data', (d: Buffer) => (acc += d.toString('latin1')));
    raw.on('close', () => resolve(acc));
  });
  const [ws, tcp] = await got;
  return { ws, tcp, raw, received };
}

function acceptResult(ws: Stream<TcpStream>): Promise<ErrorCode | null> {
  return new Promise((resolve) => ws.asyncAccept((ec: ErrorCode | null) => resolve(ec)));
}

/** A valid upgrade request with extra header lines inserted after the request line. */
function requestWith(extra: string): Buffer {
  const text = validRequest(new Rng(3)).toString('latin1');
  const i = text.indexOf('\r\n') + 2;
  return Buffer.from(text.slice(0, i) + extra + text.slice(i), 'latin1');
}

describe('handshake limits over TCP', () => {
  it('a head over the 8 KiB limit gets 400 and asyncAccept completes with headerLimit', async () => {
    const { ws, tcp, raw, received } = await pair();
    const result = acceptResult(ws);
    raw.write(requestWith(`X-Big: ${'a'.repeat(9000)}\r\n`));
    const ec = await result;
    expect(ec).toBe(error.headerLimit);
    expect(ws.isOpen()).toBe(false);
    tcp.close();
    expect(await received).toMatch(/^HTTP\/1\.1 400 /);
  });

  it('the same head is accepted when the limit is raised (the limit is what refused it)', async () => {
    const { ws, raw } = await pair((s) => {
      ownOpts(s.impl).handshakeHeadLimit = 16 * 1024;
    });
    const result = acceptResult(ws);
    raw.write(requestWith(`X-Big: ${'a'.repeat(9000)}\r\n`));
    expect(await result).toBeNull();
  });

  it('more than 100 header fields get 400 and asyncAccept completes with tooManyFields', async () => {
    const { ws, tcp, raw, received } = await pair();
    const result = acceptResult(ws);
    let extra = '';
    for (let i = 0; i < 150; i++) extra += `X-F${i}: v\r\n`;
    raw.write(requestWith(extra));
    expect(await result).toBe(error.tooManyFields);
    tcp.close();
    expect(await received).toMatch(/^HTTP\/1\.1 400 /);
  });
});

describe('header names and prototype pollution', () => {
  it('__proto__, constructor and prototype headers are ordinary fields; Object.prototype is untouched', async () => {
    const before = Object.getOwnPropertyNames(Object.prototype).sort();
    let seen: RequestType | null = null;
    const { ws, raw } = await pair((s) => {
      s.setOption(
        new RequestFilter((req) => {
          seen = req;
          return null;
        }),
      );
    });
    const result = acceptResult(ws);
    raw.write(
      requestWith(
        '__proto__: {"polluted":true}\r\nconstructor: c\r\nprototype: p\r\nhasOwnProperty: h\r\n__PROTO__: again\r\n',
      ),
    );
    expect(await result).toBeNull();
    const req = seen as unknown as RequestType;
    expect(req.get('__proto__')).toBe('{"polluted":true}, again');
    expect(req.get('constructor')).toBe('c');
    expect(req.get('prototype')).toBe('p');
    expect(req.get('hasOwnProperty')).toBe('h');
    // A request without those fields does not see inherited properties.
    const empty = new RequestType();
    expect(empty.get('constructor')).toBeUndefined();
    expect(empty.get('__proto__')).toBeUndefined();
    expect(empty.get('toString')).toBeUndefined();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(before);
  });
});

describe('refusal hook (Origin / authentication) before upgrading', () => {
  for (const status of [401, 403]) {
    it(`refuses with ${status}: no 101, asyncAccept completes with upgradeDeclined`, async () => {
      const { ws, tcp, raw, received } = await pair((s) => {
        s.setOption(
          new RequestFilter((req) =>
            req.get('Origin') === 'https://good.example'
              ? null
              : { status, reason: status === 401 ? 'Unauthorized' : 'Forbidden' },
          ),
        );
      });
      const result = acceptResult(ws);
      raw.write(requestWith('Origin: https://evil.example\r\n'));
      expect(await result).toBe(error.upgradeDeclined);
      expect(ws.isOpen()).toBe(false);
      tcp.close();
      const text = await received;
      expect(text.startsWith(`HTTP/1.1 ${status} `)).toBe(true);
      expect(text).not.toContain('101');
    });
  }

  it('the same hook lets an allowed Origin through', async () => {
    const { ws, raw } = await pair((s) => {
      s.setOption(
        new RequestFilter((req) =>
          req.get('Origin') === 'https://good.example' ? null : { status: 403, reason: 'Forbidden' },
        ),
      );
    });
    const result = acceptResult(ws);
    raw.write(requestWith('Origin: https://good.example\r\n'));
    expect(await result).toBeNull();
    expect(ws.isOpen()).toBe(true);
  });
});

describe('slow-loris handshake', () => {
  it('a client trickling its request byte by byte is cut off by handshakeTimeout', async () => {
    const { ws, raw, received } = await pair((s) => s.setOption(new Timeout(300)));
    const result = acceptResult(ws);
    const req = validRequest(new Rng(4));
    let i = 0;
    let done = false;
    const trickle = setInterval(() => {
      if (done || raw.destroyed || i >= req.length - 1) return;
      raw.write(req.subarray(i, i + 1));
      i++;
    }, 20);
    cleanups.push(() => clearInterval(trickle));
    const ec = await result;
    done = true;
    expect(ec).toBe(beastError.timeout);
    expect(ws.isOpen()).toBe(false);
    // The server closed the TCP connection.
    await received;
    expect(i).toBeLessThan(req.length - 1);
  });
});

describe('a peer that never reads', () => {
  it('writes apply backpressure: a write stays pending and the server holds a bounded amount', async () => {
    const { ws, tcp, raw } = await pair();
    const result = acceptResult(ws);
    raw.write(validRequest(new Rng(5)));
    expect(await result).toBeNull();
    raw.pause(); // never reads again
    ws.binary(true);
    const message = Buffer.alloc(256 * 1024, 0x5a);
    let written = 0;
    let pending = false;
    // Write until a write stays pending; bounded: 64 MiB would be far beyond the socket buffers.
    for (let i = 0; i < 256; i++) {
      pending = true;
      const done = new Promise<ErrorCode | null>((r) =>
        ws.asyncWrite(message, (ec: ErrorCode | null) => r(ec)),
      );
      const outcome = await Promise.race([
        done,
        new Promise<'pending'>((r) => setTimeout(() => r('pending'), 200)),
      ]);
      if (outcome === 'pending') break;
      expect(outcome).toBeNull();
      pending = false;
      written += message.length;
    }
    expect(pending).toBe(true);
    // What the server holds for this connection: the socket's queue (the
    // pending write's bytes are the caller's, not copied) — bounded by one
    // message plus the high-water mark, not by what the application wrote.
    const sock = tcp.socket();
    expect(sock.writableLength).toBeLessThanOrEqual(message.length + sock.writableHighWaterMark + 64 * 1024);
    expect(written).toBeLessThan(64 * 1024 * 1024);
  });

  it('the expiry fails the connection: the pending write completes with timeout and the stream is closed', async () => {
    const { ws, tcp, raw } = await pair();
    const result = acceptResult(ws);
    raw.write(validRequest(new Rng(6)));
    expect(await result).toBeNull();
    raw.pause();
    ws.binary(true);
    const big = Buffer.alloc(16 * 1024 * 1024, 1);
    tcp.expiresAfter(300);
    const ec = await new Promise<ErrorCode | null>((r) => ws.asyncWrite(big, (e: ErrorCode | null) => r(e)));
    expect(ec).toBe(beastError.timeout);
    expect(ws.isOpen()).toBe(false);
    expect(tcp.isOpen()).toBe(false);
    const after = await new Promise<ErrorCode | null>((r) =>
      ws.asyncRead(new FlatBuffer(), (e: ErrorCode | null) => r(e)),
    );
    expect(after).not.toBeNull();
  });
});
