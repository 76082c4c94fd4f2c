import type { ExecutionContext, Executor, ExecutorOrContext, Handler } from './executor.js';
import { toExecutor } from './executor.js';
import { Fifo } from './fifo.js';

/**
 * Asio's `strand<Executor>`: handlers submitted to it run one at a time, in
 * FIFO order, on the inner executor. Node runs one thread, so what a strand
 * adds here is ordering and the `runningInThisThread()` fact: a handler posted
 * or dispatched to the strand while another of its handlers runs waits until
 * that one returns.
 */
export class Strand implements Executor {
  private readonly queue = new Fifo<Handler>(16);
  private readonly inner: Executor;
  private locked = false;
  private depth = 0;
  private readonly runBatch = () => this.drain();

  constructor(inner: ExecutorOrContext) {
    this.inner = toExecutor(inner);
  }

  /** The executor this strand runs its handlers on. */
  getInnerExecutor(): Executor {
    return this.inner;
  }

  post(fn: Handler): void {
    this.queue.push(fn);
    this.schedule();
  }

  /** Inline only when the caller is already inside this strand; otherwise queued like `post`. */
  dispatch(fn: Handler): void {
    if (this.depth > 0) {
      fn();
      return;
    }
    this.post(fn);
  }

  defer(fn: Handler): void {
    this.post(fn);
  }

  runningInThisThread(): boolean {
    return this.depth > 0;
  }

  context(): ExecutionContext {
    return this.inner.context();
  }

  onWorkStarted(): void {
    this.inner.onWorkStarted();
  }

  onWorkFinished(): void {
    this.inner.onWorkFinished();
  }

  /** Strands compare by identity: two strands on one context are different serialisation domains. */
  equals(other: Executor): boolean {
    return other === this;
  }

  private schedule(): void {
    if (this.locked) return;
    this.locked = true;
    // Count the pending batch as work so an IoContext does not finish under it.
    this.inner.onWorkStarted();
    this.inner.post(this.runBatch);
  }

  private drain(): void {
    this.inner.onWorkFinished();
    // Run what is queued now; later arrivals go to a fresh batch so other
    // handlers on the inner executor are not starved by a busy strand.
    let n = this.queue.length;
    this.depth++;
    try {
      while (n-- > 0) {
        const fn = this.queue.shift() as Handler;
        fn();
      }
    } finally {
      this.depth--;
      this.locked = false;
      if (this.queue.length > 0) this.schedule();
    }
  }
}

/** `asio::make_strand(ex)`. */
export function makeStrand(ex: ExecutorOrContext): Strand {
  return new Strand(ex);
}
