import type { Executor } from '@tsio/executor';
import type { CancellationSlot } from './cancellation.js';

/** Property keys under which a handler carries its associations (Asio's associators). */
export const associatedExecutorKey: unique symbol = Symbol.for('tsio.associatedExecutor');
export const associatedSlotKey: unique symbol = Symbol.for('tsio.associatedCancellationSlot');

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
