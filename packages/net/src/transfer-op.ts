// The loop shared by asyncRead and asyncWrite over a fixed buffer sequence
// (Asio's read_op / write_op). Internal: index.ts does not re-export this file.

import {
  type ComposeImpl,
  type ComposeSelf,
  cancellationType,
  type ErrorCode,
  error,
} from '@tsio/completion-token';
import { BuffersSuffix, buffersPrefix, type ConstBufferSequence } from './buffer.js';
import {
  type CompletionCondition,
  type CompletionConditionFn,
  isCompletionCondition,
  transferAll,
} from './completion-condition.js';

/**
 * The arguments of the `(stream, buffers, condition?, token?)` overloads of
 * asyncRead / asyncWrite: a branded condition, or the token in its place
 * (then the condition is `transferAll()`).
 */
export function conditionAndToken<T>(
  conditionOrToken: CompletionCondition | T | undefined,
  token: T | undefined,
): { condition: CompletionConditionFn; token: T | undefined } {
  if (isCompletionCondition(conditionOrToken)) return { condition: conditionOrToken, token };
  return { condition: transferAll(), token: conditionOrToken as T | undefined };
}

/** Starts one `readSome` / `writeSome` on `views` with `self` as its handler. */
export type TransferStep = (views: ConstBufferSequence, self: ComposeSelf<[number]>) => void;

/**
 * Cancellation, as Asio documents for async_read / async_write: before any
 * byte has moved every type is honoured (nothing has happened yet, so even
 * `total` is side-effect free); after that `terminal` and `partial` only.
 */
export const afterProgress = cancellationType.terminal | cancellationType.partial;

export function transferBuffers(
  buffers: ConstBufferSequence,
  condition: CompletionConditionFn,
  step: TransferStep,
  finish?: (total: number) => void,
): ComposeImpl<[number]> {
  // One view is the common case (a frame, a header): it needs no suffix
  // object, and a step over all of it passes the caller's view unchanged.
  const single = buffers instanceof Uint8Array ? buffers : null;
  const rest = single === null ? new BuffersSuffix(buffers) : null;
  const size = single !== null ? single.length : (rest as BuffersSuffix).size();
  let total = 0;
  let started = false;

  const done = (self: ComposeSelf<[number]>, ec: ErrorCode | null): void => {
    finish?.(total);
    self.complete(ec, total);
  };

  return (self, ec, result) => {
    let max: number;
    if (!started) {
      started = true;
      // Asio would still issue one zero-length step here; completing directly is
      // equivalent, since asyncCompose posts a completion made during initiation.
      max = size === 0 ? 0 : condition(null, 0);
      if (max === 0) {
        done(self, null);
        return;
      }
      self.resetCancellationState(cancellationType.all);
    } else {
      const err = ec ?? null;
      const n = result as number;
      // Read before a reset below forgets it: a step that ignored a cancellation request
      // and completed normally must still end the operation.
      const requested = self.cancelled();
      if (n > 0) {
        if (total === 0) self.resetCancellationState(afterProgress);
        total += n;
        rest?.consume(n);
      }
      if ((!err && n === 0) || total === size) {
        done(self, err);
        return;
      }
      max = condition(err, total);
      if (max === 0) {
        done(self, err);
        return;
      }
      if (requested) {
        done(self, error.operationAborted);
        return;
      }
    }
    if (single !== null) {
      const end = Math.min(size, total + max);
      step(total === 0 && end === size ? single : single.subarray(total, end), self);
    } else {
      step(buffersPrefix(max, (rest as BuffersSuffix).data()), self);
    }
  };
}
