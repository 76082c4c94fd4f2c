/*
 * Parser properties (issue 9) not covered elsewhere. Already covered and not
 * repeated here: the frame parser's chunking invariance for valid frame
 * sequences and for arbitrary bytes, and the frame round trip with payloads
 * of 0–200 and 65,530–66,000 bytes (frame.test.ts); the UTF-8 checker
 * against TextDecoder/isUtf8 in any split (utf8.test.ts); the head parser
 * for five fixed heads in any chunking (handshake.test.ts).
 *
 * Added:
 * 1. HttpHeadParser fed ANY byte stream (raw bytes, head-like text,
 *    broken line endings, limits small enough to trip) split into ANY
 *    chunks gives the same head or the same error as an unsplit feed, the
 *    same consumed count and leftover bytes, decides at the same byte, and
 *    takes nothing once decided.
 * 2. Frame headers round-trip through serializeHeader / FrameParser over
 *    every length encoding (7-bit, 16-bit, 64-bit up to 2^53−1, with the
 *    boundaries), masked and unmasked, the header split anywhere and
 *    followed by payload bytes in the same chunk; the payload (built only
 *    when fed, and only a prefix of huge ones) unmasks across chunks.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FrameParser, headerSize, ParseStatus, serializeHeader } from '../src/detail/frame.js';
import { HttpHeadParser, type HttpHeadParserOptions } from '../src/detail/handshake.js';
import { mask } from '../src/detail/mask.js';
import { Opcode } from '../src/detail/rfc6455.js';

// ---- 1. the HTTP head parser over arbitrary input ------------------------------------

type Kind = 'request' | 'response';

interface Outcome {
  done: boolean;
  error: string | null;
  /** Sum of what `feed` returned over all chunks, and the bytes after them. */
  consumed: number;
  head: unknown;
  /** Index of the byte whose chunk first showed the decision (done or error); -1 if undecided. */
  decidedInChunkEnding: number;
  decidedInChunkStarting: number;
  /** What feeds after the decision returned (must all be 0). */
  takenAfterDecision: number;
}

/** The parsed head as plain data (comparable with toEqual). */
function headOf(p: HttpHeadParser<Kind>): unknown {
  const r = p.result;
  if (r === null) return null;
  const fields = [...r.fields];
  if ('method' in r) return { method: r.method, target: r.target, version: r.version, fields };
  return { version: r.version, status: r.status, reason: r.reason, fields };
}

/** Feeds `data` cut at `points` (each chunk a fresh copy, so nothing past a chunk's end is visible). */
function feedSplit(kind: Kind, opts: HttpHeadParserOptions, data: Buffer, points: number[]): Outcome {
  const p = new HttpHeadParser(kind, opts);
  let consumed = 0;
  let prev = 0;
  let decidedStart = -1;
  let decidedEnd = -1;
  let takenAfter = 0;
  let violations = 0;
  for (const cut of [...points, data.length]) {
    const chunk = Buffer.from(data.subarray(prev, cut));
    const decidedBefore = p.done || p.error !== null;
    const n = p.feed(chunk);
    // A feed takes between 0 and all of its chunk, and never reports done and an error together.
    if (!(n >= 0 && n <= chunk.length) || (p.done && p.error !== null)) violations++;
    if (decidedBefore) takenAfter += n;
    else {
      consumed += n;
      if (p.done || p.error !== null) {
        decidedStart = prev;
        decidedEnd = cut;
      }
    }
    prev = cut;
  }
  expect(violations).toBe(0);
  return {
    done: p.done,
    error: p.error,
    consumed,
    head: headOf(p),
    decidedInChunkStarting: decidedStart,
    decidedInChunkEnding: decidedEnd,
    takenAfterDecision: takenAfter,
  };
}

const cutPoints = (len: number, cuts: number[]): number[] =>
  [...new Set(cuts.map((c) => c % (len + 1)))].sort((a, b) => a - b);

const latin1 = (s: string): Buffer => Buffer.from(s, 'latin1');

const startLines = fc.constantFrom(
  'GET / HTTP/1.1',
  'GET /chat?x=1 HTTP/1.1',
  'GET /a HTTP/1.0',
  'POST /p HTTP/1.1',
  'G ET / HTTP/1.1',
  'GET  / HTTP/1.1',
  'HTTP/1.1 101 Switching Protocols',
  'HTTP/1.1 101',
  'HTTP/1.1 400 Bad Request',
  'HTTP/1.1 2000 X',
  'HTTP/2 101 x',
  '',
);
const fieldNames = fc.constantFrom(
  'Host',
  'Upgrade',
  'Connection',
  'Sec-WebSocket-Key',
  '__proto__',
  'constructor',
  'X-A',
  'x-a',
  'a b',
  ' fold',
  'Bad\u0000Name',
  '',
  'Ä',
);
const fieldValues = fc.oneof(
  fc.constantFrom('websocket', 'Upgrade', '', '  padded  ', 'a\tb', 'ctl\u0001', 'é', 'x'.repeat(300)),
  fc.string({ maxLength: 20 }),
  fc.uint8Array({ maxLength: 12 }).map((b) => Buffer.from(b).toString('latin1')),
);
const eols = fc.constantFrom('\r\n', '\r\n', '\r\n', '\n', '\r', '\r\r\n', '');

/** A head-like byte stream: start line, fields, line endings (mostly CRLF), an end, and trailing bytes. */
const headLike = fc
  .record({
    start: startLines,
    fields: fc.array(fc.tuple(fieldNames, fc.constantFrom(':', ': ', ' :', ''), fieldValues, eols), {
      maxLength: 12,
    }),
    firstEol: eols,
    end: fc.constantFrom('\r\n', '\r\n', '\n', '', '\r\n\r\n'),
    trailing: fc.uint8Array({ maxLength: 24 }),
  })
  .map(({ start, fields, firstEol, end, trailing }) =>
    Buffer.concat([
      latin1(start + firstEol + fields.map(([n, sep, v, e]) => n + sep + v + e).join('') + end),
      trailing,
    ]),
  );

/** A well-formed head (request or response start line, token names, CRLF), then trailing bytes. */
const wellFormed = fc
  .record({
    start: fc.constantFrom(
      'GET /chat HTTP/1.1',
      'GET / HTTP/1.1',
      'HTTP/1.1 101 Switching Protocols',
      'HTTP/1.1 403',
    ),
    fields: fc.array(
      fc.tuple(
        fc.stringMatching(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}$/),
        fc.stringMatching(/^[\x21-\x7e]( ?[\x21-\x7e]){0,10}$/),
      ),
      { maxLength: 10 },
    ),
    trailing: fc.uint8Array({ maxLength: 24 }),
  })
  .map(({ start, fields, trailing }) =>
    Buffer.concat([
      latin1(`${[start, ...fields.map(([n, v]) => `${n}: ${v}`)].join('\r\n')}\r\n\r\n`),
      trailing,
    ]),
  );

/** Any bytes: raw, head-like, head-like with bytes flipped, or pieces glued together. */
const anyBytes = fc.oneof(
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)) },
  { weight: 4, arbitrary: headLike },
  { weight: 4, arbitrary: wellFormed },
  {
    weight: 2,
    arbitrary: fc
      .tuple(headLike, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }))
      .map(([b, flips]) => {
        const out = Buffer.from(b);
        if (out.length > 0) for (const [at, v] of flips) out[at % out.length] = v;
        return out;
      }),
  },
  {
    weight: 2,
    arbitrary: fc
      .array(
        fc.oneof(
          fc.constantFrom(
            '\r\n',
            '\r\n\r\n',
            '\n',
            '\r',
            ':',
            ' ',
            'GET / HTTP/1.1',
            'HTTP/1.1 101 OK',
            'A: b',
          ),
          fc.uint8Array({ maxLength: 8 }).map((b) => Buffer.from(b).toString('latin1')),
        ),
        { maxLength: 30 },
      )
      .map((parts) => latin1(parts.join(''))),
  },
  // Around the default 8 KiB head limit.
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.integer({ min: 8150, max: 8250 }), fc.constantFrom('\r\n\r\n', '\r\nB: c\r\n\r\n'))
      .map(([n, end]) => {
        const head = `GET / HTTP/1.1\r\nX: ${'a'.repeat(Math.max(0, n - 23))}${end}`;
        return latin1(head);
      }),
  },
);

const parserOptions = fc.oneof(
  { weight: 3, arbitrary: fc.constant<HttpHeadParserOptions>({}) },
  {
    weight: 2,
    arbitrary: fc.record({
      headLimit: fc.integer({ min: 1, max: 300 }),
      fieldLimit: fc.integer({ min: 0, max: 6 }),
    }),
  },
);

describe('HttpHeadParser: any byte stream, any chunking (fast-check)', () => {
  it('same head or same error as an unsplit feed; same consumed count and leftover; decided at the same byte', () => {
    let decidedDone = 0;
    let decidedError = 0;
    let undecided = 0;
    fc.assert(
      fc.property(
        fc.constantFrom<Kind>('request', 'response'),
        parserOptions,
        anyBytes,
        fc.array(fc.nat(), { maxLength: 12 }),
        (kind, opts, data, cuts) => {
          const whole = feedSplit(kind, opts, data, []);
          const split = feedSplit(kind, opts, data, cutPoints(data.length, cuts));
          expect(split.error).toBe(whole.error);
          expect(split.done).toBe(whole.done);
          expect(split.head).toEqual(whole.head);
          expect(split.takenAfterDecision).toBe(0);
          // Byte at a time: the decisive byte is the last byte of the chunk that decided.
          const points: number[] = [];
          for (let i = 1; i < data.length; i++) points.push(i);
          const bytewise = feedSplit(kind, opts, data, points);
          expect(bytewise.error).toBe(whole.error);
          expect(bytewise.head).toEqual(whole.head);
          if (whole.done) {
            decidedDone++;
            // The head ends with its blank line; what follows is left over, byte for byte.
            expect(split.consumed).toBe(whole.consumed);
            expect(bytewise.consumed).toBe(whole.consumed);
            expect(data.subarray(whole.consumed - 4, whole.consumed).toString('latin1')).toBe('\r\n\r\n');
            expect(bytewise.decidedInChunkEnding).toBe(whole.consumed);
          } else if (whole.error !== null) decidedError++;
          else {
            undecided++;
            // Nothing decided: every byte so far belongs to the head.
            expect(whole.consumed).toBe(data.length);
            expect(split.consumed).toBe(data.length);
          }
          if (whole.done || whole.error !== null) {
            const decisive = bytewise.decidedInChunkEnding - 1;
            expect(split.decidedInChunkStarting).toBeLessThanOrEqual(decisive);
            expect(split.decidedInChunkEnding).toBeGreaterThan(decisive);
          }
        },
      ),
      { numRuns: 600 },
    );
    // The generators reach all three outcomes (the property is not vacuous).
    expect(decidedDone).toBeGreaterThan(20);
    expect(decidedError).toBeGreaterThan(20);
    expect(undecided).toBeGreaterThan(5);
  });
});

// ---- 2. frame headers over every length encoding ---------------------------------------

const BOUNDARIES = [0, 125, 126, 65535, 65536, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER];

/** Lengths of every encoding, mostly near the encoding boundaries. */
const lengthArb = fc.oneof(
  fc.integer({ min: 0, max: 125 }),
  fc.integer({ min: 126, max: 65535 }),
  fc.integer({ min: 65536, max: Number.MAX_SAFE_INTEGER }),
  fc
    .tuple(fc.constantFrom(...BOUNDARIES), fc.integer({ min: -3, max: 3 }))
    .map(([b, d]) => Math.min(Number.MAX_SAFE_INTEGER, Math.max(0, b + d))),
);

/** The encoding RFC 6455 §5.2 requires (the minimal one): 7-bit, 16-bit or 64-bit length. */
function lengthFieldBytes(len: number): number {
  return len < 126 ? 0 : len < 65536 ? 2 : 8;
}

/** Payload byte i (the payload is never materialized beyond what is fed). */
const payloadByte = (seed: number, i: number): number => (seed + i * 31 + (i >>> 8)) & 0xff;

function payloadSlice(seed: number, from: number, to: number): Buffer {
  const b = Buffer.allocUnsafe(to - from);
  for (let i = from; i < to; i++) b[i - from] = payloadByte(seed, i);
  return b;
}

const FULL_PAYLOAD_MAX = 70_000;
const PREFIX_MAX = 3000;

describe('frame headers: serialize/parse round trip over every length encoding (fast-check)', () => {
  it('header fields, size and minimal length encoding survive; the parser takes only header bytes; the payload unmasks across chunks', () => {
    const seen = { small: 0, medium: 0, large: 0, masked: 0, unmasked: 0, fullPayload: 0 };
    fc.assert(
      fc.property(
        lengthArb,
        fc.boolean(),
        fc.uint8Array({ minLength: 4, maxLength: 4 }),
        fc.constantFrom(Opcode.text, Opcode.binary, Opcode.ping, Opcode.pong, Opcode.close),
        fc.boolean(),
        fc.boolean(),
        fc.nat(),
        fc.array(fc.integer({ min: 1, max: 5000 }), { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 0, max: 255 }),
        (rawLen, masked, key, opcode, fin, rsv1, headerCut, payloadChunks, seed) => {
          const control = opcode >= 8;
          const len = control ? rawLen % 126 : rawLen;
          const h = {
            fin: control ? true : fin,
            rsv1: control ? false : rsv1,
            opcode,
            mask: masked ? key : undefined,
            len,
          };
          // A server receives masked frames, a client unmasked ones; RSV1 means permessage-deflate.
          const parser = new FrameParser({ role: masked ? 'server' : 'client', rsv1Allowed: true });
          const size = headerSize(len, masked);
          expect(size).toBe(2 + lengthFieldBytes(len) + (masked ? 4 : 0));

          // Serialize at an offset, then put payload bytes right after the header in the same buffer.
          const lead = 3;
          const prefixLen = Math.min(len, 64);
          const wire = Buffer.alloc(lead + size + prefixLen, 0xee);
          expect(serializeHeader(wire, lead, h)).toBe(size);
          const body = payloadSlice(seed, 0, prefixLen);
          if (masked) mask(body, key, 0);
          body.copy(wire, lead + size);
          // The length code in byte 1 is the minimal one.
          const code = wire[lead + 1]! & 0x7f;
          expect(code).toBe(len < 126 ? len : len < 65536 ? 126 : 127);
          expect((wire[lead + 1]! & 0x80) !== 0).toBe(masked);

          // Parse the header split at any point; each call sees payload bytes after the header too.
          const cut = lead + (headerCut % (size + 1));
          let at = lead;
          at += parser.parseHeader(wire, at, cut);
          if (at < lead + size) {
            expect(parser.status).toBe(ParseStatus.needMore);
            expect(at).toBe(cut);
            at += parser.parseHeader(wire, at, wire.length);
          }
          expect(parser.status).toBe(ParseStatus.header);
          expect(at).toBe(lead + size);
          const ph = parser.header;
          expect({
            fin: ph.fin,
            rsv1: ph.rsv1,
            opcode: ph.opcode,
            masked: ph.masked,
            key: ph.masked ? [...ph.key] : null,
            len: ph.len,
          }).toEqual({
            fin: h.fin,
            rsv1: h.rsv1,
            opcode,
            masked,
            key: masked ? [...key] : null,
            len,
          });
          expect(parser.remaining).toBe(len);
          expect(parser.expectingHeader).toBe(len === 0);

          // The payload: built lazily, fed in chunks, unmasked with the key phase carried across chunks.
          const feedTo = len <= FULL_PAYLOAD_MAX ? len : Math.min(len, PREFIX_MAX);
          let off = 0;
          let i = 0;
          while (off < feedTo) {
            const n = Math.min(feedTo - off, payloadChunks[i++ % payloadChunks.length]!);
            const plain = payloadSlice(seed, off, off + n);
            const chunk = Buffer.from(plain);
            if (masked) mask(chunk, key, off & 3);
            expect(parser.consumePayload(chunk, 0, n)).toBe(n);
            expect(chunk.equals(plain)).toBe(true);
            off += n;
          }
          expect(parser.remaining).toBe(len - feedTo);
          expect(parser.expectingHeader).toBe(feedTo === len);
          if (feedTo === len) {
            seen.fullPayload++;
            // And the next header parses: the parser is back at a frame boundary.
            const next = Buffer.alloc(headerSize(0, masked));
            serializeHeader(next, { fin: true, opcode: Opcode.ping, mask: masked ? key : undefined, len: 0 });
            expect(parser.parseHeader(next, 0, next.length)).toBe(next.length);
            expect(parser.status).toBe(ParseStatus.header);
            expect(parser.header.opcode).toBe(Opcode.ping);
          }
          if (len < 126) seen.small++;
          else if (len < 65536) seen.medium++;
          else seen.large++;
          if (masked) seen.masked++;
          else seen.unmasked++;
        },
      ),
      { numRuns: 500 },
    );
    // Every encoding, masked and not, was exercised.
    expect(seen.small).toBeGreaterThan(30);
    expect(seen.medium).toBeGreaterThan(30);
    expect(seen.large).toBeGreaterThan(30);
    expect(seen.masked).toBeGreaterThan(50);
    expect(seen.unmasked).toBeGreaterThan(50);
    expect(seen.fullPayload).toBeGreaterThan(50);
  });

  it('each boundary length, masked and unmasked, uses its encoding and round-trips', () => {
    for (const b of BOUNDARIES) {
      for (const len of [b - 1, b, b + 1].filter((n) => n >= 0 && n <= Number.MAX_SAFE_INTEGER)) {
        for (const masked of [false, true]) {
          const key = Buffer.from([9, 8, 7, 6]);
          const size = headerSize(len, masked);
          const out = Buffer.alloc(size);
          serializeHeader(out, { fin: true, opcode: Opcode.binary, mask: masked ? key : undefined, len });
          const p = new FrameParser({ role: masked ? 'server' : 'client' });
          expect(p.parseHeader(out, 0, size)).toBe(size);
          expect(p.status).toBe(ParseStatus.header);
          expect(p.header.len).toBe(len);
          expect(size - (masked ? 4 : 0)).toBe(2 + lengthFieldBytes(len));
        }
      }
    }
  });
});
