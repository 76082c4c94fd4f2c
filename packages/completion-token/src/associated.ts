import type { Executor } from '@tsio/executor';
import type { CancellationSlot } from './cancellation.js';

/** Property keys under which a handler carries its associations (Asio's associators). */
export const associatedExecutorKey: unique symbol = Symbol.for('tsio.associatedExecutor');
export const associatedSlotKey: unique symbol = Symbol.for('tsio.associatedCancellationSlot');

/**
 * Marks a handler that only settles a promise. Its caller resumes in a
 * promise reaction — a microtask, never inline — so when the handler's
 * executor is the default one (which runs nothing else in between that the
 * caller could observe), a completion may call it at once instead of posting
 * it first: the `await` costs one queue trip fewer. With any other executor
 * (an `IoContext`, a strand) it is posted as usual, so nothing resolves
 * before that executor runs.
 */
export const settlesPromise: unique symbol = Symbol('tsio.settlesPromise');

/** True when `handler` carries the `settlesPromise` mark. */
export function isPromiseSettler(handler: Carrier): boolean {
  return (handler as { [settlesPromise]?: true })[settlesPromise] === true;
}

/** A handler function that may carry an associated executor and cancellation slot. */
export interface Associated {
  [associatedExecutorKey]?: Executor;
  [associatedSlotKey]?: CancellationSlot;
}

type Carrier = object | ((...args: never[]) => unknown);

/** `asio::get_associated_executor(handler, fallback)`. */
export function getAssociatedExecutor(handler: Carrier, fallback: Executor): Executor {
  return (handler as Associated)[associatedExecutorKey] ?? fallback;
}

/** `asio::get_associated_cancellation_slot(handler)`; undefined when none is connected. */
export function getAssociatedCancellationSlot(handler: Carrier): CancellationSlot | undefined {
  return (handler as Associated)[associatedSlotKey];
}

/** Copies the associations of `from` onto `to` (used by every adapter that wraps a handler). */
export function copyAssociations<T extends Carrier>(to: T, from: Carrier): T {
  const src = from as Associated;
  const dst = to as Associated;
  if (src[associatedExecutorKey]) dst[associatedExecutorKey] = src[associatedExecutorKey];
  if (src[associatedSlotKey]) dst[associatedSlotKey] = src[associatedSlotKey];
  return to;
}
