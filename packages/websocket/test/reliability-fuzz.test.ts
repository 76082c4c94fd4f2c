/*
 * Fuzzing over real TCP (issue 9), the short CI run. The engine is shared
 * with the long run (bench/fuzz.mjs, 1,000,000 mutations against dist/);
 * here vitest resolves @tsio/* to the sources. Seeded: a failure reproduces
 * with the same seed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ClientFuzzReport,
  heapAfterGc,
  installProcessGuards,
  runClientFuzz,
  runServerFuzz,
  type ServerFuzzReport,
} from '../../../bench/lib/fuzz-engine.mjs';

const guards = installProcessGuards();
afterAll(() => guards.remove());

describe('fuzzing the echo server over TCP (Acceptor + TcpStream + Stream, callbacks)', () => {
  let report: ServerFuzzReport;
  let heapBefore = 0;
  let heapAfter = 0;

  beforeAll(async () => {
    // Warm up (JIT, pools, module state) before taking the baseline.
    await runServerFuzz({ seed: 99, targetMutations: 300, concurrency: 8 });
    heapBefore = await heapAfterGc();
    report = await runServerFuzz({ seed: 20260101, targetMutations: 20_000, concurrency: 48 });
    heapAfter = await heapAfterGc();
    console.log('server fuzz', JSON.stringify(report), { heapBefore, heapAfter });
  }, 240_000);

  it('sent at least 20,000 mutated frames and handshakes', () => {
    expect(report.mutatedFrames + report.mutatedHandshakes).toBeGreaterThanOrEqual(20_000);
    expect(report.mutatedHandshakes).toBeGreaterThan(0);
    expect(report.upgraded).toBeGreaterThan(0);
  });

  it('no uncaught exception, no unhandled rejection', () => {
    expect(guards.counts.messages).toEqual([]);
    expect(guards.counts.uncaught + guards.counts.unhandled).toBe(0);
  });

  it('every connection ended with a valid close frame or a TCP close within the bound', () => {
    expect(report.connectFailures).toBe(0);
    expect(report.hung).toBe(0);
    expect(report.badCloseFrames).toBe(0);
    expect(report.maskedFromServer).toBe(0);
    expect(report.closedWithFrame + report.closedWithTcp).toBe(report.connections);
    // Both endings occur (the run is not degenerate).
    expect(report.closedWithFrame).toBeGreaterThan(0);
    expect(report.closedWithTcp).toBeGreaterThan(0);
    // Protocol failures were answered with their RFC codes.
    expect(report.closeCodes['1002']).toBeGreaterThan(0);
    expect(report.closeCodes['1007']).toBeGreaterThan(0);
  });

  it('every server operation completed exactly once and every session ended', () => {
    expect(report.serverDoubleCompletions).toBe(0);
    expect(report.serverOpsPending).toBe(0);
    expect(report.liveSessions).toBe(0);
    expect(report.server.ended).toBe(report.server.accepted);
  });

  it('kept serving a well-behaved client during the fuzz, every echo intact', () => {
    expect(report.goodRoundTrips).toBeGreaterThan(0);
    expect(report.goodMismatches).toBe(0);
    expect(report.goodFailures).toBe(0);
  });

  it('heap returns near its baseline afterwards', () => {
    // Generous bound: the engine's own bookkeeping, JIT code and V8's heap
    // layout vary; a leak of per-connection state (tens of thousands of
    // connections × KiB) would exceed it by far.
    expect(heapAfter - heapBefore).toBeLessThan(24 * 1024 * 1024);
  });
});

describe('fuzzing our client over TCP against a hostile server', () => {
  let report: ClientFuzzReport;

  beforeAll(async () => {
    report = await runClientFuzz({ seed: 777, targetMutations: 5_000, concurrency: 48 });
    console.log('client fuzz', JSON.stringify(report));
  }, 240_000);

  it('every handshake and read completed exactly once, with the stream closed afterwards', () => {
    expect(report.mutatedFrames + report.mutatedHandshakes).toBeGreaterThanOrEqual(5_000);
    expect(report.connectFailures).toBe(0);
    expect(report.hung).toBe(0);
    expect(report.doubleCompletions).toBe(0);
    expect(report.opsPending).toBe(0);
    expect(report.openAfterError).toBe(0);
    expect(report.clientOpened).toBeGreaterThan(0);
    expect(report.handshakeFailed).toBeGreaterThan(0);
    expect(report.silentAfterClose).toBeGreaterThan(0);
  });

  it('no uncaught exception, no unhandled rejection', () => {
    expect(guards.counts.messages).toEqual([]);
  });
});
