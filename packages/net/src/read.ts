/**
 * Asio's `async_read`: reads into a buffer sequence until it is full, or into
 * a DynamicBuffer until eof, or until a completion condition says stop —
 * composed only of the stream's `readSome` (DESIGN.md, contract 2).
 *
 * Completion `(ec, bytesTransferred)`; the bytes are in the buffers even when
 * `ec` is set. As in Asio:
 * - reading to eof into a DynamicBuffer with `transferAll()` completes with
 *   `eof` and the count of bytes read (eof is how that read ends);
 * - a DynamicBuffer that reaches its `maxSize()` ends the read with success:
 *   each step prepares at most the room left, so the buffer never overflows;
 * - a condition returning 0 before the first step completes with 0 at once
 *   (posted, never inline).
 *
 * Cancellation: any type before the first byte arrives, then terminal and
 * partial (the bytes read stay in the buffers); completes with
 * `operationAborted`.
 */

import {
  type AsyncResult,
  asyncCompose,
  type CompletionToken,
  type ComposeImpl,
  cancellationType,
  type DefaultToken,
  error,
} from '@tsio/completion-token';
import type { MutableBufferSequence } from './buffer.js';
import type { CompletionCondition, CompletionConditionFn } from './completion-condition.js';
import { type DynamicBuffer, isDynamicBuffer } from './dynamic-buffer.js';
import type { AsyncReadStream } from './stream.js';
import { afterProgress, conditionAndToken, transferBuffers } from './transfer-op.js';

/** Asio reads at least this much into a dynamic buffer per step when it has the room (read.hpp). */
const MIN_DYNAMIC_READ = 512;

/**
 * Reads until the buffers are full (buffer sequence) or eof (DynamicBuffer),
 * i.e. with `transferAll()`.
 */
export function asyncRead<T extends CompletionToken<[number]> = DefaultToken<[number]>>(
  stream: AsyncReadStream,
  buffers: MutableBufferSequence | DynamicBuffer,
  token?: T,
): AsyncResult<T, [number]>;
/** Reads until `condition` returns 0 (see {@link transferAtLeast}, {@link transferExactly}). */
export function asyncRead<T extends CompletionToken<[number]> = DefaultToken<[number]>>(
  stream: AsyncReadStream,
  buffers: MutableBufferSequence | DynamicBuffer,
  condition: CompletionCondition,
  token?: T,
): AsyncResult<T, [number]>;
export function asyncRead<T extends CompletionToken<[number]> = DefaultToken<[number]>>(
  stream: AsyncReadStream,
  buffers: MutableBufferSequence | DynamicBuffer,
  conditionOrToken?: CompletionCondition | T,
  token?: T,
): AsyncResult<T, [number]> {
  const args = conditionAndToken(conditionOrToken, token);
  const condition = args.condition;
  token = args.token;
  let impl: ComposeImpl<[number]>;
  if (buffers instanceof Uint8Array || Array.isArray(buffers)) {
    impl = transferBuffers(buffers as MutableBufferSequence, condition, (views, self) => {
      stream.readSome(views as MutableBufferSequence, self);
    });
  } else if (isDynamicBuffer(buffers)) {
    impl = readDynamic(stream, buffers, condition);
  } else {
    throw new TypeError('asyncRead: buffers must be a Uint8Array, an array of them, or a DynamicBuffer');
  }
  return asyncCompose<[number], T>(impl, token, stream);
}

function readDynamic(
  stream: AsyncReadStream,
  buffer: DynamicBuffer,
  condition: CompletionConditionFn,
): ComposeImpl<[number]> {
  let total = 0;
  let started = false;
  // Asio's sizing: at least 512 bytes when there is room (fewer tiny reads), at
  // most the unused capacity beyond that (no growth just for the step), never
  // more than the condition allows or than maxSize leaves room for.
  const room = (max: number): number => {
    const size = buffer.size();
    return Math.min(Math.max(MIN_DYNAMIC_READ, buffer.capacity() - size), max, buffer.maxSize() - size);
  };
  return (self, ec, result) => {
    let want: number;
    if (!started) {
      started = true;
      want = room(condition(null, 0));
      if (want === 0) {
        self.complete(null, 0);
        return;
      }
      self.resetCancellationState(cancellationType.all);
    } else {
      const err = ec ?? null;
      const n = result as number;
      const requested = self.cancelled();
      buffer.commit(n);
      if (n > 0) {
        if (total === 0) self.resetCancellationState(afterProgress);
        total += n;
      }
      want = room(condition(err, total));
      if ((!err && n === 0) || want === 0) {
        self.complete(err, total);
        return;
      }
      if (requested) {
        self.complete(error.operationAborted, total);
        return;
      }
    }
    stream.readSome(buffer.prepare(want), self);
  };
}
