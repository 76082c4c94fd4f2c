import { ContextExecutor, HandlerContext } from './context-executor.js';
import type { Executor, Handler } from './executor.js';
import { Fifo } from './fifo.js';

/**
 * @internal An object queued in place of a closure. The completion path of
 * `asyncInitiate` already has an object holding the handler and its results;
 * queueing that object (and calling its `run`) instead of a fresh
 * `() => handler(ec, n)` saves one closure per completion. Only the system
 * context accepts these; other executors get a closure.
 */
export interface Runnable {
  run(): void;
}

/**
 * How many handlers one drain may run before it yields to Node's event loop.
 * A microtask drain is cheap but starves I/O if it never ends; after this many
 * handlers the rest of the queue continues from `setImmediate`, which runs
 * after the poll phase, so a socket's data event gets its turn in between.
 */
export const DRAIN_BUDGET = 1024;

/**
 * Drains are scheduled as reactions of this settled promise rather than with
 * `queueMicrotask`, which in Node wraps every callback in an `AsyncResource`
 * and a bound function (~195 vs ~75 ns per schedule here, and more code
 * touched per socket event). Both are microtasks in the same queue.
 */
const settled = Promise.resolve();

function rethrow(err: unknown): never {
  throw err;
}

/**
 * The context behind the default executor: one FIFO on Node's event loop.
 * It is what Asio's `system_executor` is for a program that never creates an
 * `io_context`: there is no `run()`, Node's loop is the runner.
 */
export class SystemContext extends HandlerContext {
  private readonly queue = new Fifo<Handler | Runnable>(1024);
  private scheduled = false;
  private readonly executor: ContextExecutor;
  /** Drains started from `setImmediate` because a drain ran out of budget; for tests and benchmarks. */
  yields = 0;
  /**
   * Run once the queue is empty (or the budget spent), before the drain
   * returns; see `atDrainEnd`. Pairs: function, argument, in the first
   * `drainEndLength` slots. The array keeps its size between drains (no
   * allocation per drain to grow it again or to splice it).
   */
  private readonly drainEnd: unknown[] = [];
  private drainEndLength = 0;
  private readonly drainFromMicrotask = () => this.drain();
  private readonly drainFromImmediate = () => {
    this.drain();
  };

  constructor() {
    super();
    this.executor = new ContextExecutor(this);
  }

  getExecutor(): Executor {
    return this.executor;
  }

  /** @internal */
  enqueue(fn: Handler | Runnable): void {
    this.queue.push(fn);
    if (!this.scheduled) {
      this.scheduled = true;
      settled.then(this.drainFromMicrotask);
    }
  }

  /** @internal `dispatch` for a `Runnable`: inline when already draining, else queued. */
  dispatchRunnable(r: Runnable): void {
    if (this.depth > 0) r.run();
    else this.enqueue(r);
  }

  /**
   * @internal Calls `fn(arg)` when the drain now running ends (after the last
   * queued handler, still as one of this context's handlers); false, and
   * nothing registered, when no drain is running. A socket uses it to flush
   * the writes of one drain at once, without a `process.nextTick` per event.
   */
  atDrainEnd<T>(fn: (arg: T) => void, arg: T): boolean {
    if (this.depth === 0) return false;
    const n = this.drainEndLength;
    this.drainEnd[n] = fn;
    this.drainEnd[n + 1] = arg;
    this.drainEndLength = n + 2;
    return true;
  }

  private runDrainEnd(): void {
    const hooks = this.drainEnd;
    let i = 0;
    try {
      // Hooks added while these run are run too; one that throws is dropped, the rest kept.
      while (i < this.drainEndLength) {
        const fn = hooks[i] as (arg: unknown) => void;
        const arg = hooks[i + 1];
        hooks[i] = undefined;
        hooks[i + 1] = undefined;
        i += 2;
        fn(arg);
      }
    } finally {
      const left = this.drainEndLength - i;
      if (left > 0) {
        hooks.copyWithin(0, i, this.drainEndLength);
        hooks.fill(undefined, left, this.drainEndLength);
      }
      this.drainEndLength = left;
    }
  }

  private drain(): void {
    let budget = DRAIN_BUDGET;
    const queue = this.queue;
    this.depth++;
    try {
      // The drain-end hooks may queue more handlers (a flushed write that completes): drain those too.
      while (queue.length > 0 || this.drainEndLength > 0) {
        if (queue.length === 0) {
          this.runDrainEnd();
          continue;
        }
        if (budget-- === 0) {
          this.yields++;
          this.runDrainEnd();
          setImmediate(this.drainFromImmediate);
          return;
        }
        const fn = queue.shift() as Handler | Runnable;
        if (typeof fn === 'function') fn();
        else fn.run();
      }
      this.scheduled = false;
    } catch (err) {
      // A throwing handler must not wedge the queue: keep draining the rest
      // later, and let the error surface as an uncaught exception, which is
      // what a throw from any Node callback does. Rethrown from a tick, not
      // here: inside a promise reaction it would become a rejection.
      setImmediate(this.drainFromImmediate);
      process.nextTick(rethrow, err);
    } finally {
      this.depth--;
    }
  }
}

/** The one context behind `defaultExecutor()`. */
export const systemContext: SystemContext = new SystemContext();

/** The executor used when a user never creates an `IoContext`: a FIFO drained on Node's event loop. */
export function defaultExecutor(): Executor {
  return systemContext.getExecutor();
}
