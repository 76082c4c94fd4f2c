import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { WsErrorName } from '../src/detail/error-names.js';
import {
  closePayloadSize,
  FrameParser,
  type FrameParserOptions,
  headerSize,
  ParseStatus,
  parseClosePayload,
  serializeClosePayload,
  serializeHeader,
  writeClosePayload,
} from '../src/detail/frame.js';
import { mask } from '../src/detail/mask.js';
import { closeCode, Opcode } from '../src/detail/rfc6455.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const bytes = (...b: number[]): Buffer => Buffer.from(b);

interface Frame {
  fin: boolean;
  rsv1: boolean;
  opcode: number;
  masked: boolean;
  key?: string;
  payload: string;
}

interface Result {
  frames: Frame[];
  error: WsErrorName | null;
  closeCode: number;
}

/** Drives a parser the way a stream's read op does, chunk by chunk; collects frames with unmasked payloads. */
function drive(opts: FrameParserOptions, chunks: Uint8Array[], intoDst = false): Result {
  const p = new FrameParser(opts);
  const frames: Frame[] = [];
  let parts: Buffer[] = [];
  let cur: Frame | null = null;
  const finishFrame = (): void => {
    if (cur !== null) {
      cur.payload = hex(Buffer.concat(parts));
      frames.push(cur);
      cur = null;
      parts = [];
    }
  };
  for (const input of chunks) {
    // Work on a copy: unmasking happens in place.
    const chunk = Buffer.from(input);
    let s = 0;
    while (s < chunk.length) {
      if (p.expectingHeader) {
        s += p.parseHeader(chunk, s, chunk.length);
        if (p.status === ParseStatus.error) {
          finishFrame();
          return { frames, error: p.error, closeCode: p.errorCloseCode };
        }
        if (p.status === ParseStatus.needMore) {
          expect(s).toBe(chunk.length);
          break;
        }
        const h = p.header;
        cur = { fin: h.fin, rsv1: h.rsv1, opcode: h.opcode, masked: h.masked, payload: '' };
        if (h.masked) cur.key = hex(h.key);
        if (h.len === 0) finishFrame();
      } else {
        if (intoDst) {
          const dst = Buffer.alloc(chunk.length - s);
          const n = p.consumePayload(chunk, s, chunk.length, dst, 0);
          parts.push(dst.subarray(0, n));
          s += n;
        } else {
          const n = p.consumePayload(chunk, s, chunk.length);
          parts.push(Buffer.from(chunk.subarray(s, s + n)));
          s += n;
        }
        if (p.expectingHeader) finishFrame();
      }
    }
  }
  return { frames, error: null, closeCode: 0 };
}

function split(data: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (data.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const p of [...points, data.length]) {
    out.push(data.subarray(prev, p));
    prev = p;
  }
  return out;
}

interface FrameSpec {
  fin: boolean;
  rsv1: boolean;
  opcode: number;
  payload: Uint8Array;
}

function encode(frames: FrameSpec[], key: Uint8Array | undefined): Buffer {
  const parts: Buffer[] = [];
  for (const f of frames) {
    const len = f.payload.length;
    const head = Buffer.alloc(headerSize(len, key !== undefined));
    const n = serializeHeader(head, { fin: f.fin, rsv1: f.rsv1, opcode: f.opcode, mask: key, len });
    expect(n).toBe(head.length);
    const body = Buffer.from(f.payload);
    if (key !== undefined) mask(body, key);
    parts.push(head, body);
  }
  return Buffer.concat(parts);
}

const server: FrameParserOptions = { role: 'server' };
const client: FrameParserOptions = { role: 'client' };

describe('serializeHeader / headerSize (RFC 6455 §5.2, §5.7 examples)', () => {
  it('single-frame unmasked text "Hello"', () => {
    const out = Buffer.alloc(2);
    expect(serializeHeader(out, { fin: true, opcode: Opcode.text, len: 5 })).toBe(2);
    expect([...out]).toEqual([0x81, 0x05]);
  });

  it('single-frame masked text "Hello"', () => {
    const key = bytes(0x37, 0xfa, 0x21, 0x3d);
    const out = Buffer.alloc(11);
    const n = serializeHeader(out, 0, { fin: true, opcode: Opcode.text, mask: key, len: 5 });
    expect(n).toBe(6);
    out.write('Hello', 6);
    mask(out.subarray(6), key);
    expect([...out]).toEqual([0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
  });

  it('fragmented text, ping, 256-byte and 64 KiB binary headers', () => {
    const out = Buffer.alloc(14);
    expect(hex(out.subarray(0, serializeHeader(out, { fin: false, opcode: Opcode.text, len: 3 })))).toBe(
      '0103',
    );
    expect(hex(out.subarray(0, serializeHeader(out, { fin: true, opcode: Opcode.cont, len: 2 })))).toBe(
      '8002',
    );
    expect(hex(out.subarray(0, serializeHeader(out, { fin: true, opcode: Opcode.ping, len: 5 })))).toBe(
      '8905',
    );
    expect(hex(out.subarray(0, serializeHeader(out, { fin: true, opcode: Opcode.binary, len: 256 })))).toBe(
      '827e0100',
    );
    expect(hex(out.subarray(0, serializeHeader(out, { fin: true, opcode: Opcode.binary, len: 65536 })))).toBe(
      '827f0000000000010000',
    );
    expect(
      hex(
        out.subarray(
          0,
          serializeHeader(out, { fin: true, rsv1: true, opcode: Opcode.binary, len: 2 ** 53 - 1 }),
        ),
      ),
    ).toBe('c27f001fffffffffffff');
  });

  it('writes at an offset and uses the minimal length encoding at the boundaries', () => {
    const out = Buffer.alloc(20, 0xee);
    expect(serializeHeader(out, 3, { fin: true, opcode: Opcode.binary, len: 125 })).toBe(2);
    expect(hex(out.subarray(0, 6))).toBe('eeeeee827dee');
    for (const [len, size] of [
      [0, 2],
      [125, 2],
      [126, 4],
      [65535, 4],
      [65536, 10],
    ] as const) {
      expect(headerSize(len, false)).toBe(size);
      expect(headerSize(len, true)).toBe(size + 4);
      expect(serializeHeader(out, { fin: true, opcode: 2, len })).toBe(size);
    }
    expect(() => serializeHeader(out, { fin: true, opcode: 2, len: -1 })).toThrow(RangeError);
  });
});

describe('FrameParser', () => {
  it('a server parses the masked "Hello" example, unmasking in place or into a destination', () => {
    const wire = bytes(0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58);
    for (const intoDst of [false, true]) {
      const r = drive(server, [wire], intoDst);
      expect(r.error).toBeNull();
      expect(r.frames).toEqual([
        {
          fin: true,
          rsv1: false,
          opcode: 1,
          masked: true,
          key: '37fa213d',
          payload: hex(Buffer.from('Hello')),
        },
      ]);
    }
  });

  it('header fields and the reusable header object', () => {
    const p = new FrameParser(client);
    const wire = bytes(0x01, 0x03, 0x48, 0x65, 0x6c, 0x89, 0x00, 0x80, 0x02, 0x6c, 0x6f);
    expect(p.parseHeader(wire, 0, wire.length)).toBe(2);
    expect(p.status).toBe(ParseStatus.header);
    const h = p.header;
    expect([h.fin, h.opcode, h.len, h.masked]).toEqual([false, 1, 3, false]);
    expect(p.inMessage).toBe(true);
    expect(p.expectingHeader).toBe(false);
    expect(p.consumePayload(wire, 2, wire.length)).toBe(3);
    expect(p.expectingHeader).toBe(true);
    // An interleaved ping does not end the message (§5.4).
    expect(p.parseHeader(wire, 5, wire.length)).toBe(2);
    expect([h.opcode, h.len]).toEqual([Opcode.ping, 0]);
    expect(p.header).toBe(h);
    expect(p.expectingHeader).toBe(true);
    expect(p.inMessage).toBe(true);
    expect(p.parseHeader(wire, 7, wire.length)).toBe(2);
    expect([h.fin, h.opcode, h.len]).toEqual([true, Opcode.cont, 2]);
    expect(p.messageOpcode).toBe(Opcode.text);
    expect(p.inMessage).toBe(false);
    expect(p.consumePayload(wire, 9, wire.length)).toBe(2);
  });

  it('is at rest only between messages; configure gives it another role and RSV1 setting', () => {
    const p = new FrameParser(client);
    expect(p.atRest).toBe(true);
    // Half a header, then a fragment's payload, then the fragmented message: not at rest.
    const wire = bytes(0x01, 0x02, 0x68, 0x69, 0x80, 0x00);
    expect(p.parseHeader(wire, 0, 1)).toBe(1);
    expect(p.atRest).toBe(false);
    expect(p.parseHeader(wire, 1, wire.length)).toBe(1);
    expect(p.atRest).toBe(false);
    expect(p.consumePayload(wire, 2, wire.length)).toBe(2);
    expect(p.atRest).toBe(false);
    expect(p.parseHeader(wire, 4, wire.length)).toBe(2);
    expect(p.atRest).toBe(true);
    // A failed parser is not at rest.
    expect(p.parseHeader(bytes(0x81, 0x80, 1, 2, 3, 4), 0, 6)).toBe(0);
    expect(p.error).toBe('badMaskedFrame');
    expect(p.atRest).toBe(false);
    // Configured as a server's, with RSV1 allowed: masked and compressed frames pass, unmasked fail.
    p.configure('server', true);
    expect(p.atRest).toBe(true);
    expect(p.parseHeader(bytes(0xc1, 0x80, 1, 2, 3, 4), 0, 6)).toBe(6);
    expect([p.status, p.header.rsv1]).toEqual([ParseStatus.header, true]);
    p.configure('server', false);
    expect(p.parseHeader(bytes(0xc1, 0x80, 1, 2, 3, 4), 0, 6)).toBe(0);
    expect(p.error).toBe('badReservedBits');
    p.configure('server', false);
    expect(p.parseHeader(bytes(0x81, 0x00), 0, 2)).toBe(0);
    expect(p.error).toBe('badUnmaskedFrame');
  });

  it('assembles a header split across chunks', () => {
    const wire = encode(
      [{ fin: true, rsv1: false, opcode: 2, payload: new Uint8Array(70000).fill(7) }],
      bytes(1, 2, 3, 4),
    );
    for (let cut = 1; cut < 14; cut++) {
      const r = drive(server, [wire.subarray(0, cut), wire.subarray(cut, cut + 1), wire.subarray(cut + 1)]);
      expect(r.error).toBeNull();
      expect(r.frames.length).toBe(1);
      expect(r.frames[0]!.payload).toBe(hex(new Uint8Array(70000).fill(7)));
    }
  });

  const cases: Array<[string, FrameParserOptions, number[], WsErrorName, number]> = [
    ['server requires a mask', server, [0x81, 0x00], 'badUnmaskedFrame', 1002],
    ['client rejects a mask', client, [0x81, 0x80, 1, 2, 3, 4], 'badMaskedFrame', 1002],
    ['RSV2', client, [0xa1, 0x00], 'badReservedBits', 1002],
    ['RSV3', client, [0x91, 0x00], 'badReservedBits', 1002],
    ['RSV1 without permessage-deflate', client, [0xc1, 0x00], 'badReservedBits', 1002],
    ['RSV1 on a control frame', { role: 'client', rsv1Allowed: true }, [0xc9, 0x00], 'badReservedBits', 1002],
    [
      'RSV1 on a continuation frame',
      { role: 'client', rsv1Allowed: true },
      [0x41, 0x00, 0xc0, 0x00],
      'badReservedBits',
      1002,
    ],
    ['reserved opcode 3', client, [0x83, 0x00], 'badOpcode', 1002],
    ['reserved opcode 7', client, [0x87, 0x00], 'badOpcode', 1002],
    ['reserved opcode 11', client, [0x8b, 0x00], 'badOpcode', 1002],
    ['reserved opcode 15', client, [0x8f, 0x00], 'badOpcode', 1002],
    ['fragmented ping', client, [0x09, 0x00], 'badControlFragment', 1002],
    ['close with 126 bytes', client, [0x88, 0x7e, 0x00, 0x7e], 'badControlSize', 1002],
    ['continuation without a message', client, [0x80, 0x00], 'badContinuation', 1002],
    ['continuation after a finished message', client, [0x81, 0x00, 0x80, 0x00], 'badContinuation', 1002],
    [
      'new message inside a fragmented one',
      client,
      [0x01, 0x00, 0x89, 0x00, 0x82, 0x00],
      'badDataFrame',
      1002,
    ],
    ['non-minimal 16-bit length', client, [0x82, 0x7e, 0x00, 0x7d], 'badSize', 1002],
    ['non-minimal 64-bit length', client, [0x82, 0x7f, 0, 0, 0, 0, 0, 0, 0xff, 0xff], 'badSize', 1002],
    ['64-bit length with the top bit set', client, [0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0], 'badSize', 1002],
    ['64-bit length beyond 2^53', client, [0x82, 0x7f, 0x00, 0x20, 0, 0, 0, 0, 0, 0], 'messageTooBig', 1009],
  ];

  for (const [name, opts, wire, error, code] of cases) {
    it(`rejects: ${name} (${error})`, () => {
      for (let cut = 0; cut <= wire.length; cut++) {
        const b = Buffer.from(wire);
        const r = drive(opts, [b.subarray(0, cut), b.subarray(cut)]);
        expect(r.error).toBe(error);
        expect(r.closeCode).toBe(code);
      }
    });
  }

  it('accepts RSV1 on the first frame of a message when permessage-deflate is on', () => {
    const r = drive({ role: 'client', rsv1Allowed: true }, [bytes(0x41, 0x01, 0x61, 0x80, 0x00)]);
    expect(r.error).toBeNull();
    expect(r.frames.map((f) => [f.rsv1, f.opcode])).toEqual([
      [true, 1],
      [false, 0],
    ]);
  });

  it('accepts the largest representable 64-bit length header', () => {
    const p = new FrameParser(client);
    const wire = bytes(0x82, 0x7f, 0x00, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff);
    expect(p.parseHeader(wire, 0, wire.length)).toBe(10);
    expect(p.header.len).toBe(2 ** 53 - 1);
    expect(p.remaining).toBe(2 ** 53 - 1);
  });

  it('stays failed after an error until reset()', () => {
    const p = new FrameParser(client);
    expect(p.parseHeader(bytes(0x83, 0x00), 0, 2)).toBe(0);
    expect(p.parseHeader(bytes(0x81, 0x00), 0, 2)).toBe(0);
    expect(p.error).toBe('badOpcode');
    p.reset();
    expect(p.parseHeader(bytes(0x81, 0x00), 0, 2)).toBe(2);
    expect(p.status).toBe(ParseStatus.header);
  });

  const payloadArb = fc.oneof(
    { weight: 8, arbitrary: fc.uint8Array({ maxLength: 200 }) },
    {
      weight: 1,
      arbitrary: fc.integer({ min: 65530, max: 66000 }).map((n) => new Uint8Array(n).fill(n & 0xff)),
    },
  );
  const controlArb = fc.record({
    fin: fc.constant(true),
    rsv1: fc.constant(false),
    opcode: fc.constantFrom(Opcode.ping, Opcode.pong, Opcode.close),
    payload: fc.uint8Array({ maxLength: 125 }),
  });
  const messageArb = fc
    .record({
      opcode: fc.constantFrom(Opcode.text, Opcode.binary),
      rsv1: fc.boolean(),
      fragments: fc.array(payloadArb, { minLength: 1, maxLength: 3 }),
      controls: fc.array(fc.tuple(fc.nat(3), controlArb), { maxLength: 2 }),
    })
    .map(({ opcode, rsv1, fragments, controls }): FrameSpec[] => {
      const frames: FrameSpec[] = fragments.map((payload, i) => ({
        fin: i === fragments.length - 1,
        rsv1: rsv1 && i === 0,
        opcode: i === 0 ? opcode : Opcode.cont,
        payload,
      }));
      for (const [at, c] of controls) frames.splice(Math.min(at, frames.length), 0, c);
      return frames;
    });

  it('any valid frame sequence, serialized and fed in any chunking, yields the same frames (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.array(messageArb, { minLength: 1, maxLength: 4 }),
        fc.boolean(),
        fc.uint8Array({ minLength: 4, maxLength: 4 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        fc.boolean(),
        (messages, masked, key, cuts, intoDst) => {
          const specs = messages.flat();
          const wire = encode(specs, masked ? key : undefined);
          const opts: FrameParserOptions = { role: masked ? 'server' : 'client', rsv1Allowed: true };
          const r = drive(opts, split(wire, cuts), intoDst);
          expect(r.error).toBeNull();
          expect(r.frames).toEqual(
            specs.map((f) => {
              const e: Frame = {
                fin: f.fin,
                rsv1: f.rsv1,
                opcode: f.opcode,
                masked,
                payload: hex(f.payload),
              };
              if (masked) e.key = hex(key);
              return e;
            }),
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  it('any byte stream in any chunking yields the same frames-or-first-error as unsplit (fast-check)', () => {
    // Bytes biased towards plausible headers so that deep states are reached.
    const headerish = fc.oneof(
      fc.uint8Array({ maxLength: 12 }),
      fc
        .tuple(
          fc.constantFrom(0x00, 0x01, 0x02, 0x80, 0x81, 0x82, 0x88, 0x89, 0x8a, 0xc1, 0x41, 0x83, 0x09, 0xa2),
          fc.constantFrom(0, 1, 5, 125, 126, 127, 0x80, 0x81, 0x85, 0xfe, 0xff),
          fc.uint8Array({ maxLength: 14 }),
        )
        .map(([a, b, rest]) => Uint8Array.from([a, b, ...rest])),
    );
    fc.assert(
      fc.property(
        fc.array(headerish, { maxLength: 12 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        fc.constantFrom<FrameParserOptions>(server, client, { role: 'server', rsv1Allowed: true }),
        (pieces, cuts, opts) => {
          const wire = Buffer.concat(pieces);
          const whole = drive(opts, [wire]);
          const chunked = drive(opts, split(wire, cuts));
          // A frame whose payload is cut off by the end of input is incomplete in both runs.
          expect(chunked).toEqual(whole);
          const oneByOne = drive(
            opts,
            [...wire].map((b) => Uint8Array.of(b)),
          );
          expect(oneByOne).toEqual(whole);
        },
      ),
      { numRuns: 400 },
    );
  });
});

describe('close payload (RFC 6455 §5.5.1)', () => {
  it('parses empty, code-only and code+reason payloads', () => {
    expect(parseClosePayload(new Uint8Array(0))).toEqual({ code: closeCode.none, reason: '' });
    expect(parseClosePayload(bytes(0x03, 0xe8))).toEqual({ code: 1000, reason: '' });
    expect(parseClosePayload(Buffer.concat([bytes(0x0f, 0xa0), Buffer.from('bye ✓')]))).toEqual({
      code: 4000,
      reason: 'bye ✓',
    });
  });

  it('rejects bad sizes, codes and reasons', () => {
    expect(parseClosePayload(bytes(0x03))).toBe('badCloseSize');
    expect(parseClosePayload(new Uint8Array(126))).toBe('badCloseSize');
    for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000]) {
      expect(parseClosePayload(bytes(code >> 8, code & 0xff)), String(code)).toBe('badCloseCode');
    }
    expect(parseClosePayload(bytes(0x03, 0xe8, 0xed, 0xa0, 0x80))).toBe('badClosePayload');
    expect(parseClosePayload(bytes(0x03, 0xe8, 0xe2, 0x82))).toBe('badClosePayload');
  });

  it('serializes: none is empty, else code + reason; rejects unsendable codes and long reasons', () => {
    expect(serializeClosePayload(closeCode.none).length).toBe(0);
    expect(hex(serializeClosePayload(closeCode.normal))).toBe('03e8');
    expect(hex(serializeClosePayload({ code: 1001, reason: 'ab' }))).toBe('03e96162');
    expect(closePayloadSize({ code: 1001, reason: 'é' })).toBe(4);
    expect(serializeClosePayload({ code: 1000, reason: 'x'.repeat(123) }).length).toBe(125);
    expect(() => serializeClosePayload({ code: 1000, reason: 'x'.repeat(124) })).toThrow(RangeError);
    expect(() => serializeClosePayload(1005)).toThrow(RangeError);
    expect(() => serializeClosePayload({ code: closeCode.none, reason: 'x' })).toThrow(RangeError);
    const out = Buffer.alloc(10, 0);
    expect(writeClosePayload(out, 4, { code: 3000, reason: 'z' })).toBe(3);
    expect(hex(out)).toBe('00000000' + '0bb87a' + '000000');
  });

  it('round-trips (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.integer({ min: 1000, max: 1003 }),
          fc.integer({ min: 1007, max: 1014 }),
          fc.integer({ min: 3000, max: 4999 }),
        ),
        fc.string({ maxLength: 30 }),
        (code, reason) => {
          fc.pre(Buffer.byteLength(reason) <= 123 && Buffer.from(reason).toString() === reason);
          expect(parseClosePayload(serializeClosePayload({ code, reason }))).toEqual({ code, reason });
        },
      ),
      { numRuns: 300 },
    );
  });
});
