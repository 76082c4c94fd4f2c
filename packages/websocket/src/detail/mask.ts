/**
 * Payload masking (RFC 6455 §5.3): every byte `i` of a masked payload is
 * XORed with `key[i % 4]`. Masking and unmasking are the same operation.
 *
 * Payloads arrive in chunks, so every function takes a *phase*: the index
 * (mod 4) of the key byte that applies to the first byte given. A payload
 * split at any points and masked chunk by chunk, each with phase equal to the
 * number of payload bytes before it, equals the payload masked in one go.
 *
 * Three implementations, selected by size:
 * - a byte loop for tiny buffers (no allocation; most 32-byte chat messages);
 * - 32 bits at a time through an aligned `Uint32Array` view;
 * - WebAssembly SIMD (see mask-wasm.ts) for large buffers, copying through
 *   the module's 64 KiB memory. Falls back to JS if WebAssembly SIMD is absent.
 */
import { randomFillSync } from 'node:crypto';
import { createWasmMasker, WASM_CHUNK, type WasmMasker } from './mask-wasm.js';

/** Below this many bytes the unrolled byte loop beats creating a Uint32Array view (Node 20, x64). */
const WORD_THRESHOLD = 64;
/**
 * From this many bytes on, WebAssembly SIMD (plus two copies through its memory,
 * ~100 ns fixed cost) beats the JS loops: measured on Node 20, x64, ~equal at
 * 128 B, 3x faster at 1 KiB, 5x at 64 KiB.
 */
let wasmThreshold = 128;

const wasm: WasmMasker | null = createWasmMasker();

/** Whether the WebAssembly SIMD path is available in this process. */
export const hasWasmMask: boolean = wasm !== null;

/** Native-endian order of the key word: on a little-endian host byte 0 is the low byte. */
const littleEndian = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** The key bytes rotated by `phase`, as a little-endian uint32 (byte `phase` lowest). */
function keyWordLE(key: Uint8Array, phase: number): number {
  return (
    (key[phase & 3]! |
      (key[(phase + 1) & 3]! << 8) |
      (key[(phase + 2) & 3]! << 16) |
      (key[(phase + 3) & 3]! << 24)) >>>
    0
  );
}

/** The key word to XOR onto a native-endian Uint32Array element whose first byte has key index `phase`. */
function keyWordNative(key: Uint8Array, phase: number): number {
  if (littleEndian) return keyWordLE(key, phase);
  return (
    ((key[phase & 3]! << 24) |
      (key[(phase + 1) & 3]! << 16) |
      (key[(phase + 2) & 3]! << 8) |
      key[(phase + 3) & 3]!) >>>
    0
  );
}

/**
 * The byte loop every small range goes through: `n` bytes of `src` from
 * `srcOffset`, masked with `key` from key index `phase`, written to `dst`
 * from `dstOffset` (the same bytes when masking in place). Unrolled by the
 * key length, with the key rotated to the phase once, so no per-byte phase
 * arithmetic; no views, which cost more than masking a few dozen bytes.
 */
export function maskSmall(
  dst: Uint8Array,
  dstOffset: number,
  src: Uint8Array,
  srcOffset: number,
  n: number,
  key: Uint8Array,
  phase: number,
): void {
  const a = key[phase & 3]!;
  const b = key[(phase + 1) & 3]!;
  const c = key[(phase + 2) & 3]!;
  const d = key[(phase + 3) & 3]!;
  let i = srcOffset;
  let j = dstOffset;
  const end = srcOffset + n;
  for (const end4 = srcOffset + (n & ~3); i < end4; i += 4, j += 4) {
    dst[j] = src[i]! ^ a;
    dst[j + 1] = src[i + 1]! ^ b;
    dst[j + 2] = src[i + 2]! ^ c;
    dst[j + 3] = src[i + 3]! ^ d;
  }
  if (i < end) {
    dst[j] = src[i]! ^ a;
    if (i + 1 < end) {
      dst[j + 1] = src[i + 1]! ^ b;
      if (i + 2 < end) dst[j + 2] = src[i + 2]! ^ c;
    }
  }
}

/** `buf[start, end)` masked in place. */
function maskBytes(buf: Uint8Array, start: number, end: number, key: Uint8Array, phase: number): void {
  maskSmall(buf, start, buf, start, end - start, key, phase);
}

/** JS path: bytes up to a 4-byte-aligned address, then whole words, then the tail. */
export function maskJs(buf: Uint8Array, key: Uint8Array, phase = 0): number {
  const len = buf.length;
  phase &= 3;
  if (len < WORD_THRESHOLD) {
    maskBytes(buf, 0, len, key, phase);
    return (phase + len) & 3;
  }
  const head = (4 - (buf.byteOffset & 3)) & 3;
  maskBytes(buf, 0, head, key, phase);
  const wordPhase = (phase + head) & 3;
  const words = (len - head) >>> 2;
  const view = new Uint32Array(buf.buffer, buf.byteOffset + head, words);
  const k = keyWordNative(key, wordPhase);
  for (let i = 0; i < words; i++) view[i]! ^= k;
  const tail = head + words * 4;
  maskBytes(buf, tail, len, key, (phase + tail) & 3);
  return (phase + len) & 3;
}

/** The module memory's first `n` bytes as a view, kept for the next call with the same `n`. */
let memViewLength = -1;
let memView: Uint8Array | null = null;

function wasmOutput(w: WasmMasker, n: number): Uint8Array {
  if (n !== memViewLength) {
    memView = w.mem.subarray(0, n);
    memViewLength = n;
  }
  return memView as Uint8Array;
}

/**
 * Copies the module memory's first `n` bytes to `dst` at `off`. Directly: a
 * detour through a plain array for large destinations measured slower once
 * their pages had been touched, and the same into fresh pages, which cost
 * their page faults either way (docs/performance.md, item 41).
 */
function copyOutOfWasm(w: WasmMasker, n: number, dst: Uint8Array, off: number): void {
  dst.set(wasmOutput(w, n), off);
}

/** WebAssembly path; `src` and `dst` have the same length and may be the same bytes. */
function maskWasm(w: WasmMasker, dst: Uint8Array, src: Uint8Array, key: Uint8Array, phase: number): void {
  // Every chunk is a multiple of 4 bytes long, so the key phase is the same for all chunks.
  const k = keyWordLE(key, phase);
  const mem = w.mem;
  const len = src.length;
  for (let off = 0; off < len; off += WASM_CHUNK) {
    const n = Math.min(WASM_CHUNK, len - off);
    mem.set(off === 0 && n === len ? src : src.subarray(off, off + n), 0);
    w.mask(n, k);
    copyOutOfWasm(w, n, dst, off);
  }
}

/**
 * Masks (or unmasks) `buf` in place with the 4-byte `key` (only `key[0..3]`
 * is read), starting at key index `phase` (0–3). Returns the phase for the
 * byte after `buf`, to pass when masking the next chunk of the same payload.
 */
export function mask(buf: Uint8Array, key: Uint8Array, phase = 0): number {
  if (wasm !== null && buf.length >= wasmThreshold) {
    phase &= 3;
    maskWasm(wasm, buf, buf, key, phase);
    return (phase + buf.length) & 3;
  }
  return maskJs(buf, key, phase);
}

/**
 * Like `mask(buf.subarray(start, end), key, phase)` without creating a view
 * for small ranges (a subarray costs about as much as masking 32 bytes):
 * this is what the frame parser calls per payload chunk.
 */
export function maskRange(buf: Uint8Array, start: number, end: number, key: Uint8Array, phase = 0): number {
  phase &= 3;
  if (end - start < WORD_THRESHOLD) {
    maskBytes(buf, start, end, key, phase);
    return (phase + end - start) & 3;
  }
  return mask(buf.subarray(start, end), key, phase);
}

/**
 * Writes `src` masked with `key` (from key index `phase`) into `dst`, which
 * must be at least `src.length` bytes; `src` is left untouched unless it is
 * the same memory as `dst`. Returns the phase after the last byte.
 *
 * This is how the read side unmasks straight into the caller's buffer
 * instead of unmasking a copy (one pass fewer over large payloads).
 */
export function maskInto(dst: Uint8Array, src: Uint8Array, key: Uint8Array, phase = 0): number {
  const len = src.length;
  phase &= 3;
  if (wasm !== null && len >= wasmThreshold) {
    maskWasm(wasm, dst.length === len ? dst : dst.subarray(0, len), src, key, phase);
  } else if (len < WORD_THRESHOLD) {
    maskSmall(dst, 0, src, 0, len, key, phase);
  } else {
    const out = dst.length === len ? dst : dst.subarray(0, len);
    if (out.buffer !== src.buffer || out.byteOffset !== src.byteOffset) out.set(src);
    maskJs(out, key, phase);
  }
  return (phase + len) & 3;
}

/**
 * `maskInto(dst.subarray(dstOffset, dstOffset + n), src.subarray(srcOffset, srcOffset + n), key, phase)`
 * with fewer views: making a typed-array view costs 110–160 ns (Node 20), more than
 * unmasking 1 KiB with WebAssembly SIMD, and that path needed three. `Buffer#copy`
 * takes a source range, and the module memory's output view is kept between calls.
 * This is how a frame's payload goes from the read buffer to the caller's buffer.
 */
export function maskCopyRange(
  dst: Uint8Array,
  dstOffset: number,
  src: Buffer,
  srcOffset: number,
  n: number,
  key: Uint8Array,
  phase = 0,
): number {
  phase &= 3;
  if (wasm !== null && n >= wasmThreshold && n <= WASM_CHUNK) {
    src.copy(wasm.mem, 0, srcOffset, srcOffset + n);
    wasm.mask(n, keyWordLE(key, phase));
    copyOutOfWasm(wasm, n, dst, dstOffset);
    return (phase + n) & 3;
  }
  return maskInto(dst.subarray(dstOffset, dstOffset + n), src.subarray(srcOffset, srcOffset + n), key, phase);
}

/**
 * `maskInto(dst.subarray(dstOffset), src, key, phase)` without the view for
 * a small `src` (a frame of a few bytes costs less to mask than a view).
 */
export function maskCopy(
  dst: Uint8Array,
  dstOffset: number,
  src: Uint8Array,
  key: Uint8Array,
  phase = 0,
): number {
  const len = src.length;
  phase &= 3;
  if (len >= WORD_THRESHOLD) return maskInto(dst.subarray(dstOffset, dstOffset + len), src, key, phase);
  maskSmall(dst, dstOffset, src, 0, len, key, phase);
  return (phase + len) & 3;
}

/**
 * Overrides the size from which the WebAssembly path is used (for benchmarks
 * and tests): `Infinity` forces JS, `0` forces WebAssembly where available.
 * Returns the previous value.
 */
export function setWasmMaskThreshold(bytes: number): number {
  const prev = wasmThreshold;
  wasmThreshold = bytes;
  return prev;
}

// Masking keys must be unpredictable to prevent cache-poisoning attacks on
// intermediaries (RFC 6455 §5.3, §10.3), so they come from the CSPRNG. One
// syscall per 2048 keys keeps that off the per-frame cost.
const POOL_BYTES = 8192;
const pool = Buffer.allocUnsafe(POOL_BYTES);
let poolOffset = POOL_BYTES;

/**
 * Draws a fresh masking key from a batched `crypto.randomFillSync` pool.
 * Writes the 4 bytes into `out` at `offset` if given (no allocation),
 * otherwise returns them in a new 4-byte Buffer.
 */
export function generateMaskKey(out?: Uint8Array, offset = 0): Uint8Array {
  if (poolOffset + 4 > POOL_BYTES) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const dst = out ?? Buffer.allocUnsafe(4);
  const o = out === undefined ? 0 : offset;
  dst[o] = pool[poolOffset]!;
  dst[o + 1] = pool[poolOffset + 1]!;
  dst[o + 2] = pool[poolOffset + 2]!;
  dst[o + 3] = pool[poolOffset + 3]!;
  // Never hand out the same key twice: scrub the used bytes.
  pool.fill(0, poolOffset, poolOffset + 4);
  poolOffset += 4;
  return dst;
}
