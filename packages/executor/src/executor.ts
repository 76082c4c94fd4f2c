/** A function queued for execution. Handlers take no arguments: bind them first. */
export type Handler = () => void;

/**
 * Where an executor's handlers run. Two executors are equal when they target
 * the same context, as `asio::io_context::executor_type` compares.
 */
export interface ExecutionContext {
  getExecutor(): Executor;
}

/**
 * Asio's executor concept, reduced to what a single-threaded runtime needs.
 *
 * - `post` queues `fn` and never runs it before returning.
 * - `dispatch` runs `fn` inline when the caller is already running inside this
 *   executor (`runningInThisThread()`), else behaves like `post`.
 * - `defer` is `post` with the hint that `fn` continues the caller; the
 *   executors here treat it as `post` (FIFO), which Asio permits.
 */
export interface Executor {
  post(fn: Handler): void;
  dispatch(fn: Handler): void;
  defer(fn: Handler): void;
  runningInThisThread(): boolean;
  context(): ExecutionContext;
  /** Counts an outstanding operation that keeps the context's `run()` from returning. */
  onWorkStarted(): void;
  onWorkFinished(): void;
  /** True when both executors target the same context (or the same strand). */
  equals(other: Executor): boolean;
}

/** Anything that can produce an executor: an executor, an `IoContext`, a strand, an I/O object. */
export type ExecutorOrContext = Executor | ExecutionContext;

export function isExecutor(x: unknown): x is Executor {
  return (
    typeof x === 'object' &&
    x !== null &&
    typeof (x as Executor).post === 'function' &&
    typeof (x as Executor).dispatch === 'function' &&
    typeof (x as Executor).runningInThisThread === 'function'
  );
}

/** The executor of an executor or of a context (`asio::get_associated_executor` for contexts). */
export function toExecutor(x: ExecutorOrContext): Executor {
  return isExecutor(x) ? x : x.getExecutor();
}
