import { IoContext, Strand } from '@tsio/executor';
import { describe, expect, it } from 'vitest';
import {
  bindCancellationSlot,
  bindExecutor,
  CancellationSignal,
  type CompletionHandler,
  ComposedOperation,
  cancellationType,
  type ErrorCode,
  error,
  getAssociatedCancellationSlot,
  getAssociatedExecutor,
  launch,
} from '../src/index.js';

/** Runs `ioc` until nothing is ready (each step of Counting is one more queued handler). */
function drain(ioc: IoContext): void {
  while (ioc.poll() > 0) {
    // keep polling
  }
}

/** Waits on `ioc`'s executor `steps` times through an intermediate handler from `bind`, then completes with the count. */
class Counting extends ComposedOperation<[number]> {
  steps = 0;
  done = 0;
  releases = 0;
  /** The intermediate handlers `bind` gave, to check their associations. */
  readonly bound: CompletionHandler<[]>[] = [];
  private readonly step = (ec: ErrorCode | null): void => this.next(ec);

  constructor(private readonly io: IoContext) {
    super();
  }

  protected start(): void {
    this.done = 0;
    if (this.steps === 0) return this.complete(null, 0);
    this.schedule();
  }

  protected override released(): void {
    this.releases++;
  }

  private schedule(): void {
    const h = this.bind(this.step);
    this.bound.push(h);
    const slot = getAssociatedCancellationSlot(h);
    let cancelled = false;
    slot?.assign(() => {
      cancelled = true;
    });
    const ex = getAssociatedExecutor(h, this.io.getExecutor());
    // The "intermediate operation": completes on the I/O executor, then hops to the handler's executor.
    this.io.getExecutor().post(() => ex.dispatch(() => h(cancelled ? error.operationAborted : null)));
  }

  private next(ec: ErrorCode | null): void {
    if (ec) return this.complete(ec, this.done);
    if (++this.done === this.steps) return this.complete(null, this.done);
    this.schedule();
  }
}

describe('ComposedOperation', () => {
  it('never completes inline: a completion inside begin() is posted', () => {
    const ioc = new IoContext();
    const op = new Counting(ioc);
    const log: string[] = [];
    op.begin((ec, n) => log.push(`handler ${ec} ${n}`), ioc.getExecutor());
    log.push('after begin');
    expect(op.inProgress()).toBe(true);
    drain(ioc);
    expect(log).toEqual(['after begin', 'handler null 0']);
    expect(op.inProgress()).toBe(false);
  });

  it('is free again when its handler runs, and the handler may begin it again', () => {
    const ioc = new IoContext();
    const op = new Counting(ioc);
    op.steps = 2;
    const results: number[] = [];
    const again = (ec: ErrorCode | null, n: number): void => {
      expect(ec).toBeNull();
      expect(op.inProgress()).toBe(false);
      results.push(n);
      if (results.length < 3) {
        op.steps = results.length + 2;
        op.begin(again, ioc.getExecutor());
      }
    };
    op.begin(again, ioc.getExecutor());
    drain(ioc);
    expect(results).toEqual([2, 3, 4]);
    expect(op.releases).toBe(3);
  });

  it('counts work on the I/O executor until it completes', async () => {
    const ioc = new IoContext();
    const op = new Counting(ioc);
    op.steps = 1;
    let handled = false;
    // Nothing else keeps the context busy: run() returns only once the operation has completed.
    op.begin(() => {
      handled = true;
    }, ioc.getExecutor());
    expect(await ioc.run()).toBeGreaterThan(0);
    expect(handled).toBe(true);
  });

  it('refuses a second begin while in progress, and a second completion', () => {
    const ioc = new IoContext();
    const op = new Counting(ioc);
    op.steps = 1;
    op.begin(() => undefined, ioc.getExecutor());
    expect(() => op.begin(() => undefined, ioc.getExecutor())).toThrow(/in progress/);
    drain(ioc);
    expect(() => op.complete(null, 1)).toThrow(/completed twice/);
  });

  it('intermediate handlers are the bare function when nothing is associated', () => {
    const ioc = new IoContext();
    const op = new Counting(ioc);
    op.steps = 1;
    op.begin(() => undefined, ioc.getExecutor());
    drain(ioc);
    const h = op.bound[0] as CompletionHandler<[]>;
    expect(getAssociatedExecutor(h, ioc.getExecutor())).toBe(ioc.getExecutor());
    expect(getAssociatedCancellationSlot(h)).toBeUndefined();
  });

  it("runs every handler on the final handler's executor (a strand)", () => {
    const ioc = new IoContext();
    const strand = new Strand(ioc.getExecutor());
    const op = new Counting(ioc);
    op.steps = 3;
    const seen: boolean[] = [];
    op.begin(
      bindExecutor(strand, (_ec: ErrorCode | null, n: number) => {
        seen.push(strand.runningInThisThread());
        seen.push(n === 3);
      }),
      ioc.getExecutor(),
    );
    drain(ioc);
    expect(seen).toEqual([true, true]);
    for (const h of op.bound) expect(getAssociatedExecutor(h, ioc.getExecutor())).toBe(strand);
    expect(op.getExecutor()).toBe(strand);
  });

  it('forwards cancellation from the final handler to the intermediate step', () => {
    const ioc = new IoContext();
    const op = new Counting(ioc);
    op.steps = 5;
    const sig = new CancellationSignal();
    let result: [ErrorCode | null, number] | null = null;
    // A token object: started through launch(), as an I/O object's initiating function does.
    launch(
      (h) => op.begin(h, ioc.getExecutor()),
      bindCancellationSlot(sig.slot(), (ec: ErrorCode | null, n: number) => {
        result = [ec, n];
      }),
    );
    sig.emit(cancellationType.terminal);
    drain(ioc);
    expect(result).toEqual([error.operationAborted, 0]);
    // Completion cleared the slot the operation had attached to.
    expect(sig.slot().hasHandler()).toBe(false);
  });

  it('a second use with no slot leaves no cancellation state from the first', () => {
    const ioc = new IoContext();
    const op = new Counting(ioc);
    op.steps = 1;
    const sig = new CancellationSignal();
    launch(
      (h) => op.begin(h, ioc.getExecutor()),
      bindCancellationSlot(sig.slot(), () => undefined),
    );
    drain(ioc);
    op.bound.length = 0;
    op.begin(() => undefined, ioc.getExecutor());
    drain(ioc);
    expect(op.cancelled()).toBe(cancellationType.none);
    expect(getAssociatedCancellationSlot(op.bound[0] as CompletionHandler<[]>)).toBeUndefined();
  });
});
