/**
 * WebSocket frame codec (RFC 6455 §5): header serialization for the write
 * side, an incremental, allocation-free header parser with the protocol's
 * strictness rules for the read side, and the close-frame payload format
 * (§5.5.1).
 *
 * Layout of a frame header (§5.2):
 *
 *   byte 0: FIN RSV1 RSV2 RSV3 opcode(4)
 *   byte 1: MASK payload-len(7)
 *   then:   16-bit length if payload-len = 126, 64-bit length if 127 (big-endian)
 *   then:   4-byte masking key if MASK = 1
 */
import type { WsErrorName } from './error-names.js';
import { maskCopyRange, maskInto, maskRange, maskSmall } from './mask.js';
import { type CloseReason, closeCode, isValidCloseCode, maxCloseReasonBytes, Opcode } from './rfc6455.js';
import { isValidUtf8 } from './utf8.js';

/** Below this many payload bytes `consumePayload` copies/unmasks with index loops instead of views. */
const SMALL_PAYLOAD = 64;

/** What the write side needs to serialize a header. */
export interface FrameHeaderInit {
  fin: boolean;
  /** RSV1: set on the first frame of a compressed message (RFC 7692 §6). */
  rsv1?: boolean;
  opcode: number;
  /** 4-byte masking key (client frames, §5.3); omitted for unmasked frames. */
  mask?: Uint8Array | undefined;
  /** Payload length in bytes (≤ 2^53 − 1). */
  len: number;
}

/** A parsed header. The parser reuses one instance; copy fields you keep. */
export interface FrameHeader {
  fin: boolean;
  rsv1: boolean;
  opcode: number;
  masked: boolean;
  /** The masking key; meaningful only when `masked`. */
  readonly key: Uint8Array;
  len: number;
}

/** Largest possible header: 2 + 8 (64-bit length) + 4 (key). */
export const MAX_HEADER_SIZE = 14;

/** Size in bytes of the header for a payload of `len` bytes. */
export function headerSize(len: number, masked: boolean): number {
  return (len < 126 ? 2 : len < 0x10000 ? 4 : 10) + (masked ? 4 : 0);
}

/**
 * Writes a frame header into `out` at `offset` (default 0) and returns its
 * byte length. Uses the minimal length encoding, as §5.2 requires.
 * `out` must have `headerSize(len, masked)` bytes of room at `offset`.
 */
export function serializeHeader(out: Uint8Array, h: FrameHeaderInit): number;
export function serializeHeader(out: Uint8Array, offset: number, h: FrameHeaderInit): number;
export function serializeHeader(out: Uint8Array, a: number | FrameHeaderInit, b?: FrameHeaderInit): number {
  const offset = typeof a === 'number' ? a : 0;
  const h = typeof a === 'number' ? b! : a;
  const len = h.len;
  if (!(len >= 0 && len <= Number.MAX_SAFE_INTEGER) || !Number.isInteger(len)) {
    throw new RangeError(`invalid frame payload length ${len}`);
  }
  return writeFrameHeader(out, offset, h.fin, h.rsv1 === true, h.opcode, len, h.mask);
}

/**
 * `serializeHeader` with positional arguments, for the write path's
 * per-frame call: no header object (~26 vs ~2.5 ns per header measured),
 * and no check of `len`, which the caller computed from buffer sizes.
 */
export function writeFrameHeader(
  out: Uint8Array,
  offset: number,
  fin: boolean,
  rsv1: boolean,
  opcode: number,
  len: number,
  mask?: Uint8Array,
): number {
  out[offset] = (fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | (opcode & 0x0f);
  const m = mask !== undefined ? 0x80 : 0;
  let o = offset + 2;
  if (len < 126) {
    out[offset + 1] = m | len;
  } else if (len < 0x10000) {
    out[offset + 1] = m | 126;
    out[o] = len >>> 8;
    out[o + 1] = len & 0xff;
    o += 2;
  } else {
    out[offset + 1] = m | 127;
    const hi = Math.floor(len / 0x100000000);
    const lo = len >>> 0;
    out[o] = hi >>> 24;
    out[o + 1] = (hi >>> 16) & 0xff;
    out[o + 2] = (hi >>> 8) & 0xff;
    out[o + 3] = hi & 0xff;
    out[o + 4] = lo >>> 24;
    out[o + 5] = (lo >>> 16) & 0xff;
    out[o + 6] = (lo >>> 8) & 0xff;
    out[o + 7] = lo & 0xff;
    o += 8;
  }
  if (mask !== undefined) {
    out[o] = mask[0]!;
    out[o + 1] = mask[1]!;
    out[o + 2] = mask[2]!;
    out[o + 3] = mask[3]!;
    o += 4;
  }
  return o - offset;
}

/**
 * The parser's header. The masking key is kept as four numbers — a 4-byte
 * buffer object cost ~0.1 KB of heap per connection — and `key` returns a
 * copy of it; the parser unmasks through `keyBytes`.
 */
class ParsedHeader implements FrameHeader {
  fin = false;
  rsv1 = false;
  opcode = 0;
  masked = false;
  len = 0;
  k0 = 0;
  k1 = 0;
  k2 = 0;
  k3 = 0;

  get key(): Uint8Array {
    return Uint8Array.of(this.k0, this.k1, this.k2, this.k3);
  }
}

/** One key buffer for every parser: filled just before a (synchronous) unmask. */
const scratchKey = new Uint8Array(4);

function keyBytes(h: ParsedHeader): Uint8Array {
  scratchKey[0] = h.k0;
  scratchKey[1] = h.k1;
  scratchKey[2] = h.k2;
  scratchKey[3] = h.k3;
  return scratchKey;
}

/** Status of a `FrameParser` after `parseHeader`. */
export const ParseStatus = {
  /** The header is incomplete; feed more bytes. */
  needMore: 0,
  /** `parser.header` holds a complete, valid header; its payload follows. */
  header: 1,
  /** The input violates the protocol; see `parser.error` and `parser.errorCloseCode`. */
  error: 2,
} as const;
export type ParseStatus = (typeof ParseStatus)[keyof typeof ParseStatus];

export interface FrameParserOptions {
  /** Our role. A server requires masked frames, a client rejects them (§5.1). */
  role: 'client' | 'server';
  /** Whether permessage-deflate was negotiated, which gives RSV1 a meaning (RFC 7692 §6). */
  rsv1Allowed?: boolean;
}

/** The close code to send when failing the connection for a given error. */
export function closeCodeFor(error: WsErrorName): number {
  switch (error) {
    case 'messageTooBig':
      return closeCode.tooBig;
    case 'badFramePayload':
    case 'badClosePayload':
    // A message that does not inflate is, like bad UTF-8, data inconsistent with its type.
    case 'badDeflatePayload':
      // §7.4.1: 1007 for data inconsistent with the message type (e.g. non-UTF-8 text).
      return closeCode.badPayload;
    default:
      return closeCode.protocolError;
  }
}

/**
 * Incremental frame parser for the read side.
 *
 * Alternate two calls while bytes are available:
 * - while `expectingHeader`: `n = parseHeader(buf, start, end)`, advance by
 *   `n`, then look at `status`: `needMore` (all bytes were consumed into a
 *   14-byte internal buffer; read more), `header` (see `header`; its payload
 *   follows), or `error` (fail the connection with `error` /
 *   `errorCloseCode`; the parser stays failed until `reset()`);
 * - otherwise: `n = consumePayload(buf, start, end, dst?)` unmasks up to
 *   `remaining` payload bytes in place (or into `dst`), keeping the key phase
 *   across calls; once `remaining` reaches 0 the parser expects a header again.
 *
 * No per-frame allocation: `header` is reused. The parser
 * enforces §5.2–§5.5 and tracks fragmentation across frames (§5.4): control
 * frames may interleave with the fragments of a message.
 */
export class FrameParser {
  readonly header: ParsedHeader = new ParsedHeader();
  status: ParseStatus = ParseStatus.needMore;
  error: WsErrorName | null = null;
  errorCloseCode = 0;
  /** Payload bytes of the current frame not yet consumed. */
  remaining = 0;
  /**
   * Opcode (text/binary) of the data message the latest data frame belongs to;
   * stays set through its final frame (so a continuation's payload can be
   * handled as text or binary) until the next message starts. 0 initially.
   */
  messageOpcode = 0;
  /** Whether that message had RSV1 set on its first frame (compressed, RFC 7692 §6). */
  messageCompressed = false;

  /** Set by the constructor or `configure` (a pooled parser serves another stream). */
  private requireMask: boolean;
  private rsv1Allowed: boolean;
  private inPayload = false;
  /** A data message has started and its final (FIN) frame has not been seen. */
  private fragmenting = false;
  private phase = 0;
  /**
   * A header split across chunks is assembled here. Made on first use: most
   * headers arrive whole, and an idle connection should not hold it (~0.2 KB).
   */
  private hbufStore: Uint8Array | null = null;

  private get hbuf(): Uint8Array {
    this.hbufStore ??= new Uint8Array(MAX_HEADER_SIZE);
    return this.hbufStore;
  }
  private hlen = 0;

  constructor(opts: FrameParserOptions) {
    this.requireMask = opts.role === 'server';
    this.rsv1Allowed = opts.rsv1Allowed ?? false;
  }

  /** True when the next bytes are a frame header (false while inside a payload). */
  get expectingHeader(): boolean {
    return !this.inPayload;
  }

  /** Whether a fragmented data message is in progress (its final frame not yet seen). */
  get inMessage(): boolean {
    return this.fragmenting;
  }

  /**
   * Between messages: no header half read, no payload or fragmented message
   * in progress, not failed. A parser at rest holds nothing a fresh one with
   * the same options would not, so a stream may give it up until more bytes
   * arrive (the stream's parser pool, impl.ts).
   */
  get atRest(): boolean {
    return !this.inPayload && !this.fragmenting && this.hlen === 0 && this.status !== ParseStatus.error;
  }

  /** Sets the options and resets the state: a pooled parser taken by a stream. */
  configure(role: 'client' | 'server', rsv1Allowed: boolean): void {
    this.requireMask = role === 'server';
    this.rsv1Allowed = rsv1Allowed;
    this.reset();
  }

  /** Back to the initial state (new connection). */
  reset(): void {
    this.status = ParseStatus.needMore;
    this.error = null;
    this.errorCloseCode = 0;
    this.remaining = 0;
    this.messageOpcode = 0;
    this.messageCompressed = false;
    this.fragmenting = false;
    this.inPayload = false;
    this.phase = 0;
    this.hlen = 0;
  }

  /**
   * Parses header bytes from `buf[start..end)`; returns how many were
   * consumed (never payload bytes). Check `status` afterwards.
   */
  parseHeader(buf: Uint8Array, start: number, end: number): number {
    if (this.status === ParseStatus.error) return 0;
    if (this.inPayload) throw new Error('FrameParser.parseHeader called inside a payload');
    const avail = end - start;
    if (this.hlen === 0) {
      // Fast path: the whole header is in this chunk; decode it in place.
      if (avail >= 2) {
        const b0 = buf[start]!;
        const b1 = buf[start + 1]!;
        if (!this.checkFirstBytes(b0, b1)) return 0;
        const need = sizeFromSecondByte(b1);
        if (avail >= need) return this.decode(buf, start) ? need : 0;
        this.hbuf.set(buf.subarray(start, end), 0);
        this.hlen = avail;
        this.status = ParseStatus.needMore;
        return avail;
      }
      if (avail === 1) {
        this.hbuf[0] = buf[start]!;
        this.hlen = 1;
      }
      this.status = ParseStatus.needMore;
      return avail;
    }
    // Slow path: continue a header split across chunks.
    let i = start;
    if (this.hlen === 1) {
      if (i >= end) return 0;
      this.hbuf[1] = buf[i++]!;
      this.hlen = 2;
      if (!this.checkFirstBytes(this.hbuf[0]!, this.hbuf[1]!)) return i - start;
    }
    const need = sizeFromSecondByte(this.hbuf[1]!);
    while (this.hlen < need && i < end) this.hbuf[this.hlen++] = buf[i++]!;
    if (this.hlen < need) {
      this.status = ParseStatus.needMore;
      return i - start;
    }
    this.hlen = 0;
    this.decode(this.hbuf, 0);
    return i - start;
  }

  /**
   * Consumes up to `remaining` payload bytes of `buf[start..end)` and returns
   * how many. Masked payloads are unmasked in place, or, if `dst` is given,
   * written unmasked to `dst` at `dstOffset` leaving `buf` untouched (an
   * unmasked payload is copied there).
   */
  consumePayload(buf: Uint8Array, start: number, end: number, dst?: Uint8Array, dstOffset = 0): number {
    const n = Math.min(this.remaining, end - start);
    if (n > 0) {
      if (dst === undefined) {
        if (this.header.masked)
          this.phase = maskRange(buf, start, start + n, keyBytes(this.header), this.phase);
      } else if (n < SMALL_PAYLOAD) {
        // Index loops, no views: two subarrays cost more than unmasking a
        // small payload (in-process echo profile: subarray + FastBuffer were
        // ~15% of the time at 32 B).
        if (this.header.masked) {
          maskSmall(dst, dstOffset, buf, start, n, keyBytes(this.header), this.phase);
          this.phase = (this.phase + n) & 3;
        } else {
          const end2 = start + n;
          for (let i = start, j = dstOffset; i < end2; i++, j++) dst[j] = buf[i] as number;
        }
      } else if (this.header.masked) {
        this.phase = Buffer.isBuffer(buf)
          ? maskCopyRange(dst, dstOffset, buf, start, n, keyBytes(this.header), this.phase)
          : maskInto(
              dst.subarray(dstOffset, dstOffset + n),
              buf.subarray(start, start + n),
              keyBytes(this.header),
              this.phase,
            );
      } else {
        dst.set(buf.subarray(start, start + n), dstOffset);
      }
      this.remaining -= n;
    }
    if (this.remaining === 0) this.inPayload = false;
    return n;
  }

  private fail(error: WsErrorName): false {
    this.status = ParseStatus.error;
    this.error = error;
    this.errorCloseCode = closeCodeFor(error);
    return false;
  }

  /** Checks everything bytes 0 and 1 decide (§5.2, §5.4, §5.5; RFC 7692 §6). */
  private checkFirstBytes(b0: number, b1: number): boolean {
    // §5.2: RSV2/RSV3 MUST be 0 unless an extension defines them; none we support does.
    if ((b0 & 0x30) !== 0) return this.fail('badReservedBits');
    const opcode = b0 & 0x0f;
    const fin = (b0 & 0x80) !== 0;
    const rsv1 = (b0 & 0x40) !== 0;
    if (opcode >= 8) {
      // §11.8: 0xB–0xF are reserved control opcodes.
      if (opcode > Opcode.pong) return this.fail('badOpcode');
      // §5.5: control frames MUST NOT be fragmented and carry ≤ 125 bytes.
      if (!fin) return this.fail('badControlFragment');
      if ((b1 & 0x7f) > 125) return this.fail('badControlSize');
      // RFC 7692 §6: RSV1 marks compressed *data* messages only.
      if (rsv1) return this.fail('badReservedBits');
    } else if (opcode === Opcode.cont) {
      // §5.4: a continuation frame must continue a fragmented message.
      if (!this.fragmenting) return this.fail('badContinuation');
      // RFC 7692 §6.1: RSV1 is set on the first frame of a message only.
      if (rsv1) return this.fail('badReservedBits');
    } else if (opcode <= Opcode.binary) {
      // §5.4: a new data message cannot start before the fragmented one ends.
      if (this.fragmenting) return this.fail('badDataFrame');
      if (rsv1 && !this.rsv1Allowed) return this.fail('badReservedBits');
    } else {
      // §11.8: 0x3–0x7 are reserved non-control opcodes.
      return this.fail('badOpcode');
    }
    // §5.1: clients MUST mask, servers MUST NOT.
    const masked = (b1 & 0x80) !== 0;
    if (masked !== this.requireMask) return this.fail(masked ? 'badMaskedFrame' : 'badUnmaskedFrame');
    return true;
  }

  /** Decodes a complete header at `src[off..)` (first bytes already checked). */
  private decode(src: Uint8Array, off: number): boolean {
    const b0 = src[off]!;
    const b1 = src[off + 1]!;
    let len = b1 & 0x7f;
    let o = off + 2;
    if (len === 126) {
      len = (src[o]! << 8) | src[o + 1]!;
      o += 2;
      // §5.2: "the minimal number of bytes MUST be used to encode the length".
      if (len < 126) return this.fail('badSize');
    } else if (len === 127) {
      const hi = ((src[o]! << 24) | (src[o + 1]! << 16) | (src[o + 2]! << 8) | src[o + 3]!) >>> 0;
      const lo = ((src[o + 4]! << 24) | (src[o + 5]! << 16) | (src[o + 6]! << 8) | src[o + 7]!) >>> 0;
      o += 8;
      // §5.2: the most significant bit MUST be 0.
      if (hi >= 0x80000000) return this.fail('badSize');
      if (hi === 0 && lo < 0x10000) return this.fail('badSize');
      // Valid on the wire but beyond what a JS number (and any buffer) can hold.
      if (hi >= 0x200000) return this.fail('messageTooBig');
      len = hi * 0x100000000 + lo;
    }
    const h = this.header;
    const opcode = b0 & 0x0f;
    h.fin = (b0 & 0x80) !== 0;
    h.rsv1 = (b0 & 0x40) !== 0;
    h.opcode = opcode;
    h.masked = (b1 & 0x80) !== 0;
    h.len = len;
    if (h.masked) {
      h.k0 = src[o]!;
      h.k1 = src[o + 1]!;
      h.k2 = src[o + 2]!;
      h.k3 = src[o + 3]!;
    }
    // Fragmentation state (§5.4); control frames leave it alone.
    if (opcode < 8) {
      if (opcode !== Opcode.cont) {
        this.messageOpcode = opcode;
        this.messageCompressed = h.rsv1;
      }
      this.fragmenting = !h.fin;
    }
    this.remaining = len;
    this.phase = 0;
    this.inPayload = len > 0;
    this.status = ParseStatus.header;
    return true;
  }
}

/** Header size implied by byte 1 (length code and MASK bit). */
function sizeFromSecondByte(b1: number): number {
  const l = b1 & 0x7f;
  return (l < 126 ? 2 : l === 126 ? 4 : 10) + ((b1 & 0x80) !== 0 ? 4 : 0);
}

/**
 * Parses the payload of a received close frame (§5.5.1): empty, or a 2-byte
 * big-endian code followed by a UTF-8 reason. An empty payload yields
 * `closeCode.none` (the peer sent no status; §7.1.5 calls it 1005).
 * Returns the reason, or the error to fail the connection with.
 */
export function parseClosePayload(payload: Uint8Array): CloseReason | WsErrorName {
  const n = payload.length;
  if (n === 0) return { code: closeCode.none, reason: '' };
  // A single byte cannot hold the 2-byte code; > 125 is not a valid control frame.
  if (n === 1 || n > 125) return 'badCloseSize';
  const code = (payload[0]! << 8) | payload[1]!;
  if (!isValidCloseCode(code)) return 'badCloseCode';
  if (n === 2) return { code, reason: '' };
  const reasonBytes = payload.subarray(2);
  // §5.5.1: the reason is UTF-8; §8.1: invalid UTF-8 fails the connection.
  if (!isValidUtf8(reasonBytes)) return 'badClosePayload';
  return {
    code,
    reason: Buffer.from(reasonBytes.buffer, reasonBytes.byteOffset, reasonBytes.length).toString('utf8'),
  };
}

/** Byte length of the close payload for `cr` (0 for `closeCode.none`). */
export function closePayloadSize(cr: CloseReason): number {
  return cr.code === closeCode.none ? 0 : 2 + Buffer.byteLength(cr.reason, 'utf8');
}

/**
 * Writes the close payload for `cr` into `out` at `offset` and returns its
 * length: nothing for `closeCode.none` (Beast sends an empty close frame then),
 * else the code and the UTF-8 reason. Throws a RangeError for a code that may
 * not be sent (§7.4) or a reason over 123 bytes (§5.5: control payload ≤ 125).
 */
export function writeClosePayload(out: Uint8Array, offset: number, cr: CloseReason): number {
  if (cr.code === closeCode.none) {
    if (cr.reason.length !== 0) throw new RangeError('a close reason needs a close code');
    return 0;
  }
  if (!isValidCloseCode(cr.code)) throw new RangeError(`close code ${cr.code} may not be sent`);
  const view = Buffer.from(out.buffer, out.byteOffset, out.byteLength);
  const reasonLen = Buffer.byteLength(cr.reason, 'utf8');
  if (reasonLen > maxCloseReasonBytes) {
    throw new RangeError(
      `close reason is ${reasonLen} bytes; at most ${maxCloseReasonBytes} fit a control frame`,
    );
  }
  view[offset] = cr.code >>> 8;
  view[offset + 1] = cr.code & 0xff;
  if (reasonLen > 0) view.write(cr.reason, offset + 2, reasonLen, 'utf8');
  return 2 + reasonLen;
}

/** The close payload for `cr` in a new Buffer (see `writeClosePayload`). */
export function serializeClosePayload(cr: CloseReason | number): Buffer {
  const r = typeof cr === 'number' ? { code: cr, reason: '' } : cr;
  const out = Buffer.allocUnsafe(closePayloadSize(r));
  writeClosePayload(out, 0, r);
  return out;
}
