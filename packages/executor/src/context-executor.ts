import type { ExecutionContext, Executor, Handler } from './executor.js';

/** What a context with a handler queue offers the executor bound to it. */
export interface QueueContext extends ExecutionContext {
  /** @internal queue `fn` for the context's runner */
  enqueue(fn: Handler): void;
  /** @internal true while one of the context's handlers runs */
  isRunningHandler(): boolean;
  /** @internal run `fn` now, as one of the context's handlers */
  invoke(fn: Handler): void;
  /** @internal */
  workStarted(): void;
  /** @internal */
  workFinished(): void;
}

/**
 * What the default context and `IoContext` share: a handler depth (for
 * `runningInThisThread` and inline `dispatch`) and the outstanding-work count.
 */
export abstract class HandlerContext implements QueueContext {
  protected depth = 0;
  protected outstanding = 0;

  abstract getExecutor(): Executor;
  abstract enqueue(fn: Handler): void;

  /** Outstanding work: work guards and operations in progress, not counting queued handlers. */
  outstandingWork(): number {
    return this.outstanding;
  }

  /** @internal */
  isRunningHandler(): boolean {
    return this.depth > 0;
  }

  /** @internal */
  invoke(fn: Handler): void {
    this.depth++;
    try {
      fn();
    } finally {
      this.depth--;
    }
  }

  /** @internal */
  workStarted(): void {
    this.outstanding++;
  }

  /** @internal */
  workFinished(): void {
    this.outstanding--;
  }
}

/**
 * The executor of a queue-based context (the default context and every
 * `IoContext`): `post` and `defer` queue, `dispatch` runs inline only inside
 * one of the context's handlers. Executors of one context compare equal.
 */
export class ContextExecutor implements Executor {
  constructor(private readonly ctx: QueueContext) {}

  post(fn: Handler): void {
    this.ctx.enqueue(fn);
  }

  dispatch(fn: Handler): void {
    if (this.ctx.isRunningHandler()) this.ctx.invoke(fn);
    else this.ctx.enqueue(fn);
  }

  defer(fn: Handler): void {
    this.ctx.enqueue(fn);
  }

  runningInThisThread(): boolean {
    return this.ctx.isRunningHandler();
  }

  context(): QueueContext {
    return this.ctx;
  }

  onWorkStarted(): void {
    this.ctx.workStarted();
  }

  onWorkFinished(): void {
    this.ctx.workFinished();
  }

  equals(other: Executor): boolean {
    return other instanceof ContextExecutor && other.ctx === this.ctx;
  }
}
