import { type Executor, type Runnable, systemContext } from '@tsio/executor';
import { getAssociatedCancellationSlot, getAssociatedExecutor } from './associated.js';
import { type CompletionHandler, deliver } from './async-result.js';
import {
  type CancellationSlot,
  CancellationState,
  type CancellationType,
  cancellationType,
} from './cancellation.js';
import { bindAssociated } from './compose.js';
import type { ErrorCode } from './error.js';

const systemExecutor = systemContext.getExecutor();

/** Bits of `ComposedOperation.opPhase`. */
const INITIATING = 1;
const COMPLETED = 2;
/** Above those bits: how many arguments the final handler is called with (set by `complete`). */
const ARGC_SHIFT = 2;

/**
 * A composed operation written as a class, whose object can be started
 * again once it has completed — what `asyncCompose` builds, without its
 * per-operation allocations. An I/O object that runs the same operation
 * over and over (a WebSocket stream's read and write: one at a time, one
 * per message) keeps one object and restarts it, instead of allocating a
 * `self`, its state and its bound handlers for every message. Asio gets the
 * same effect from its recycling handler allocator (the last operation's
 * memory serves the next one, `thread_info_base`).
 *
 * The contract is `asyncCompose`'s: `begin(handler, ioExecutor)` counts work
 * on the I/O executor and calls `start()`; intermediate handlers come from
 * `bind`; `complete(ec, ...values)` finishes — posted to the handler's
 * associated executor while still inside `begin`, dispatched there later,
 * never inline. The object is free again (`released()`) just before the
 * final handler runs, so that handler may start the next operation on it.
 *
 * The subclass must not be started again before it has completed, and
 * nothing may call into it after completion except a new `begin`.
 */
export abstract class ComposedOperation<V extends unknown[]> implements Runnable {
  private opHandler: CompletionHandler<unknown[]> | null = null;
  /** The final handler's associated executor: where the operation's handlers run. */
  private opExecutor: Executor = systemExecutor;
  /** The I/O object's executor: counts the work, and is where unassociated intermediate handlers complete. */
  private opIoExecutor: Executor = systemExecutor;
  private opState: CancellationState | null = null;
  /**
   * `INITIATING` while `begin` runs, `COMPLETED` once `complete` was called,
   * and the final handler's argument count: one field for the three (a
   * long-lived object, kept per connection).
   */
  private opPhase = 0;
  private opEc: ErrorCode | null = null;
  private opValue: unknown = undefined;

  /** The operation's first step; called by `begin` once the handler is known. */
  protected abstract start(): void;

  /** Called when the operation has completed, just before its handler runs: the object may be begun again. */
  protected released(): void {}

  /** True between `begin` and the moment the final handler is invoked. */
  inProgress(): boolean {
    return this.opHandler !== null;
  }

  /** Starts the operation for `handler`; `ioExecutor` is the executor of the I/O object it runs on. */
  begin(handler: CompletionHandler<V>, ioExecutor: Executor): void {
    if (this.opHandler !== null) throw new Error('tsio: a composed operation was begun while in progress');
    const h = handler as CompletionHandler<unknown[]>;
    this.opHandler = h;
    this.opExecutor = getAssociatedExecutor(h, ioExecutor);
    this.opIoExecutor = ioExecutor;
    const slot = getAssociatedCancellationSlot(h);
    // Without a slot on the final handler nothing can emit to the children,
    // so the state is made only on demand (as asyncCompose does).
    this.opState = slot ? new CancellationState(slot, cancellationType.terminal) : null;
    ioExecutor.onWorkStarted();
    this.opPhase = INITIATING;
    try {
      this.start();
    } finally {
      this.opPhase &= ~INITIATING;
    }
  }

  /** Completes the operation: posted if still inside `begin`, else dispatched; exactly once. */
  complete(ec: ErrorCode | null, ...values: V): void;
  complete(ec: ErrorCode | null, value?: unknown, ..._more: unknown[]): void {
    if ((this.opPhase & COMPLETED) !== 0 || this.opHandler === null)
      throw new Error('tsio: a composed operation completed twice');
    this.opPhase |= COMPLETED;
    // Release the work before the handler runs (Asio's rule).
    this.opIoExecutor.onWorkFinished();
    // The final handler's slot (the state's parent) is done with this operation.
    this.opState?.parent?.clear();
    this.opEc = ec;
    // `arguments` rather than a rest parameter: no array per completion for the usual one value.
    // biome-ignore lint/complexity/noArguments: the arity decides the call, without a rest array
    const argc = arguments.length;
    this.opPhase = (this.opPhase & (INITIATING | COMPLETED)) | (argc << ARGC_SHIFT);
    // biome-ignore lint/complexity/noArguments: several values are rare; avoid a rest array for one
    this.opValue = argc <= 2 ? value : Array.prototype.slice.call(arguments, 1);
    deliver(this, this.opExecutor, (this.opPhase & INITIATING) !== 0, this.opHandler);
  }

  /** @internal Runs the final handler (the executor queues this object itself). */
  run(): void {
    const h = this.opHandler as CompletionHandler<unknown[]>;
    const ec = this.opEc;
    const v = this.opValue;
    const argc = this.opPhase >>> ARGC_SHIFT;
    this.opHandler = null;
    this.opValue = undefined;
    this.opState = null;
    this.released();
    if (argc === 2) h(ec, v);
    else if (argc < 2) h(ec);
    else h(ec, ...(v as unknown[]));
  }

  /**
   * The handler for an intermediate step: `fn` itself when the operation's
   * executor is the I/O object's and there is no cancellation state (the next
   * layer completes it there anyway), else a wrapper carrying both.
   */
  bind<A extends unknown[]>(fn: (ec: ErrorCode | null, ...results: A) => void): CompletionHandler<A> {
    if (this.bindsNothing()) return fn as CompletionHandler<A>;
    const state = this.opState;
    return bindAssociated(fn, this.opExecutor, state?.slot());
  }

  /**
   * True when `bind` would return its function as it is: an intermediate
   * completion needs nothing of this operation's but to run on the I/O
   * object's executor, so the operation may take it as a method call (net's
   * `LendReceiver`) instead of a bound function.
   */
  protected bindsNothing(): boolean {
    return this.opState === null && this.opExecutor === this.opIoExecutor;
  }

  /** The executor the operation's handlers run on (the final handler's associated executor). */
  getExecutor(): Executor {
    return this.opExecutor;
  }

  /** The cancellation types requested so far, filtered by what the operation honours. */
  cancelled(): CancellationType {
    return this.opState?.cancelled() ?? cancellationType.none;
  }

  /** Changes which cancellation types the operation honours from now on (default terminal). */
  resetCancellationState(filter?: CancellationType): void {
    this.cancellation().reset(filter);
  }

  /** The slot intermediate operations attach to. */
  cancellationSlot(): CancellationSlot {
    return this.cancellation().slot();
  }

  private cancellation(): CancellationState {
    this.opState ??= new CancellationState(undefined, cancellationType.terminal);
    return this.opState;
  }
}
