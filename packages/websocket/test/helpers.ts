/*
 * Shared helpers of the websocket stream tests: a raw TestStream peer that
 * writes hand-built frames and reads what the stream under test sends, a
 * completion tracker that counts handler calls, and a bounded "let the
 * executor run" wait (no timing involved: a fixed number of event-loop turns).
 */
import { createServer, type Socket } from 'node:net';
import { type ErrorCode, error as netError } from '@tsio/completion-token';
import { FailCount, TestStream, type TestStreamOptions } from '@tsio/net';
import { PermessageDeflate, Stream } from '../src/index.js';

/** Lets posted handlers and chained I/O run: a fixed number of macrotask turns. */
export async function settle(turns = 20): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((r) => setImmediate(r));
}

/** A completion handler that records every call; `result` resolves on the first one. */
export interface Tracked<A extends unknown[]> {
  handler: (ec: ErrorCode | null, ...args: A) => void;
  result: Promise<[ErrorCode | null, ...A]>;
  calls(): number;
}

export function track<A extends unknown[] = []>(): Tracked<A> {
  let calls = 0;
  let resolve: (v: [ErrorCode | null, ...A]) => void = () => undefined;
  const result = new Promise<[ErrorCode | null, ...A]>((r) => {
    resolve = r;
  });
  return {
    handler: (ec: ErrorCode | null, ...args: A) => {
      calls++;
      resolve([ec, ...args]);
    },
    result,
    calls: () => calls,
  };
}

/** The error a rejected promise carries (`SystemError.code`), or null when it resolved. */
export async function codeOf(p: Promise<unknown>): Promise<ErrorCode | null> {
  try {
    await p;
    return null;
  } catch (e) {
    return (e as { code: ErrorCode }).code;
  }
}

export interface FrameSpec {
  fin?: boolean;
  /** RSV bits as 0..7 (RSV1 = 4, RSV2 = 2, RSV3 = 1). */
  rsv?: number;
  opcode: number;
  payload?: Uint8Array | string;
  /** Mask with this key (a client's frame); omitted: unmasked. */
  mask?: Uint8Array | undefined;
  /** Length encoding to use: minimal by default; 16 or 64 forces the extended form. */
  lenBits?: 7 | 16 | 64;
  /** Claim this payload length in the header instead of the real one. */
  claimLen?: number;
}

export const KEY = Uint8Array.from([0x37, 0xfa, 0x21, 0x3d]);

/** Builds one frame byte by byte (independent of the code under test). */
export function frame(spec: FrameSpec): Buffer {
  const payload =
    typeof spec.payload === 'string'
      ? Buffer.from(spec.payload, 'utf8')
      : (spec.payload ?? new Uint8Array(0));
  const len = spec.claimLen ?? payload.length;
  const bits = spec.lenBits ?? (len < 126 ? 7 : len < 0x10000 ? 16 : 64);
  const head: number[] = [((spec.fin ?? true) ? 0x80 : 0) | ((spec.rsv ?? 0) << 4) | spec.opcode];
  const m = spec.mask ? 0x80 : 0;
  if (bits === 7) head.push(m | len);
  else if (bits === 16) head.push(m | 126, (len >> 8) & 0xff, len & 0xff);
  else {
    head.push(m | 127);
    const hi = Math.floor(len / 2 ** 32);
    for (const v of [hi, len >>> 0])
      head.push((v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
  }
  const body = Buffer.from(payload);
  if (spec.mask) {
    head.push(...spec.mask);
    for (let i = 0; i < body.length; i++) body[i] = (body[i] as number) ^ (spec.mask[i % 4] as number);
  }
  return Buffer.concat([Buffer.from(head), body]);
}

/** A parsed frame read back from the wire (unmasked). */
export interface WireFrame {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  payload: Buffer;
  /** The exact bytes of the frame on the wire. */
  raw: Buffer;
}

/** Splits wire bytes into frames; `rest` is an incomplete tail. */
export function parseFrames(bytes: Uint8Array): { frames: WireFrame[]; rest: Buffer } {
  const b = Buffer.from(bytes);
  const frames: WireFrame[] = [];
  let o = 0;
  for (;;) {
    if (b.length - o < 2) break;
    const b0 = b[o] as number;
    const b1 = b[o + 1] as number;
    let len = b1 & 0x7f;
    let h = 2;
    if (len === 126) {
      if (b.length - o < 4) break;
      len = b.readUInt16BE(o + 2);
      h = 4;
    } else if (len === 127) {
      if (b.length - o < 10) break;
      len = Number(b.readBigUInt64BE(o + 2));
      h = 10;
    }
    const masked = (b1 & 0x80) !== 0;
    if (masked) h += 4;
    if (b.length - o < h + len) break;
    const payload = Buffer.from(b.subarray(o + h, o + h + len));
    if (masked) {
      const key = b.subarray(o + h - 4, o + h);
      for (let i = 0; i < len; i++) payload[i] = (payload[i] as number) ^ (key[i % 4] as number);
    }
    frames.push({
      fin: (b0 & 0x80) !== 0,
      rsv: (b0 >> 4) & 7,
      opcode: b0 & 0x0f,
      masked,
      payload,
      raw: Buffer.from(b.subarray(o, o + h + len)),
    });
    o += h + len;
  }
  return { frames, rest: Buffer.from(b.subarray(o)) };
}

/** The code of a close frame's payload (0 when empty). */
export function closeCodeOf(f: WireFrame): number {
  return f.payload.length >= 2 ? f.payload.readUInt16BE(0) : 0;
}

/** Reads once from a raw TestStream. */
export function readOnce(raw: TestStream, size = 65536): Promise<[ErrorCode | null, Buffer]> {
  const buf = Buffer.alloc(size);
  return new Promise((resolve) => {
    raw.readSome(buf, (ec: ErrorCode | null, n: number) => resolve([ec, buf.subarray(0, n)]));
  });
}

/**
 * Reads everything a raw peer receives until EOF (bounded by `maxReads`).
 * With `shutdownOnClose`, the peer shuts down its sending side once a whole
 * close frame has arrived (so a server under test can finish its teardown).
 */
export async function drainPeer(
  raw: TestStream,
  opts: { shutdownOnClose?: boolean; maxReads?: number } = {},
): Promise<{ bytes: Buffer; eof: boolean; ec: ErrorCode | null }> {
  const chunks: Buffer[] = [];
  let shut = false;
  for (let i = 0; i < (opts.maxReads ?? 100_000); i++) {
    const [ec, data] = await readOnce(raw);
    if (ec) return { bytes: Buffer.concat(chunks), eof: ec === netError.eof, ec };
    chunks.push(Buffer.from(data));
    if (opts.shutdownOnClose && !shut) {
      const { frames } = parseFrames(Buffer.concat(chunks));
      if (frames.some((f) => f.opcode === 8)) {
        shut = true;
        raw.shutdownSend();
      }
    }
  }
  throw new Error('drainPeer: too many reads');
}

export type Side = 'client' | 'server';

/** A stream under test on one end of a TestStream pair, and the raw peer on the other. */
export interface UnderTest {
  ws: Stream<TestStream>;
  /** The TestStream of the peer, used raw after the opening handshake. */
  raw: TestStream;
  /** The TestStream under `ws`. */
  own: TestStream;
  /** The peer's websocket object (only used for the opening handshake). */
  peerWs: Stream<TestStream>;
  /** True when frames the peer sends must be masked (the stream under test is a server). */
  peerMasks: boolean;
}

/** Opens a connection with real streams, then hands out the stream under test and its peer's raw TestStream. */
export async function underTest(side: Side, options: TestStreamOptions = {}): Promise<UnderTest> {
  const [a, b] = TestStream.pair(undefined, options);
  const client = new Stream(a);
  const server = new Stream(b);
  await Promise.all([server.asyncAccept(), client.asyncHandshake('localhost', '/')]);
  return side === 'server'
    ? { ws: server, raw: a, own: b, peerWs: client, peerMasks: true }
    : { ws: client, raw: b, own: a, peerWs: server, peerMasks: false };
}

/**
 * Reads one message through `piece` (asyncReadSome into a small fixed
 * buffer) until the message is done, at most `maxReads` reads; resolves with
 * the bytes in order.
 */
export async function readInPieces(
  ws: Pick<Stream<TestStream>, 'asyncReadSome' | 'isMessageDone'>,
  piece: Uint8Array,
  maxReads: number,
): Promise<Buffer> {
  const got: Buffer[] = [];
  for (let i = 0; i < maxReads && !(got.length > 0 && ws.isMessageDone()); i++) {
    const n = await ws.asyncReadSome(piece);
    got.push(Buffer.from(piece.subarray(0, n)));
  }
  return Buffer.concat(got);
}

/** Two connected, opened streams. */
export async function openPair(options: TestStreamOptions = {}) {
  const [a, b] = TestStream.pair(undefined, options);
  const client = new Stream(a);
  const server = new Stream(b);
  await Promise.all([server.asyncAccept(), client.asyncHandshake('localhost', '/chat')]);
  return { client, server, a, b };
}

/** Two connected, opened streams that negotiated permessage-deflate (default parameters). */
export async function openDeflatePair() {
  const [a, b] = TestStream.pair();
  const client = new Stream(a);
  const server = new Stream(b);
  client.setOption(new PermessageDeflate({ client: true }));
  server.setOption(new PermessageDeflate({ server: true }));
  await Promise.all([server.asyncAccept(), client.asyncHandshake('localhost', '/')]);
  return { client, server, a, b };
}

/**
 * A fail count that counts nothing until `arm()`: the connection can be set
 * up first, then the n-th operation of the step under test fails.
 */
export class ArmedFailCount extends FailCount {
  private armed = false;

  arm(): void {
    this.armed = true;
  }

  override fail(): ErrorCode | null {
    return this.armed ? super.fail() : null;
  }
}

/**
 * A loopback server (paused sockets, half-open allowed) that hands each
 * accepted socket to `onSocket`; resolves with its port. `cleanups` gets
 * the server's close.
 */
export async function loopbackServer(
  onSocket: (s: Socket) => void,
  cleanups: (() => void)[],
): Promise<number> {
  const server = createServer({ allowHalfOpen: true, pauseOnConnect: true }, onSocket);
  cleanups.push(() => server.close());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const a = server.address();
  return typeof a === 'object' && a ? a.port : 0;
}
