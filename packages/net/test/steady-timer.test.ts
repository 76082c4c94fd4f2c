import {
  asTuple,
  bindCancellationSlot,
  CancellationSignal,
  cancellationType,
  type ErrorCode,
  error,
  useObservable,
  withAbortSignal,
} from '@tsio/completion-token';
import { IoContext } from '@tsio/executor';
import { firstValueFrom } from 'rxjs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SteadyTimer } from '../src/index.js';

const tick = () => new Promise<void>((r) => setImmediate(r));
const timeouts = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

afterEach(() => {
  vi.restoreAllMocks();
  vi.useRealTimers();
});

describe('SteadyTimer', () => {
  it('completes a wait no earlier than its expiry, with every token', async () => {
    const timer = new SteadyTimer(undefined, 5);
    await timer.asyncWait();
    expect(SteadyTimer.now()).toBeGreaterThanOrEqual(timer.expiry());

    timer.expiresAfter(3);
    const ec = await new Promise<ErrorCode | null>((resolve) => timer.asyncWait((e) => resolve(e)));
    expect(ec).toBe(null);
    expect(SteadyTimer.now()).toBeGreaterThanOrEqual(timer.expiry());

    timer.expiresAfter(2);
    await firstValueFrom(timer.asyncWait(useObservable), { defaultValue: 'done' });
    expect(SteadyTimer.now()).toBeGreaterThanOrEqual(timer.expiry());
  });

  it('a timer without an expiry (or already expired) completes at once, never inline', async () => {
    const timer = new SteadyTimer();
    expect(timer.expiry()).toBe(0);
    let done = false;
    timer.asyncWait(() => {
      done = true;
    });
    expect(done).toBe(false);
    await tick();
    expect(done).toBe(true);
  });

  it('cancel() aborts every pending wait, returns the count, and posts the handlers', async () => {
    const timer = new SteadyTimer(undefined, 60_000);
    const results: Array<ErrorCode | null> = [];
    timer.asyncWait((ec) => results.push(ec));
    timer.asyncWait((ec) => results.push(ec));
    expect(timer.cancel()).toBe(2);
    expect(results).toEqual([]);
    await tick();
    expect(results).toEqual([error.operationAborted, error.operationAborted]);
    expect(timer.cancel()).toBe(0);
  });

  it('cancelOne() aborts the oldest wait only', async () => {
    const timer = new SteadyTimer(undefined, 60_000);
    const results: string[] = [];
    timer.asyncWait((ec) => results.push(`a ${String(ec)}`));
    timer.asyncWait((ec) => results.push(`b ${String(ec)}`));
    expect(timer.cancelOne()).toBe(1);
    await tick();
    expect(results).toEqual(['a net.operationAborted']);
    expect(timer.cancel()).toBe(1);
    await tick();
    expect(results).toEqual(['a net.operationAborted', 'b net.operationAborted']);
  });

  it('expiresAfter / expiresAt cancel pending waits and return how many', async () => {
    const timer = new SteadyTimer(undefined, 60_000);
    const first = timer.asyncWait(asTuple());
    const second = timer.asyncWait(asTuple());
    expect(timer.expiresAfter(1)).toBe(2);
    expect(await first).toEqual([error.operationAborted]);
    expect(await second).toEqual([error.operationAborted]);
    expect(await timer.asyncWait(asTuple())).toEqual([null]);
    timer.expiresAt(SteadyTimer.now() + 60_000);
    const third = timer.asyncWait(asTuple());
    expect(timer.expiresAt(SteadyTimer.now())).toBe(1);
    expect(await third).toEqual([error.operationAborted]);
    expect(timer.expiresAfter(5)).toBe(0);
    expect(() => timer.expiresAfter(Number.NaN)).toThrow(RangeError);
  });

  it('per-operation cancellation of each type, and AbortSignal, abort only that wait', async () => {
    const timer = new SteadyTimer(undefined, 60_000);
    for (const type of [cancellationType.terminal, cancellationType.partial, cancellationType.total]) {
      const sig = new CancellationSignal();
      const p = timer.asyncWait(bindCancellationSlot(sig.slot(), asTuple()));
      sig.emit(type);
      expect(await p).toEqual([error.operationAborted]);
    }
    const other = timer.asyncWait(asTuple());
    const ctrl = new AbortController();
    const p = timer.asyncWait(withAbortSignal(ctrl.signal, asTuple()));
    ctrl.abort();
    expect(await p).toEqual([error.operationAborted]);
    timer.expiresAfter(0); // the remaining wait is cancelled by the new expiry
    expect(await other).toEqual([error.operationAborted]);
  });

  it('counts a pending wait as work: IoContext.run() returns only after it completes', async () => {
    const ioc = new IoContext();
    const timer = new SteadyTimer(ioc, 5);
    const log: string[] = [];
    timer.asyncWait((ec) => log.push(`waited ${String(ec)}`));
    expect(ioc.outstandingWork()).toBe(1);
    await ioc.run();
    expect(log).toEqual(['waited null']);
    expect(ioc.outstandingWork()).toBe(0);
  });

  it('holds a Node timer only while a wait is pending (an idle timer does not keep the process alive)', async () => {
    const before = timeouts();
    const timer = new SteadyTimer(undefined, 3_600_000);
    expect(timeouts()).toBe(before);
    const p = timer.asyncWait(asTuple());
    expect(timeouts()).toBe(before + 1);
    timer.cancel();
    await p;
    expect(timeouts()).toBe(before);
    // Infinity: a wait never fires and holds no Node timer.
    timer.expiresAt(Number.POSITIVE_INFINITY);
    const q = timer.asyncWait(asTuple());
    expect(timeouts()).toBe(before);
    timer.cancel();
    expect(await q).toEqual([error.operationAborted]);
  });

  it('never completes before the expiry even if the Node timer fires early, and re-arms past setTimeout range', async () => {
    let now = 1000;
    vi.spyOn(SteadyTimer, 'now').mockImplementation(() => now);
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const timer = new SteadyTimer(undefined, 100);
    let result: ErrorCode | null | undefined;
    timer.asyncWait((ec) => {
      result = ec;
    });
    now = 1099.5; // Node fired the timer half a millisecond early
    vi.advanceTimersByTime(100);
    await tick();
    expect(result).toBeUndefined();
    now = 1100;
    vi.advanceTimersByTime(1);
    await tick();
    expect(result).toBe(null);

    const long = 2 ** 31 + 10_000;
    result = undefined;
    timer.expiresAfter(long);
    timer.asyncWait((ec) => {
      result = ec;
    });
    now += 2 ** 31 - 1;
    vi.advanceTimersByTime(2 ** 31 - 1);
    await tick();
    expect(result).toBeUndefined();
    now += 10_001;
    vi.advanceTimersByTime(10_001);
    await tick();
    expect(result).toBe(null);
  });
});
