/**
 * Asio's completion conditions (`transfer_all`, `transfer_at_least`,
 * `transfer_exactly`), for `asyncRead` and `asyncWrite`.
 *
 * A condition is called as `(ec, bytesTransferredSoFar)` before the first
 * step and after each one, and returns the most bytes the next `readSome` /
 * `writeSome` may transfer; 0 ends the operation.
 *
 * Conditions are branded functions. `asyncRead(stream, buffers, x)` must tell
 * whether `x` is a condition or a completion handler, and both are functions
 * of `(ec, n)`; the brand is what decides, so a custom condition has to be
 * wrapped with {@link completionCondition}. An unwrapped one would be taken for
 * the completion handler (TypeScript cannot catch this: a function returning a
 * number is assignable to one returning void).
 *
 * Unlike Asio, the built-in conditions do not cap a step at 64 KiB
 * (`default_max_transfer_size`): a Node stream takes a whole buffer at once,
 * and splitting a large write only adds steps.
 */

import type { ErrorCode } from '@tsio/completion-token';

const conditionBrand: unique symbol = Symbol.for('tsio.completionCondition');

/** The function inside a {@link CompletionCondition}. */
export type CompletionConditionFn = (ec: ErrorCode | null, bytesTransferred: number) => number;

/** A completion condition: a {@link CompletionConditionFn} carrying the brand that tells it from a handler. */
export interface CompletionCondition extends CompletionConditionFn {
  readonly [conditionBrand]: true;
}

const UNLIMITED = Number.POSITIVE_INFINITY;

/** Brands `fn` as a completion condition (a wrapper: `fn` itself is left untouched). */
export function completionCondition(fn: CompletionConditionFn): CompletionCondition {
  const c = ((ec: ErrorCode | null, n: number) => fn(ec, n)) as CompletionConditionFn & {
    [conditionBrand]?: true;
  };
  c[conditionBrand] = true;
  return c as CompletionCondition;
}

export function isCompletionCondition(x: unknown): x is CompletionCondition {
  return typeof x === 'function' && (x as { [conditionBrand]?: unknown })[conditionBrand] === true;
}

const all = completionCondition((ec) => (ec ? 0 : UNLIMITED));

/** Asio's `transfer_all()`: transfer until the buffers are full (or, for a dynamic buffer, until eof) or an error. */
export function transferAll(): CompletionCondition {
  return all;
}

function checkCount(n: number, what: string): void {
  if (!(Number.isInteger(n) && n >= 0))
    throw new RangeError(`${what} must be a non-negative integer, got ${n}`);
}

/** Asio's `transfer_at_least(n)`: stop once `n` bytes have been transferred (a step may transfer more), or on error. */
export function transferAtLeast(n: number): CompletionCondition {
  checkCount(n, 'transferAtLeast');
  return completionCondition((ec, total) => (!ec && total < n ? UNLIMITED : 0));
}

/** Asio's `transfer_exactly(n)`: never ask a step for more than the `n - total` bytes still wanted. */
export function transferExactly(n: number): CompletionCondition {
  checkCount(n, 'transferExactly');
  return completionCondition((ec, total) => (!ec && total < n ? n - total : 0));
}
