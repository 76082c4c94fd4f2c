// Helpers for the composed-operation tests: drive an IoContext synchronously
// so that "the operation completed exactly once" and "nothing hangs" are
// decided without timers.

import type { ErrorCode } from '@tsio/completion-token';
import { IoContext } from '@tsio/executor';
import { expect } from 'vitest';
import { FailCount, testError } from '../src/index.js';

/** Runs every handler that becomes ready, until none is queued (in-memory streams need nothing else). */
export function drain(ioc: IoContext): void {
  for (let i = 0; i < 100_000; i++) {
    ioc.restart();
    if (ioc.poll() === 0) return;
  }
  throw new Error('drain: handlers keep re-posting themselves');
}

export type Outcome = { ec: ErrorCode | null; n: number };

/**
 * Starts an operation with a callback on `ioc`, drains the context and
 * returns the single result. Fails the test if the handler ran other than
 * exactly once: zero times means the operation hangs.
 */
export function runOnce(
  ioc: IoContext,
  start: (handler: (ec: ErrorCode | null, n: number) => void) => void,
): Outcome {
  const results: Outcome[] = [];
  start((ec, n) => {
    results.push({ ec, n });
  });
  expect(results).toHaveLength(0); // never inline
  drain(ioc);
  expect(results).toHaveLength(1);
  return results[0] as Outcome;
}

/**
 * Beast's fail-count pattern: for n = 1, 2, ... build the scenario with a
 * FailCount(n) and run it; every run before the first success must report
 * `testFailure` exactly once; returns the n that first ran to the end.
 */
export function failCountLoop(
  scenario: (fc: FailCount, ioc: IoContext) => (handler: (ec: ErrorCode | null, n: number) => void) => void,
  onSuccess: (outcome: Outcome) => void,
  /** How the scenario ends once nothing is failed on purpose (eof for a read to the end). */
  finalEc: ErrorCode | null = null,
  limit = 500,
): number {
  for (let n = 1; n < limit; n++) {
    const ioc = new IoContext();
    const fc = new FailCount(n);
    const outcome = runOnce(ioc, scenario(fc, ioc));
    if (outcome.ec === finalEc) {
      onSuccess(outcome);
      return n;
    }
    expect(outcome.ec?.toString()).toBe(testError.testFailure.toString());
  }
  throw new Error(`failCountLoop: no success within ${limit} failures`);
}

/** Bytes 0..n-1 of a recognisable pattern. */
export function pattern(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + 3) & 0xff;
  return b;
}
