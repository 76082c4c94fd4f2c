import { ContextExecutor, HandlerContext } from './context-executor.js';
import type { Executor, Handler } from './executor.js';
import { Fifo } from './fifo.js';

/** Handlers `run()` processes before it lets Node's event loop poll for I/O. */
const RUN_BUDGET = 1024;

/**
 * Asio's `io_context` on Node's single thread.
 *
 * Handlers posted to its executor wait in its queue until `run()`, `poll()`
 * or one of their single-step forms processes them. `run()` cannot block the
 * thread as in C++, so it returns a promise that resolves with the number of
 * handlers run once the context runs out of work (nothing queued and no
 * outstanding work) or is stopped; between batches it yields to the event
 * loop so the I/O that completes the outstanding operations can happen.
 */
export class IoContext extends HandlerContext {
  private readonly queue = new Fifo<Handler>(256);
  private readonly executor: ContextExecutor;
  private isStopped = false;
  private running = false;
  private wake: (() => void) | null = null;

  constructor() {
    super();
    this.executor = new ContextExecutor(this);
  }

  getExecutor(): Executor {
    return this.executor;
  }

  /**
   * Runs handlers until there is no more work or `stop()` is called.
   * A handler that throws makes the promise reject with that error; the
   * handlers still queued stay queued, and calling `run()` again continues
   * with them, as Asio's `run()` lets an exception propagate and may be
   * called again.
   */
  async run(): Promise<number> {
    if (this.running) throw new Error('IoContext.run() is already in progress');
    this.running = true;
    let count = 0;
    try {
      for (;;) {
        if (this.isStopped) return count;
        let budget = RUN_BUDGET;
        while (this.queue.length > 0 && budget-- > 0 && !this.isStopped) {
          count++;
          this.invoke(this.queue.shift() as Handler);
        }
        if (this.isStopped) return count;
        if (this.queue.length === 0) {
          if (this.outstanding === 0) {
            // An `async` function awaiting a completion resumes in a microtask
            // after its handler returned, and only then starts its next
            // operation. Let the event loop turn once before deciding the
            // context is out of work, or run() would end between two steps.
            await new Promise<void>((resolve) => setImmediate(resolve));
            if (this.queue.length > 0 || this.outstanding > 0 || this.isStopped) continue;
            // Asio: running out of work puts the context in the stopped state.
            this.isStopped = true;
            return count;
          }
          await new Promise<void>((resolve) => {
            this.wake = resolve;
          });
        } else {
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
      }
    } finally {
      this.running = false;
      this.wake = null;
    }
  }

  /**
   * Runs at most one ready handler. Asio's `run_one` would block for one; a
   * synchronous call cannot wait here, so this is `pollOne` under Asio's name.
   */
  runOne(): number {
    return this.pollOne();
  }

  /** Runs every handler that is ready now, without waiting; returns how many ran. */
  poll(): number {
    let count = 0;
    // Only what is queued now: handlers they post wait for the next poll, so
    // a handler that re-posts itself cannot trap poll() in a loop.
    let ready = this.queue.length;
    while (ready-- > 0 && !this.isStopped && this.queue.length > 0) {
      count++;
      this.invoke(this.queue.shift() as Handler);
    }
    this.stopIfOutOfWork();
    return count;
  }

  /** Runs at most one ready handler, without waiting. */
  pollOne(): number {
    if (this.isStopped || this.queue.length === 0) {
      this.stopIfOutOfWork();
      return 0;
    }
    this.invoke(this.queue.shift() as Handler);
    this.stopIfOutOfWork();
    return 1;
  }

  /** Makes `run()` / `poll()` return as soon as the current handler returns. Queued handlers are kept. */
  stop(): void {
    this.isStopped = true;
    this.wakeRunner();
  }

  stopped(): boolean {
    return this.isStopped;
  }

  /** Clears the stopped state, required before running again after `stop()` or running out of work. */
  restart(): void {
    this.isStopped = false;
  }

  /** Handlers queued and not yet run. */
  pending(): number {
    return this.queue.length;
  }

  /** @internal */
  enqueue(fn: Handler): void {
    this.queue.push(fn);
    this.wakeRunner();
  }

  /** @internal */
  override workFinished(): void {
    if (--this.outstanding === 0) this.wakeRunner();
  }

  private stopIfOutOfWork(): void {
    if (this.queue.length === 0 && this.outstanding === 0) this.isStopped = true;
  }

  private wakeRunner(): void {
    const wake = this.wake;
    if (wake) {
      this.wake = null;
      wake();
    }
  }
}
