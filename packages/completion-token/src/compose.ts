import { defaultExecutor, type Executor, type ExecutorOrContext, toExecutor } from '@tsio/executor';
import {
  type Associated,
  associatedExecutorKey,
  associatedSlotKey,
  copyAssociations,
  getAssociatedCancellationSlot,
  getAssociatedExecutor,
} from './associated.js';
import {
  type AsyncResult,
  asyncInitiate,
  type CompletionHandler,
  type CompletionToken,
  type DefaultToken,
} from './async-result.js';
import {
  type CancellationSlot,
  CancellationState,
  type CancellationType,
  cancellationType,
} from './cancellation.js';
import type { ErrorCode } from './error.js';

/**
 * The `self` of a composed operation (Asio's `async_compose`). Passed as the
 * handler of an intermediate operation it re-enters the implementation with
 * that operation's results; `complete` finishes the composed operation.
 */
export interface ComposeSelf<V extends unknown[]> {
  (ec: ErrorCode | null, ...results: unknown[]): void;
  /** Completes the operation: posted if still inside the initiating call, else dispatched. */
  complete(ec: ErrorCode | null, ...values: V): void;
  /** A handler for an intermediate step that runs `fn`, with this operation's executor and cancellation slot. */
  bind<A extends unknown[]>(fn: (ec: ErrorCode | null, ...results: A) => void): CompletionHandler<A>;
  /** The executor intermediate steps complete on (the final handler's associated executor). */
  getExecutor(): Executor;
  /** The cancellation types requested so far, filtered by what the operation supports. */
  cancelled(): CancellationType;
  /** Changes which cancellation types the operation honours from now on (default terminal). */
  resetCancellationState(filter?: CancellationType): void;
  /** The slot intermediate operations attach to. */
  cancellationSlot(): CancellationSlot;
}

export type ComposeImpl<V extends unknown[]> = (
  self: ComposeSelf<V>,
  ec?: ErrorCode | null,
  ...results: unknown[]
) => void;

/** Something whose executor counts the operation's work: an executor, a context or an I/O object. */
export type IoObject = ExecutorOrContext | { getExecutor(): Executor };

function executorOf(io: IoObject): Executor {
  if ('getExecutor' in io && typeof io.getExecutor === 'function' && !('post' in io)) return io.getExecutor();
  return toExecutor(io as ExecutorOrContext);
}

/**
 * Asio's `async_compose`: builds an operation that works with every token
 * from an implementation that is called once with `self` and again with
 * each intermediate result when `self` is used as a handler. Work is counted
 * on the I/O objects' executors while the operation is outstanding.
 */
export function asyncCompose<V extends unknown[], T extends CompletionToken<V> = DefaultToken<V>>(
  impl: ComposeImpl<V>,
  token: T | undefined,
  ...ioObjects: IoObject[]
): AsyncResult<T, V> {
  const executors = ioObjects.map(executorOf);
  const ioExecutor = executors[0] ?? defaultExecutor();
  return asyncInitiate<V, [], T>(
    {
      executor: ioExecutor,
      initiate(handler: CompletionHandler<V>) {
        for (const ex of executors) ex.onWorkStarted();
        const state = new CancellationState(
          getAssociatedCancellationSlot(handler),
          cancellationType.terminal,
        );
        const executor = getAssociatedExecutor(handler, ioExecutor);
        let completed = false;
        const self = ((ec: ErrorCode | null, ...results: unknown[]) => {
          impl(self, ec, ...results);
        }) as ComposeSelf<V> & Associated;
        self[associatedExecutorKey] = executor;
        self[associatedSlotKey] = state.slot();
        self.complete = (ec, ...values) => {
          if (completed) throw new Error('tsio: a composed operation completed twice');
          completed = true;
          // Release the work before the handler runs (Asio's rule), so a chain
          // of the same operation does not keep an IoContext alive twice.
          for (const ex of executors) ex.onWorkFinished();
          handler(ec, ...values);
        };
        self.bind = <A extends unknown[]>(fn: (ec: ErrorCode | null, ...results: A) => void) =>
          copyAssociations((ec: ErrorCode | null, ...r: A) => fn(ec, ...r), self) as CompletionHandler<A>;
        self.getExecutor = () => executor;
        self.cancelled = () => state.cancelled();
        self.resetCancellationState = (filter) => state.reset(filter);
        self.cancellationSlot = () => state.slot();
        impl(self);
      },
    },
    token,
  );
}
