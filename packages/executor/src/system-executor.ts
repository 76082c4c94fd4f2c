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
      queueMicrotask(this.drainFromMicrotask);
    }
  }

  /** @internal `dispatch` for a `Runnable`: inline when already draining, else queued. */
  dispatchRunnable(r: Runnable): void {
    if (this.depth > 0) r.run();
    else this.enqueue(r);
  }

  private drain(): void {
    let budget = DRAIN_BUDGET;
    const queue = this.queue;
    this.depth++;
    try {
      while (queue.length > 0) {
        if (budget-- === 0) {
          this.yields++;
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
      // what a throw from any Node callback does.
      setImmediate(this.drainFromImmediate);
      throw err;
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
