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
import { describe, expect, it } from 'vitest';
import {
  asyncWrite,
  FlatBuffer,
  MultiBuffer,
  TestStream,
  transferAtLeast,
  transferExactly,
} from '../src/index.js';
import { drain, failCountLoop, pattern, runOnce } from './compose-helpers.js';

const MSG = pattern(41);

describe('asyncWrite', () => {
  it('gives the same bytes at every write size', () => {
    for (let ws = 1; ws <= MSG.length; ws++) {
      const ioc = new IoContext();
      const [a, b] = TestStream.pair(ioc, { writeSize: ws });
      expect(runOnce(ioc, (h) => asyncWrite(a, MSG, h))).toEqual({ ec: null, n: MSG.length });
      expect(b.bytes().equals(MSG)).toBe(true);
      expect(a.nwrite()).toBe(Math.ceil(MSG.length / ws));
    }
  });

  it('writes a gathered sequence split anywhere, at every write size', () => {
    for (let split = 0; split <= MSG.length; split += 5) {
      for (let ws = 1; ws <= MSG.length; ws += 3) {
        const ioc = new IoContext();
        const [a, b] = TestStream.pair(ioc, { writeSize: ws });
        const seq = [MSG.subarray(0, split), Buffer.alloc(0), MSG.subarray(split)];
        expect(runOnce(ioc, (h) => asyncWrite(a, seq, h))).toEqual({ ec: null, n: MSG.length });
        expect(b.bytes().equals(MSG)).toBe(true);
      }
    }
  });

  it('writes a DynamicBuffer and consumes what went out', () => {
    for (const buf of [new FlatBuffer(), new MultiBuffer()]) {
      const ioc = new IoContext();
      const [a, b] = TestStream.pair(ioc, { writeSize: 7 });
      const p = buf.prepare(MSG.length);
      if (Array.isArray(p)) {
        let off = 0;
        for (const v of p) {
          v.set(MSG.subarray(off, off + v.length));
          off += v.length;
        }
      } else p.set(MSG);
      buf.commit(MSG.length);
      expect(runOnce(ioc, (h) => asyncWrite(a, buf, transferExactly(20), h))).toEqual({ ec: null, n: 20 });
      expect(buf.size()).toBe(MSG.length - 20);
      expect(runOnce(ioc, (h) => asyncWrite(a, buf, h))).toEqual({ ec: null, n: MSG.length - 20 });
      expect(buf.size()).toBe(0);
      expect(b.bytes().equals(MSG)).toBe(true);
    }
  });

  it('transferAtLeast stops after the step that reaches it', () => {
    const ioc = new IoContext();
    const [a, b] = TestStream.pair(ioc, { writeSize: 4 });
    expect(runOnce(ioc, (h) => asyncWrite(a, MSG, transferAtLeast(6), h))).toEqual({ ec: null, n: 8 });
    expect(b.str('latin1').length).toBe(8);
  });

  it('writing nothing completes with 0 without calling writeSome', () => {
    const ioc = new IoContext();
    const [a] = TestStream.pair(ioc);
    expect(runOnce(ioc, (h) => asyncWrite(a, [], h))).toEqual({ ec: null, n: 0 });
    expect(runOnce(ioc, (h) => asyncWrite(a, new FlatBuffer(), h))).toEqual({ ec: null, n: 0 });
    expect(a.nwrite()).toBe(0);
  });

  it('reports the bytes accepted before an error (peer gone)', () => {
    const ioc = new IoContext();
    const [a] = TestStream.pair(ioc, { writeSize: 10 });
    a.close();
    expect(runOnce(ioc, (h) => asyncWrite(a, MSG, h))).toEqual({ ec: error.connectionReset, n: 0 });
  });

  it('fail count: every failure point is reported once, with testFailure', () => {
    let peer: TestStream | undefined;
    const n = failCountLoop(
      (fc, ioc) => {
        const [a, b] = TestStream.pair(ioc, { writeSize: 6, failCount: fc });
        peer = b;
        return (h) => asyncWrite(a, MSG, h);
      },
      (r) => {
        expect(r.n).toBe(MSG.length);
        expect(peer?.bytes().equals(MSG)).toBe(true);
      },
    );
    expect(n).toBe(Math.ceil(MSG.length / 6) + 1);
  });

  it('works with the promise, observable and tuple tokens', async () => {
    const [a, b] = TestStream.pair(undefined, { writeSize: 3 });
    expect(await asyncWrite(a, Buffer.from('hello'))).toBe(5);
    expect(await firstValueFrom(asyncWrite(a, Buffer.from('!!'), useObservable))).toBe(2);
    const r: [ErrorCode | null, number] = await asyncWrite(a, Buffer.from('x'), asTuple());
    expect(r).toEqual([null, 1]);
    expect(b.str()).toBe('hello!!x');
  });

  it('an already-aborted signal completes with operationAborted and writes nothing', async () => {
    const [a, b] = TestStream.pair();
    const ctrl = new AbortController();
    ctrl.abort();
    const [ec] = await asyncWrite(a, MSG, withAbortSignal(ctrl.signal, asTuple()));
    expect(ec).toBe(error.operationAborted);
    expect(b.bytes().length).toBe(0);
  });

  it('cancellation between steps ends the write with the bytes sent so far', () => {
    for (const type of [cancellationType.terminal, cancellationType.partial]) {
      const ioc = new IoContext();
      const [a, b] = TestStream.pair(ioc, { writeSize: 10 });
      const sig = new CancellationSignal();
      const results: Array<[ErrorCode | null, number]> = [];
      asyncWrite(
        a,
        MSG,
        bindCancellationSlot(sig.slot(), (ec: ErrorCode | null, n: number) => results.push([ec, n])),
      );
      ioc.pollOne(); // first step's completion runs and starts the second step
      sig.emit(type);
      drain(ioc);
      expect(results).toEqual([[error.operationAborted, 20]]);
      expect(b.bytes().equals(MSG.subarray(0, 20))).toBe(true);
    }
  });

  it('total cancellation after the first bytes is not honoured (it could not be side-effect free)', () => {
    const ioc = new IoContext();
    const [a, b] = TestStream.pair(ioc, { writeSize: 10 });
    const sig = new CancellationSignal();
    const results: Array<[ErrorCode | null, number]> = [];
    asyncWrite(
      a,
      MSG,
      bindCancellationSlot(sig.slot(), (ec: ErrorCode | null, n: number) => results.push([ec, n])),
    );
    ioc.pollOne();
    sig.emit(cancellationType.total);
    drain(ioc);
    expect(results).toEqual([[null, MSG.length]]);
    expect(b.bytes().equals(MSG)).toBe(true);
  });
});
