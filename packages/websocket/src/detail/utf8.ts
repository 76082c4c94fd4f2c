/**
 * Incremental UTF-8 validation for text messages (RFC 6455 §5.6, §8.1: an
 * endpoint receiving invalid UTF-8 in a text message or close reason MUST
 * fail the connection, with close code 1007).
 *
 * Text messages arrive in frames and frames in chunks, so the validator keeps
 * the state of a sequence split across chunks. It fails at the first chunk
 * in which the input can no longer be the prefix of valid UTF-8 (RFC 3629
 * §4): that includes *truncated* sequences already known to be bad — an
 * overlong lead (`E0 80`, `F0 80`), a surrogate (`ED A0`), a code point above
 * U+10FFFF (`F4 90`) — so a peer cannot make us buffer a doomed message.
 *
 * Whole chunks are checked by Node's native `buffer.isUtf8` (simdutf); only
 * the at most 3 bytes of a sequence split at a chunk boundary go through the
 * byte-at-a-time automaton below.
 */
import { isUtf8 } from 'node:buffer';

/** Below this length the JS automaton is cheaper than a native call plus a subarray. */
const NATIVE_THRESHOLD = 32;

export class Utf8Checker {
  /** Continuation bytes still expected for the current sequence (0–3). */
  private need = 0;
  /** Inclusive range the next continuation byte must fall in (RFC 3629 §4 narrows the second byte). */
  private lo = 0x80;
  private hi = 0xbf;
  private failed = false;

  /** Forgets all state, for reuse with the next message. */
  reset(): void {
    this.need = 0;
    this.lo = 0x80;
    this.hi = 0xbf;
    this.failed = false;
  }

  /** Whether the input so far can be the prefix of valid UTF-8. Sticky once false. */
  get valid(): boolean {
    return !this.failed;
  }

  /**
   * Feeds the next bytes (`bytes[start..end)`). Returns false as soon as the
   * input seen so far cannot be the start of valid UTF-8.
   */
  write(bytes: Uint8Array, start = 0, end = bytes.length): boolean {
    if (this.failed) return false;
    let i = start;
    // 1. Complete a sequence left open by the previous chunk.
    while (this.need > 0 && i < end) {
      const b = bytes[i]!;
      if (b < this.lo || b > this.hi) return this.fail();
      this.lo = 0x80;
      this.hi = 0xbf;
      this.need--;
      i++;
    }
    if (i >= end) return true;
    if (end - i < NATIVE_THRESHOLD) return this.scan(bytes, i, end);
    // 2. Split off an incomplete sequence at the end of the chunk: the last
    //    lead byte among the final 3 bytes whose sequence does not fit.
    const cut = incompleteTailStart(bytes, i, end);
    // 3. Everything before it is complete; let the native validator judge it.
    if (cut > i && !isUtf8(bytes.subarray(i, cut))) return this.fail();
    // 4. The tail (≤ 3 bytes) goes through the automaton, which rejects a bad prefix now.
    return cut < end ? this.scan(bytes, cut, end) : true;
  }

  /**
   * Call at the end of the message: returns false if the input was invalid
   * or ends inside a multi-byte sequence.
   */
  finish(): boolean {
    if (this.failed) return false;
    if (this.need !== 0) return this.fail();
    return true;
  }

  private fail(): false {
    this.failed = true;
    return false;
  }

  /** The byte-at-a-time automaton (RFC 3629 §4 table). */
  private scan(bytes: Uint8Array, i: number, end: number): boolean {
    let need = this.need;
    let lo = this.lo;
    let hi = this.hi;
    for (; i < end; i++) {
      const b = bytes[i]!;
      if (need > 0) {
        if (b < lo || b > hi) return this.fail();
        lo = 0x80;
        hi = 0xbf;
        need--;
      } else if (b < 0x80) {
        // ASCII
      } else if (b < 0xc2) {
        return this.fail(); // continuation without lead, or overlong C0/C1
      } else if (b < 0xe0) {
        need = 1;
      } else if (b < 0xf0) {
        need = 2;
        if (b === 0xe0)
          lo = 0xa0; // overlong below U+0800
        else if (b === 0xed) hi = 0x9f; // UTF-16 surrogates U+D800..DFFF
      } else if (b < 0xf5) {
        need = 3;
        if (b === 0xf0)
          lo = 0x90; // overlong below U+10000
        else if (b === 0xf4) hi = 0x8f; // above U+10FFFF
      } else {
        return this.fail();
      }
    }
    this.need = need;
    this.lo = lo;
    this.hi = hi;
    return true;
  }
}

/** Length of the sequence a lead byte starts; 1 for ASCII and for bytes that cannot lead. */
function sequenceLength(b: number): number {
  if (b < 0xc2) return 1;
  if (b < 0xe0) return 2;
  if (b < 0xf0) return 3;
  if (b < 0xf5) return 4;
  return 1;
}

/** Start of a multi-byte sequence that begins in the last 3 bytes and runs past `end`, else `end`. */
function incompleteTailStart(bytes: Uint8Array, start: number, end: number): number {
  const stop = Math.max(start, end - 3);
  for (let j = end - 1; j >= stop; j--) {
    const b = bytes[j]!;
    if ((b & 0xc0) !== 0x80) {
      // Not a continuation byte: the last sequence starts here.
      return j + sequenceLength(b) > end ? j : end;
    }
  }
  return end;
}

/** One-shot validation of a complete buffer (e.g. a close reason). */
export function isValidUtf8(bytes: Uint8Array): boolean {
  return isUtf8(bytes);
}
