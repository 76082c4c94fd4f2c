/*
 * Protocol strictness (RFC 6455 §5–§7), from both sides: a raw TestStream
 * peer writes hand-built frames to a stream under test, and each case checks
 * (a) the read's error and condition, (b) the exact close frame on the wire,
 * (c) the teardown (the peer reads EOF, `isOpen()` is false) and (d) that the
 * read completed exactly once.
 */
import { type ErrorCode, error as netError } from '@tsio/completion-token';
import { FlatBuffer } from '@tsio/net';
import { describe, expect, it } from 'vitest';
import { condition, error, type Stream } from '../src/index.js';
import {
  closeCodeOf,
  drainPeer,
  type FrameSpec,
  frame,
  KEY,
  parseFrames,
  type Side,
  settle,
  track,
  underTest,
} from './helpers.js';

interface Case {
  name: string;
  /** Frames (or raw bytes) the peer sends; `mask` is the key a correct peer would use. */
  bytes(mask: Uint8Array | undefined): Buffer;
  error: ErrorCode;
  code: number;
  sides?: Side[];
  configure?(ws: Stream): void;
}

const f = (mask: Uint8Array | undefined, spec: Omit<FrameSpec, 'mask'>) => frame({ ...spec, mask });
const closePayload = (code: number, reason: Uint8Array = new Uint8Array(0)) => {
  const b = Buffer.alloc(2 + reason.length);
  b.writeUInt16BE(code, 0);
  b.set(reason, 2);
  return b;
};

const cases: Case[] = [
  {
    name: 'server rejects an unmasked frame',
    sides: ['server'],
    bytes: () => frame({ opcode: 1, payload: 'hi' }),
    error: error.badUnmaskedFrame,
    code: 1002,
  },
  {
    name: 'client rejects a masked frame',
    sides: ['client'],
    bytes: () => frame({ opcode: 1, payload: 'hi', mask: KEY }),
    error: error.badMaskedFrame,
    code: 1002,
  },
  ...[4, 2, 1, 7].map(
    (rsv): Case => ({
      name: `RSV bits ${rsv.toString(2).padStart(3, '0')} without an extension`,
      bytes: (m) => f(m, { opcode: 1, rsv, payload: 'x' }),
      error: error.badReservedBits,
      code: 1002,
    }),
  ),
  {
    name: 'RSV1 on a control frame',
    bytes: (m) => f(m, { opcode: 9, rsv: 4 }),
    error: error.badReservedBits,
    code: 1002,
  },
  ...[3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf].map(
    (opcode): Case => ({
      name: `reserved opcode 0x${opcode.toString(16)}`,
      bytes: (m) => f(m, { opcode, payload: 'x' }),
      error: error.badOpcode,
      code: 1002,
    }),
  ),
  ...[8, 9, 10].map(
    (opcode): Case => ({
      name: `fragmented control frame 0x${opcode.toString(16)}`,
      bytes: (m) => f(m, { opcode, fin: false }),
      error: error.badControlFragment,
      code: 1002,
    }),
  ),
  {
    name: 'ping of 126 bytes',
    bytes: (m) => f(m, { opcode: 9, payload: Buffer.alloc(126, 0x61) }),
    error: error.badControlSize,
    code: 1002,
  },
  {
    name: 'pong with a 64-bit length',
    bytes: (m) => f(m, { opcode: 10, payload: Buffer.alloc(3), lenBits: 64 }),
    error: error.badControlSize,
    code: 1002,
  },
  {
    name: 'continuation without a started message',
    bytes: (m) => f(m, { opcode: 0, payload: 'x' }),
    error: error.badContinuation,
    code: 1002,
  },
  {
    name: 'continuation after a finished message',
    bytes: (m) => Buffer.concat([f(m, { opcode: 1, payload: 'a' }), f(m, { opcode: 0, payload: 'b' })]),
    error: error.badContinuation,
    code: 1002,
    // The first (valid) message completes the first read; the test reads again.
  },
  {
    name: 'new data frame inside a fragmented message',
    bytes: (m) =>
      Buffer.concat([f(m, { opcode: 1, fin: false, payload: 'a' }), f(m, { opcode: 2, payload: 'b' })]),
    error: error.badDataFrame,
    code: 1002,
  },
  {
    name: 'close payload of 1 byte',
    bytes: (m) => f(m, { opcode: 8, payload: Buffer.from([0x03]) }),
    error: error.badCloseSize,
    code: 1002,
  },
  ...[0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535].map(
    (code): Case => ({
      name: `close code ${code} that may not be sent`,
      bytes: (m) => f(m, { opcode: 8, payload: closePayload(code) }),
      error: error.badCloseCode,
      code: 1002,
    }),
  ),
  {
    name: 'close reason that is not UTF-8',
    bytes: (m) => f(m, { opcode: 8, payload: closePayload(1000, Buffer.from([0x6f, 0x6b, 0xff])) }),
    error: error.badClosePayload,
    code: 1007,
  },
  {
    name: 'close reason with a truncated UTF-8 sequence',
    bytes: (m) => f(m, { opcode: 8, payload: closePayload(1000, Buffer.from([0xe2, 0x82])) }),
    error: error.badClosePayload,
    code: 1007,
  },
  {
    name: 'invalid UTF-8 in a text message',
    bytes: (m) => f(m, { opcode: 1, payload: Buffer.from([0x61, 0xc0, 0xaf]) }),
    error: error.badFramePayload,
    code: 1007,
  },
  {
    name: 'text message ending inside a UTF-8 sequence',
    bytes: (m) => f(m, { opcode: 1, payload: Buffer.from([0x61, 0xf0, 0x9f, 0x98]) }),
    error: error.badFramePayload,
    code: 1007,
  },
  {
    name: 'UTF-8 sequence broken across two frames',
    bytes: (m) =>
      Buffer.concat([
        f(m, { opcode: 1, fin: false, payload: Buffer.from([0x61, 0xe2, 0x82]) }),
        f(m, { opcode: 0, payload: Buffer.from([0x41]) }),
      ]),
    error: error.badFramePayload,
    code: 1007,
  },
  {
    name: 'surrogate code point (ED A0 80) in text',
    bytes: (m) => f(m, { opcode: 1, payload: Buffer.from([0xed, 0xa0, 0x80]) }),
    error: error.badFramePayload,
    code: 1007,
  },
  {
    name: 'a message over readMessageMax in one frame',
    bytes: (m) => f(m, { opcode: 2, payload: Buffer.alloc(9) }),
    error: error.messageTooBig,
    code: 1009,
    configure: (ws) => ws.readMessageMax(8),
  },
  {
    name: 'a message over readMessageMax across fragments',
    bytes: (m) =>
      Buffer.concat([
        f(m, { opcode: 2, fin: false, payload: Buffer.alloc(5) }),
        f(m, { opcode: 0, payload: Buffer.alloc(5) }),
      ]),
    error: error.messageTooBig,
    code: 1009,
    configure: (ws) => ws.readMessageMax(8),
  },
  {
    name: 'a 64-bit length with the top bit set',
    bytes: (m) => f(m, { opcode: 2, lenBits: 64, claimLen: 0 }).fill(0x80, 2, 3),
    error: error.badSize,
    code: 1002,
  },
  {
    name: 'a 16-bit length that fits in 7 bits (not minimal)',
    bytes: (m) => f(m, { opcode: 2, payload: Buffer.alloc(5), lenBits: 16 }),
    error: error.badSize,
    code: 1002,
  },
  {
    name: 'a 64-bit length that fits in 16 bits (not minimal)',
    bytes: (m) => f(m, { opcode: 2, payload: Buffer.alloc(5), lenBits: 64 }),
    error: error.badSize,
    code: 1002,
  },
];

/** Reads until the read fails (a valid message before the bad frame completes a first read). */
async function readUntilError(ws: Stream): Promise<{ ec: ErrorCode | null; calls: number[] }> {
  const calls: number[] = [];
  for (let i = 0; i < 4; i++) {
    const t = track<[number]>();
    ws.asyncRead(new FlatBuffer(), t.handler);
    const [ec] = await t.result;
    await settle(2);
    calls.push(t.calls());
    if (ec) return { ec, calls };
  }
  return { ec: null, calls };
}

/** Runs one case against one side; returns the close frame the peer received. */
async function runCase(side: Side, c: Case, chunk = Number.POSITIVE_INFINITY) {
  const { ws, raw } = await underTest(side);
  c.configure?.(ws);
  const bytes = c.bytes(side === 'server' ? KEY : undefined);
  const reading = readUntilError(ws);
  for (let o = 0; o < bytes.length; o += Math.min(chunk, bytes.length)) {
    await raw.writeSome(bytes.subarray(o, o + Math.min(chunk, bytes.length - o)));
  }
  const peer = await drainPeer(raw, { shutdownOnClose: true });
  const { ec, calls } = await reading;
  await settle();
  return { ws, peer, ec, calls };
}

function expectFailClose(side: Side, c: Case, r: Awaited<ReturnType<typeof runCase>>) {
  // (a) the matching error, and its condition
  expect(r.ec).toBe(c.error);
  expect(condition.protocolViolation.matches(r.ec)).toBe(c.error !== error.messageTooBig);
  expect(condition.handshakeFailed.matches(r.ec)).toBe(false);
  // (b) exactly one close frame on the wire, with the code
  const { frames, rest } = parseFrames(r.peer.bytes);
  expect(rest.length).toBe(0);
  expect(frames.length).toBe(1);
  const close = frames[0]!;
  const hi = c.code >> 8;
  const lo = c.code & 0xff;
  if (side === 'server') {
    expect([...close.raw]).toEqual([0x88, 0x02, hi, lo]);
  } else {
    expect([...close.raw.subarray(0, 2)]).toEqual([0x88, 0x82]);
    expect(close.masked).toBe(true);
    expect(closeCodeOf(close)).toBe(c.code);
    expect(close.payload.length).toBe(2);
  }
  // (c) torn down
  expect(r.peer.eof).toBe(true);
  expect(r.ws.isOpen()).toBe(false);
  // (d) every read completed exactly once
  for (const n of r.calls) expect(n).toBe(1);
}

describe('RFC 6455 strictness: fail the connection with the right close code', () => {
  for (const side of ['server', 'client'] as const) {
    describe(`${side} under test`, () => {
      for (const c of cases.filter((x) => !x.sides || x.sides.includes(side))) {
        it(c.name, async () => {
          expectFailClose(side, c, await runCase(side, c));
        });
      }
      it('every case also fails the same way when the peer writes one byte at a time', async () => {
        for (const c of cases.filter((x) => !x.sides || x.sides.includes(side))) {
          expectFailClose(side, c, await runCase(side, c, 1));
        }
      });
    });
  }
});

describe('UTF-8 is validated as early as the byte that breaks it', () => {
  for (const side of ['server', 'client'] as const) {
    const mask = side === 'server' ? KEY : undefined;

    it(`${side}: the read fails before the rest of the frame arrives`, async () => {
      const { ws, raw } = await underTest(side);
      const t = track<[number]>();
      ws.asyncRead(new FlatBuffer(), t.handler);
      // The header announces 100 bytes; only 3 are sent, the third is invalid (0xFF).
      const whole = frame({
        opcode: 1,
        payload: Buffer.concat([Buffer.from('ab\xff', 'latin1'), Buffer.alloc(97, 0x61)]),
        mask,
      });
      const headerLen = whole.length - 100;
      await raw.writeSome(whole.subarray(0, headerLen + 3));
      const peer = await drainPeer(raw, { shutdownOnClose: true });
      const [ec] = await t.result;
      expect(ec).toBe(error.badFramePayload);
      expect(closeCodeOf(parseFrames(peer.bytes).frames[0]!)).toBe(1007);
      expect(peer.eof).toBe(true);
      expect(ws.isOpen()).toBe(false);
      expect(t.calls()).toBe(1);
    });

    it(`${side}: the read fails before the final fragment arrives`, async () => {
      const { ws, raw } = await underTest(side);
      const t = track<[number]>();
      ws.asyncRead(new FlatBuffer(), t.handler);
      // First fragment ends in the middle of "€" (E2 82 AC); the second starts with a non-continuation byte.
      await raw.writeSome(frame({ opcode: 1, fin: false, payload: Buffer.from([0x61, 0xe2, 0x82]), mask }));
      await settle(3);
      expect(t.calls()).toBe(0);
      // The final fragment is never sent: the error comes from the second fragment's first byte.
      const second = frame({ opcode: 0, fin: false, payload: Buffer.from([0x41, 0x42, 0x43, 0x44]), mask });
      await raw.writeSome(second.subarray(0, second.length - 3));
      const peer = await drainPeer(raw, { shutdownOnClose: true });
      const [ec] = await t.result;
      expect(ec).toBe(error.badFramePayload);
      expect(closeCodeOf(parseFrames(peer.bytes).frames[0]!)).toBe(1007);
      expect(ws.isOpen()).toBe(false);
      expect(t.calls()).toBe(1);
    });

    it(`${side}: across readSome boundaries, the valid prefix is delivered, then the error`, async () => {
      const { ws, raw } = await underTest(side);
      // "a" + first two bytes of "€" is a valid prefix.
      await raw.writeSome(frame({ opcode: 1, payload: Buffer.from([0x61, 0xe2, 0x82, 0x28, 0x62]), mask }));
      const fixed = new Uint8Array(3);
      const first = track<[number]>();
      ws.asyncReadSome(fixed, first.handler);
      const [ec1, n1] = await first.result;
      expect(ec1).toBeNull();
      expect(n1).toBe(3);
      expect(ws.isMessageDone()).toBe(false);
      const second = track<[number]>();
      ws.asyncReadSome(new Uint8Array(8), second.handler);
      const peer = await drainPeer(raw, { shutdownOnClose: true });
      const [ec2] = await second.result;
      expect(ec2).toBe(error.badFramePayload);
      expect(closeCodeOf(parseFrames(peer.bytes).frames[0]!)).toBe(1007);
      expect(ws.isOpen()).toBe(false);
      expect(first.calls()).toBe(1);
      expect(second.calls()).toBe(1);
    });

    it(`${side}: valid multi-byte text split at every byte across frames and reads is accepted`, async () => {
      const text = Buffer.from('a€𝄞ü', 'utf8');
      for (let cut = 1; cut < text.length; cut++) {
        const { ws, raw } = await underTest(side, { readSize: cut });
        const bytes = Buffer.concat([
          frame({ opcode: 1, fin: false, payload: text.subarray(0, cut), mask }),
          frame({ opcode: 0, payload: text.subarray(cut), mask }),
        ]);
        await raw.writeSome(bytes);
        const buf = new FlatBuffer();
        const n = await ws.asyncRead(buf);
        expect(n).toBe(text.length);
        expect(Buffer.from(buf.data() as Uint8Array).equals(text)).toBe(true);
        expect(ws.isOpen()).toBe(true);
      }
    });
  }
});

describe('protocol errors while close drains', () => {
  for (const side of ['server', 'client'] as const) {
    it(`${side}: a bad frame while waiting for the peer's close fails the close`, async () => {
      const { ws, raw } = await underTest(side);
      const mask = side === 'server' ? KEY : undefined;
      const t = track();
      ws.asyncClose(1000, t.handler);
      await raw.writeSome(frame({ opcode: 3, mask }));
      const peer = await drainPeer(raw, { shutdownOnClose: true });
      const [ec] = await t.result;
      await settle();
      // The close frame went out first (1000); no second close frame follows the protocol error.
      const { frames } = parseFrames(peer.bytes);
      expect(frames.map((x) => x.opcode)).toEqual([8]);
      expect(closeCodeOf(frames[0]!)).toBe(1000);
      expect(ec).toBe(error.badOpcode);
      expect(ws.isOpen()).toBe(false);
      expect(t.calls()).toBe(1);
      expect(peer.eof).toBe(true);
      expect(ec === netError.operationAborted).toBe(false);
    });
  }
});

describe('valid control frames at the limits', () => {
  for (const side of ['server', 'client'] as const) {
    const mask = side === 'server' ? KEY : undefined;

    it(`${side}: a 125-byte ping is answered with a 125-byte pong carrying the same payload`, async () => {
      const { ws, raw } = await underTest(side);
      const payload = Buffer.from(Array.from({ length: 125 }, (_, i) => i));
      const seen: string[] = [];
      ws.controlCallback((kind, p) => seen.push(`${kind}:${p.length}`));
      const r = track<[number]>();
      ws.asyncRead(new FlatBuffer(), r.handler);
      await raw.writeSome(frame({ opcode: 9, payload, mask }));
      await settle();
      const { frames, rest } = parseFrames(raw.bytes());
      raw.clear();
      expect(rest.length).toBe(0);
      expect(frames.length).toBe(1);
      const pong = frames[0]!;
      expect(pong.opcode).toBe(10);
      expect(pong.fin).toBe(true);
      expect(pong.masked).toBe(side === 'client');
      expect(pong.payload.equals(payload)).toBe(true);
      if (side === 'server') expect([...pong.raw.subarray(0, 2)]).toEqual([0x8a, 0x7d]);
      expect(seen).toEqual(['ping:125']);
      expect(r.calls()).toBe(0);
      expect(ws.isOpen()).toBe(true);
    });

    it(`${side}: an empty close is echoed empty; the read completes with closed and reason() is none`, async () => {
      const { ws, raw } = await underTest(side);
      const r = track<[number]>();
      ws.asyncRead(new FlatBuffer(), r.handler);
      await raw.writeSome(frame({ opcode: 8, mask }));
      const peer = await drainPeer(raw, { shutdownOnClose: true });
      const { frames } = parseFrames(peer.bytes);
      expect(frames.length).toBe(1);
      expect(frames[0]!.payload.length).toBe(0);
      if (side === 'server') expect([...peer.bytes]).toEqual([0x88, 0x00]);
      expect((await r.result)[0]).toBe(error.closed);
      expect(ws.reason()).toEqual({ code: 0, reason: '' });
      expect(peer.eof).toBe(true);
    });

    it(`${side}: a close with a 123-byte reason is accepted; pings while close drains get no pong`, async () => {
      const { ws, raw } = await underTest(side);
      const c = track();
      ws.asyncClose(1000, c.handler);
      await settle(2);
      raw.clear();
      const reason = 'r'.repeat(123);
      await raw.writeSome(
        Buffer.concat([
          frame({ opcode: 9, payload: 'late ping', mask }),
          frame({ opcode: 1, payload: 'late data', mask }),
          frame({
            opcode: 8,
            payload: Buffer.concat([Buffer.from([0x0b, 0xb8]), Buffer.from(reason)]),
            mask,
          }),
        ]),
      );
      if (side === 'client') raw.shutdownSend();
      const peer = await drainPeer(raw);
      raw.close();
      expect((await c.result)[0]).toBeNull();
      expect(peer.bytes.length).toBe(0);
      expect(ws.reason()).toEqual({ code: 3000, reason });
    });

    it(`${side}: a message of exactly readMessageMax bytes is accepted`, async () => {
      const { ws, raw } = await underTest(side);
      ws.readMessageMax(8);
      await raw.writeSome(
        Buffer.concat([
          frame({ opcode: 2, fin: false, payload: Buffer.alloc(5), mask }),
          frame({ opcode: 0, payload: Buffer.alloc(3), mask }),
        ]),
      );
      expect(await ws.asyncRead(new FlatBuffer())).toBe(8);
      expect(ws.isOpen()).toBe(true);
    });
  }
});
