/**
 * Asio's `async_read_until` for a DynamicBuffer: reads until the readable
 * bytes contain `delimiter`, composed only of the stream's `readSome`.
 *
 * Completion `(ec, n)`: on success `n` is the number of readable bytes up to
 * and including the delimiter's end (the first match); bytes after it may
 * also have been read and stay in the buffer for the next call. As in Asio:
 * - data already in the buffer is searched first; a match there completes
 *   without reading (posted, never inline);
 * - a buffer that reaches `maxSize()` without a match completes with
 *   `miscError.notFound` and 0 (`asio::error::not_found`);
 * - eof (or any error) before a match completes with that error and 0; what
 *   was read stays in the buffer.
 *
 * A string delimiter is matched as its UTF-8 bytes. A RegExp is run on the
 * readable bytes decoded as latin1 (one character per byte, so match indices
 * are byte offsets; write non-ASCII bytes as `\xNN`); like Asio's regex
 * overload, the first complete match in the data read so far wins, even if
 * more data could have made a greedy pattern match longer. A `g` or `y`
 * RegExp is searched from index 0 each time.
 *
 * Cancellation: any type before the first byte arrives, then terminal and
 * partial (bytes read stay in the buffer); completes with `operationAborted`.
 */

import {
  type AsyncResult,
  asyncCompose,
  type CompletionToken,
  cancellationType,
  type DefaultToken,
  defineErrors,
  ErrorCategory,
  error,
} from '@tsio/completion-token';
import type { ConstBufferSequence } from './buffer.js';
import type { DynamicBuffer } from './dynamic-buffer.js';
import type { AsyncReadStream } from './stream.js';
import { afterProgress } from './transfer-op.js';

/** Asio's `error::misc_errors` that completion-token's `error` set does not have. */
export const miscCategory: ErrorCategory = new ErrorCategory('net.misc');

export const miscError = defineErrors(
  miscCategory,
  {
    /** `asio::error::not_found`: read_until filled the buffer without finding the delimiter. */
    notFound: 'Element not found',
  },
  3, // Asio's value for not_found in misc_errors.
);

/** Asio's read sizing for read_until: at least 512 when there is room, at most 64 KiB per step. */
const MIN_READ = 512;
const MAX_READ = 65536;

export type ReadUntilDelimiter = string | Uint8Array | RegExp;

function asBuffer(v: Uint8Array): Buffer {
  return Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

/** The bytes of `data` from `start` on, as one Buffer: a view when they are in one view, else a copy. */
function window(data: ConstBufferSequence, start: number): Buffer {
  if (data instanceof Uint8Array) return asBuffer(data).subarray(start);
  if (data.length === 1) return asBuffer(data[0] as Uint8Array).subarray(start);
  const parts: Uint8Array[] = [];
  let skip = start;
  for (const v of data) {
    if (skip >= v.length) {
      skip -= v.length;
      continue;
    }
    parts.push(skip > 0 ? v.subarray(skip) : v);
    skip = 0;
  }
  return Buffer.concat(parts);
}

/** Reads into `buffer` until it contains `delimiter`; completes with the length up to and including it. */
export function asyncReadUntil<T extends CompletionToken<[number]> = DefaultToken<[number]>>(
  stream: AsyncReadStream,
  buffer: DynamicBuffer,
  delimiter: ReadUntilDelimiter,
  token?: T,
): AsyncResult<T, [number]> {
  let regex: RegExp | null = null;
  let delim: Buffer | null = null;
  if (delimiter instanceof RegExp) regex = delimiter;
  else delim = typeof delimiter === 'string' ? Buffer.from(delimiter, 'utf8') : asBuffer(delimiter);
  // Where the next search starts: a match cannot begin before the last
  // delim.length - 1 bytes already searched, so only new bytes plus that tail
  // are searched again (Asio keeps the start of a partial match for the same reason).
  let searchFrom = 0;
  let started = false;
  let progressed = false;

  /** The end of the first match, or -1. */
  const search = (): number => {
    const size = buffer.size();
    if (regex) {
      const text = window(buffer.data(), 0).toString('latin1');
      regex.lastIndex = 0;
      const m = regex.exec(text);
      return m ? m.index + m[0].length : -1;
    }
    const d = delim as Buffer;
    if (d.length === 0) return 0;
    if (size - searchFrom >= d.length) {
      const i = window(buffer.data(), searchFrom).indexOf(d);
      if (i >= 0) return searchFrom + i + d.length;
    }
    searchFrom = Math.max(searchFrom, size - d.length + 1);
    return -1;
  };

  return asyncCompose<[number], T>(
    (self, ec, result) => {
      if (!started) {
        started = true;
        self.resetCancellationState(cancellationType.all);
      } else {
        const n = result as number;
        const requested = self.cancelled();
        buffer.commit(n);
        if (ec || n === 0) {
          // A conforming stream never reports 0 bytes without an error for a non-empty
          // read; should one do so, treat it as the end of the stream rather than spin.
          self.complete(ec ?? error.eof, 0);
          return;
        }
        if (!progressed) {
          progressed = true;
          self.resetCancellationState(afterProgress);
        }
        if (requested) {
          self.complete(error.operationAborted, 0);
          return;
        }
      }
      const end = search();
      if (end >= 0) {
        self.complete(null, end);
        return;
      }
      const size = buffer.size();
      const max = buffer.maxSize();
      if (size >= max) {
        self.complete(miscError.notFound, 0);
        return;
      }
      const want = Math.min(Math.max(MIN_READ, buffer.capacity() - size), MAX_READ, max - size);
      stream.readSome(buffer.prepare(want), self);
    },
    token,
    stream,
  );
}
