/**
 * Asio's `steady_timer`. Times are milliseconds on the `performance.now()`
 * clock: monotonic like `std::chrono::steady_clock`, so changing the system
 * clock neither fires nor delays a wait. `expiresAt(t)` takes a time on that
 * clock (`SteadyTimer.now() + ms`), and `expiry()` returns one.
 *
 * As in Asio:
 * - a timer constructed without a time has already expired (Asio's default
 *   expiry is the clock's epoch), so a wait on it completes at once — posted,
 *   never inline, like every completion here;
 * - `expiresAfter` / `expiresAt` cancel the pending waits (they complete with
 *   `operationAborted`) and return how many they cancelled; so does `cancel()`;
 * - a wait never completes before the expiry, even if Node's timer fires a
 *   little early;
 * - each pending wait counts as outstanding work on the timer's executor, so
 *   `IoContext.run()` does not return while one is pending.
 *
 * The Node timer behind it exists only while a wait is pending: an idle timer
 * does not keep the process alive. With an expiry of `Infinity` a wait never
 * completes unless cancelled, and no Node timer keeps the process alive for it.
 *
 * Per-operation cancellation: terminal, partial and total are all honoured (a
 * cancelled wait has no side effect); the wait completes with `operationAborted`.
 */

import {
  type AsyncResult,
  asyncInitiate,
  type CompletionHandler,
  type CompletionToken,
  type DefaultToken,
  type ErrorCode,
  error,
  getAssociatedCancellationSlot,
  type InitiationObject,
} from '@tsio/completion-token';
import { defaultExecutor, type Executor, type ExecutorOrContext, toExecutor } from '@tsio/executor';

/** setTimeout's largest delay; longer waits re-arm. */
const MAX_DELAY = 2 ** 31 - 1;

type WaitHandler = CompletionHandler<[]>;

export class SteadyTimer {
  private readonly executor: Executor;
  private expiryTime = 0;
  private waiters: WaitHandler[] = [];
  private nodeTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly waitInit: InitiationObject<[], []>;
  private readonly onNodeTimer = () => {
    this.nodeTimer = null;
    this.fire();
  };

  /** The clock the timer uses: `performance.now()`, in milliseconds. */
  static now(): number {
    return performance.now();
  }

  constructor(executorOrContext?: ExecutorOrContext, expiresAfterMs?: number) {
    this.executor = executorOrContext ? toExecutor(executorOrContext) : defaultExecutor();
    if (expiresAfterMs !== undefined) this.expiresAfter(expiresAfterMs);
    this.waitInit = { executor: this.executor, initiate: (h) => this.startWait(h) };
  }

  getExecutor(): Executor {
    return this.executor;
  }

  /** The expiry time on the {@link SteadyTimer.now} clock. */
  expiry(): number {
    return this.expiryTime;
  }

  /** Sets the expiry to now + `ms`; cancels pending waits and returns how many. */
  expiresAfter(ms: number): number {
    checkTime(ms, 'expiresAfter');
    return this.expiresAt(SteadyTimer.now() + Math.max(0, ms));
  }

  /** Sets the expiry to `t` on the {@link SteadyTimer.now} clock; cancels pending waits and returns how many. */
  expiresAt(t: number): number {
    checkTime(t, 'expiresAt');
    const n = this.cancel();
    this.expiryTime = t;
    return n;
  }

  /** Completes every pending wait with `operationAborted`; returns how many. The expiry is unchanged. */
  cancel(): number {
    const waiters = this.waiters;
    if (waiters.length === 0) return 0;
    this.waiters = [];
    this.disarm();
    for (const h of waiters) this.abort(h);
    return waiters.length;
  }

  /** Completes the oldest pending wait with `operationAborted`; returns 1, or 0 if none was pending. */
  cancelOne(): number {
    const h = this.waiters.shift();
    if (!h) return 0;
    if (this.waiters.length === 0) this.disarm();
    this.abort(h);
    return 1;
  }

  /** Waits for the expiry; completes with null, or `operationAborted` when cancelled. */
  asyncWait<T extends CompletionToken<[]> = DefaultToken<[]>>(token?: T): AsyncResult<T, []> {
    return asyncInitiate<[], [], T>(this.waitInit, token);
  }

  private startWait(handler: WaitHandler): void {
    if (SteadyTimer.now() >= this.expiryTime) {
      handler(null); // asyncInitiate posts a completion made during initiation
      return;
    }
    this.executor.onWorkStarted();
    this.waiters.push(handler);
    getAssociatedCancellationSlot(handler)?.assign(() => {
      const i = this.waiters.indexOf(handler);
      if (i < 0) return;
      this.waiters.splice(i, 1);
      if (this.waiters.length === 0) this.disarm();
      this.abort(handler);
    });
    if (this.nodeTimer === null) this.arm();
  }

  private arm(): void {
    const delay = this.expiryTime - SteadyTimer.now();
    if (delay === Number.POSITIVE_INFINITY) return;
    // Rounded up: Node may fire a timer up to a millisecond early, and fire() re-arms if so.
    this.nodeTimer = setTimeout(this.onNodeTimer, Math.min(MAX_DELAY, Math.max(1, Math.ceil(delay))));
  }

  private disarm(): void {
    if (this.nodeTimer !== null) {
      clearTimeout(this.nodeTimer);
      this.nodeTimer = null;
    }
  }

  private fire(): void {
    if (this.waiters.length === 0) return;
    if (SteadyTimer.now() < this.expiryTime) {
      this.arm();
      return;
    }
    const waiters = this.waiters;
    this.waiters = [];
    for (const h of waiters) this.finish(h, null);
  }

  /**
   * Posted rather than called: cancel() and expiresAfter() may be called from
   * a handler running on this executor, and Asio never runs the cancelled
   * handlers inside them.
   */
  private abort(handler: WaitHandler): void {
    getAssociatedCancellationSlot(handler)?.clear();
    this.executor.post(() => this.finish(handler, error.operationAborted));
  }

  private finish(handler: WaitHandler, ec: ErrorCode | null): void {
    getAssociatedCancellationSlot(handler)?.clear();
    // Work is released before the handler runs, as in Asio, so a handler that waits again
    // counts its new wait rather than relying on this one.
    this.executor.onWorkFinished();
    handler(ec);
  }
}

function checkTime(t: number, what: string): void {
  if (Number.isNaN(t) || t === Number.NEGATIVE_INFINITY) throw new RangeError(`${what}: invalid time ${t}`);
}
