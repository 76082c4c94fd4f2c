import type { Executor, ExecutorOrContext, Handler } from './executor.js';
import { toExecutor } from './executor.js';
import { defaultExecutor } from './system-executor.js';

function pick(a: ExecutorOrContext | Handler, b: Handler | undefined): [Executor, Handler] {
  if (typeof a === 'function') return [defaultExecutor(), a];
  if (b === undefined) throw new TypeError('a handler is required');
  return [toExecutor(a), b];
}

/** `asio::post`: queue `fn` on the executor (the default one when omitted); never runs it before returning. */
export function post(fn: Handler): void;
export function post(ex: ExecutorOrContext, fn: Handler): void;
export function post(a: ExecutorOrContext | Handler, b?: Handler): void {
  const [ex, fn] = pick(a, b);
  ex.post(fn);
}

/** `asio::dispatch`: run inline when already inside the executor, else queue. */
export function dispatch(fn: Handler): void;
export function dispatch(ex: ExecutorOrContext, fn: Handler): void;
export function dispatch(a: ExecutorOrContext | Handler, b?: Handler): void {
  const [ex, fn] = pick(a, b);
  ex.dispatch(fn);
}

/** `asio::defer`: like `post`, hinting that `fn` continues the caller. */
export function defer(fn: Handler): void;
export function defer(ex: ExecutorOrContext, fn: Handler): void;
export function defer(a: ExecutorOrContext | Handler, b?: Handler): void {
  const [ex, fn] = pick(a, b);
  ex.defer(fn);
}

/** `asio::executor_work_guard`: keeps the executor's context from running out of work until `reset()`. */
export class WorkGuard {
  private owns = true;
  constructor(private readonly executor: Executor) {
    executor.onWorkStarted();
  }

  getExecutor(): Executor {
    return this.executor;
  }

  ownsWork(): boolean {
    return this.owns;
  }

  reset(): void {
    if (!this.owns) return;
    this.owns = false;
    this.executor.onWorkFinished();
  }
}

/** `asio::make_work_guard`. */
export function makeWorkGuard(ex: ExecutorOrContext): WorkGuard {
  return new WorkGuard(toExecutor(ex));
}
