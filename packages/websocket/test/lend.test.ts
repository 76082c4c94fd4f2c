/*
 * Reads over a stream that lends its bytes (TcpStream, a ChunkLender): the
 * frames are parsed in Node's own buffers, and bytes of a frame split
 * across buffers go through the stream's own read buffer. Real TCP, with a
 * raw client that cuts its bytes wherever the property says.
 */
import { connect, type Socket } from 'node:net';
import {
  asTuple,
  bindExecutor,
  type ErrorCode,
  error as netError,
  withAbortSignal,
} from '@tsio/completion-token';
import { defaultExecutor, makeStrand } from '@tsio/executor';
import { FlatBuffer, isChunkLender, lent, MultiBuffer, TcpStream } from '@tsio/net';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { Rng, validRequest } from '../../../bench/lib/fuzz-engine.mjs';
import { Opcode } from '../src/detail/rfc6455.js';
import { Stream, error as wsError } from '../src/index.js';
import { frame, KEY, loopbackServer } from './helpers.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

/** A server-side Stream over TcpStream, not yet accepted, and the raw client socket connected to it. */
async function connectedPair(): Promise<{ ws: Stream<TcpStream>; raw: Socket }> {
  let onStream: (ws: Stream<TcpStream>) => void = () => {};
  const got = new Promise<Stream<TcpStream>>((r) => (onStream = r));
  const port = await loopbackServer((s) => {
    const tcp = new TcpStream(s);
    cleanups.push(() => tcp.close());
    onStream(new Stream(tcp));
  }, cleanups);
  const raw = await new Promise<Socket>((resolve) => {
    const s = connect({ host: '127.0.0.1', port }, () => resolve(s));
    s.on('error', () => {});
  });
  raw.setNoDelay(true);
  cleanups.push(() => raw.destroy());
  return { ws: await got, raw };
}

/** A server-side Stream over TcpStream, accepted, and the raw client socket past the 101 response. */
async function acceptedPair(): Promise<{ ws: Stream<TcpStream>; raw: Socket }> {
  const { ws, raw } = await connectedPair();
  const head = new Promise<void>((resolve) => {
    let acc = '';
    const onData = (d: Buffer) => {
      acc += d.toString('latin1');
      if (acc.includes('\r\n\r\n')) {
        raw.off('data', onData);
        resolve();
      }
    };
    raw.on('data', onData);
  });
  const accepted = new Promise<ErrorCode | null>((r) => ws.asyncAccept((ec: ErrorCode | null) => r(ec)));
  raw.write(validRequest(new Rng(7)));
  expect(await accepted).toBeNull();
  await head;
  return { ws, raw };
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What the stream's socket holds as its first pending read (white box: an operation, a handler or a receiver). */
const pendingReadOf = (ws: Stream<TcpStream>): unknown =>
  (ws.nextLayer() as unknown as { io: { read: unknown } }).io.read;

/**
 * Writes `wire` from the raw client cut at `cuts` (taken modulo its length,
 * each cut once, in order), the pieces apart in time so that they usually
 * arrive as separate chunks. Resolves when the last piece is written.
 */
async function sendCut(raw: Socket, wire: Buffer, cuts: readonly number[]): Promise<void> {
  const points = [...new Set(cuts.map((c) => c % (wire.length + 1)))].sort((x, y) => x - y);
  let from = 0;
  for (const at of [...points, wire.length]) {
    if (at > from) raw.write(wire.subarray(from, at));
    from = at;
    await pause(2);
  }
}

describe('reading frames lent by the next layer (TCP)', () => {
  it('messages cut at arbitrary points arrive whole and in order; an idle stream keeps no read buffer', async () => {
    const { ws, raw } = await acceptedPair();
    expect(isChunkLender(ws.nextLayer())).toBe(true);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ maxLength: 3000 }), { minLength: 1, maxLength: 5 }),
        fc.array(fc.nat(), { maxLength: 5 }),
        fc.boolean(),
        async (payloads, cuts, withPing) => {
          const frames = payloads.map((p, i) =>
            frame({ opcode: Opcode.binary, payload: p, mask: i % 2 ? KEY : Uint8Array.of(9, 8, 7, 6) }),
          );
          // A ping before the last message: handled inside its read, answered with a pong.
          if (withPing)
            frames.splice(frames.length - 1, 0, frame({ opcode: Opcode.ping, payload: 'p', mask: KEY }));
          const sending = sendCut(raw, Buffer.concat(frames), cuts);
          for (const p of payloads) {
            const buffer = new FlatBuffer();
            const n = await ws.asyncRead(buffer);
            expect(n).toBe(p.length);
            expect(Buffer.from(buffer.data() as Uint8Array).equals(Buffer.from(p))).toBe(true);
          }
          await sending;
          // Everything sent was read: the stream holds no buffer of its own or of Node's.
          expect(ws.impl.rdEnd - ws.impl.rdPos).toBe(0);
          expect(ws.impl.rdBuf.length).toBe(0);
        },
      ),
      { numRuns: 25 },
    );
  });

  it('large payloads are unmasked from the lent chunks into the caller buffer, whatever the cuts and the buffer kind', async () => {
    // Past 16 KiB a payload goes from Node's chunks straight into the caller's
    // buffer (no read buffer in between), unmasked on the way: the key phase
    // must carry across chunks cut anywhere, and text is validated across them.
    const { ws, raw } = await acceptedPair();
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 16 * 1024, max: 200 * 1024 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        fc.constantFrom('flat', 'multi', 'fixed', 'text'),
        fc.integer({ min: 0, max: 255 }),
        async (size, cuts, kind, seed) => {
          // Text: a 3-byte character repeated, so that most cuts fall inside one.
          const payload =
            kind === 'text'
              ? Buffer.from('\u20ac'.repeat(Math.ceil(size / 3))).subarray(0, size - (size % 3))
              : Buffer.from(Array.from({ length: size }, (_, i) => (i * 31 + seed) & 0xff));
          const key = Uint8Array.of(seed, 0x5a, 0xa5, 0xff - seed);
          const wire = frame({ opcode: kind === 'text' ? Opcode.text : Opcode.binary, payload, mask: key });
          const sending = sendCut(raw, wire, cuts);
          let got: Buffer;
          if (kind === 'fixed') {
            // readSome into a fixed buffer: pieces until the message is done (bounded).
            const out = Buffer.alloc(payload.length);
            let at = 0;
            for (let i = 0; i < 1000 && !(i > 0 && ws.isMessageDone()); i++)
              at += await ws.asyncReadSome(out.subarray(at));
            expect(at).toBe(payload.length);
            got = out;
          } else {
            const buffer = kind === 'multi' ? new MultiBuffer() : new FlatBuffer();
            expect(await ws.asyncRead(buffer)).toBe(payload.length);
            got = Buffer.concat([buffer.data()].flat() as Uint8Array[]);
          }
          expect(got.equals(payload)).toBe(true);
          await sending;
          expect(ws.impl.rdEnd - ws.impl.rdPos).toBe(0);
        },
      ),
      { numRuns: 30 },
    );
  });

  it('a large message that does not fit the dynamic buffer fails with bufferOverflow after filling what fits, then reads on', async () => {
    // Beast: a whole-message read that does not fit fails with buffer_overflow;
    // the message is not done, and the rest of it is still readable.
    const { ws, raw } = await acceptedPair();
    const payload = Buffer.from(Array.from({ length: 100_000 }, (_, i) => (i * 7) & 0xff));
    raw.write(frame({ opcode: Opcode.binary, payload, mask: KEY }));
    const small = new FlatBuffer(40_000);
    const [ec, n] = await new Promise<[ErrorCode | null, number]>((resolve) =>
      ws.asyncRead(small, (e: ErrorCode | null, k: number) => resolve([e, k])),
    );
    expect(String(ec)).toBe(String(wsError.bufferOverflow));
    expect(n).toBe(40_000);
    expect(Buffer.from(small.data() as Uint8Array).equals(payload.subarray(0, 40_000))).toBe(true);
    expect(ws.isMessageDone()).toBe(false);
    const rest = new FlatBuffer();
    expect(await ws.asyncRead(rest)).toBe(60_000);
    expect(Buffer.from(rest.data() as Uint8Array).equals(payload.subarray(40_000))).toBe(true);
  });

  it('several frames in one chunk are each read from it; a frame split over chunks is reassembled', async () => {
    const { ws, raw } = await acceptedPair();
    const a = frame({ opcode: Opcode.text, payload: 'first', mask: KEY });
    const b = frame({ opcode: Opcode.text, payload: 'second', mask: KEY });
    const c = frame({ opcode: Opcode.text, payload: 'x'.repeat(300), mask: KEY });
    // a, b and the first 10 bytes of c in one write; the rest of c later.
    raw.write(Buffer.concat([a, b, c.subarray(0, 10)]));
    const texts: string[] = [];
    for (let i = 0; i < 2; i++) {
      const buffer = new FlatBuffer();
      await ws.asyncRead(buffer);
      texts.push(Buffer.from(buffer.data() as Uint8Array).toString());
    }
    const third = new FlatBuffer();
    const reading = ws.asyncRead(third);
    await pause(20);
    raw.write(c.subarray(10));
    await reading;
    texts.push(Buffer.from(third.data() as Uint8Array).toString());
    expect(texts).toEqual(['first', 'second', 'x'.repeat(300)]);
    expect(ws.impl.rdBuf.length).toBe(0);
  });

  it('no read buffer is kept between a handshake and the first read, either role; bytes after the head wait for it', async () => {
    // Server: accepted, not yet read from.
    const { ws, raw } = await acceptedPair();
    expect(ws.impl.rdBuf.length).toBe(0);
    raw.write(frame({ opcode: Opcode.text, payload: 'after', mask: KEY }));
    const buffer = new FlatBuffer();
    expect(await ws.asyncRead(buffer)).toBe(5);

    // Server: a frame sent in the same write as the request head is kept for the first read.
    const { ws: server, raw: raw2 } = await connectedPair();
    const accepted = server.asyncAccept();
    raw2.write(
      Buffer.concat([
        Buffer.from(validRequest(new Rng(3))),
        frame({ opcode: Opcode.text, payload: 'early', mask: KEY }),
      ]),
    );
    await accepted;
    const early = new FlatBuffer();
    expect(await server.asyncRead(early)).toBe(5);
    expect(Buffer.from(early.data() as Uint8Array).toString()).toBe('early');

    // Client: after its handshake with a tsio server over TCP.
    const port3 = await loopbackServer((s) => {
      const tcp = new TcpStream(s);
      cleanups.push(() => tcp.close());
      void new Stream(tcp).asyncAccept();
    }, cleanups);
    const sock = await new Promise<Socket>((resolve) => {
      const s = connect({ host: '127.0.0.1', port: port3 }, () => resolve(s));
      s.on('error', () => {});
    });
    const client = new Stream(new TcpStream(sock));
    cleanups.push(() => client.nextLayer().close());
    await client.asyncHandshake('127.0.0.1', '/');
    expect(client.impl.rdBuf.length).toBe(0);
  });

  it('a waiting read is held by the socket as the read operation itself (no bound handler per connection)', async () => {
    const { ws, raw } = await acceptedPair();
    const pendingRead = () => pendingReadOf(ws);
    const buffer = new FlatBuffer();
    const done = ws.asyncRead(buffer);
    await pause(10);
    const held = pendingRead() as { [lent]?: unknown } | null;
    expect(typeof held).toBe('object');
    expect(typeof held?.[lent]).toBe('function');
    raw.write(frame({ opcode: Opcode.binary, payload: 'abc', mask: KEY }));
    expect(await done).toBe(3);
    expect(buffer.toString()).toBe('abc');
  });

  it('reads whose handlers have an executor or a slot of their own lend through a bound handler: a strand, an AbortSignal', async () => {
    const { ws, raw } = await acceptedPair();
    const pendingRead = () => pendingReadOf(ws);
    const strand = makeStrand(defaultExecutor());
    const buffer = new FlatBuffer();
    const inStrand = new Promise<[ErrorCode | null, boolean, string]>((resolve) =>
      ws.asyncRead(
        buffer,
        bindExecutor(strand, (ec: ErrorCode | null) =>
          resolve([ec, strand.runningInThisThread(), buffer.toString()]),
        ),
      ),
    );
    await pause(10);
    // Not the read operation: a socket operation whose handler hops to the strand.
    expect((pendingRead() as { [lent]?: unknown })[lent]).toBeUndefined();
    raw.write(frame({ opcode: Opcode.text, payload: 'in strand', mask: KEY }));
    expect(await inStrand).toEqual([null, true, 'in strand']);
    // A slot: the lending read is cancelled through it, and the stream reads on.
    const ctrl = new AbortController();
    const aborted = ws.asyncRead(new FlatBuffer(), withAbortSignal(ctrl.signal, asTuple()));
    await pause(10);
    ctrl.abort();
    const [ec] = await aborted;
    expect(ec).toBe(netError.operationAborted);
  });

  it('writes taken at once by the socket still complete never inline, exactly once, in order', async () => {
    const { ws, raw } = await acceptedPair();
    const got: Buffer[] = [];
    raw.on('data', (d: Buffer) => got.push(d));
    const order: number[] = [];
    let returned = false;
    let inline = false;
    const writes = [0, 1, 2].map(
      (i) =>
        new Promise<void>((resolve) => {
          const onDone = (ec: ErrorCode | null, n: number) => {
            inline ||= !returned;
            expect(ec).toBeNull();
            expect(n).toBe(1);
            order.push(i);
            resolve();
          };
          if (i === 0) ws.asyncWrite(Buffer.from('a'), onDone);
          else setImmediate(() => ws.asyncWrite(Buffer.from(String.fromCharCode(97 + i)), onDone));
        }),
    );
    returned = true;
    await Promise.all(writes);
    expect(inline).toBe(false);
    expect(order).toEqual([0, 1, 2]);
    await pause(20);
    // Three unmasked text frames: 81 01 'a', 81 01 'b', 81 01 'c'.
    expect(Buffer.concat(got).toString('hex')).toBe('810161810162810163');
  });
});
