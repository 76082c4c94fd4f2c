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
import fc from 'fast-check';
import { firstValueFrom } from 'rxjs';
import { describe, expect, it } from 'vitest';
import {
  asyncRead,
  completionCondition,
  FlatBuffer,
  isCompletionCondition,
  MultiBuffer,
  StaticBuffer,
  TestStream,
  transferAll,
  transferAtLeast,
  transferExactly,
} from '../src/index.js';
import { drain, failCountLoop, pattern, runOnce } from './compose-helpers.js';

const MSG = pattern(37);

describe('completion conditions', () => {
  it('follow Asio: 0 stops, errors stop the built-ins', () => {
    expect(transferAll()(null, 1000)).toBeGreaterThan(0);
    expect(transferAll()(error.eof, 0)).toBe(0);
    expect(transferAtLeast(5)(null, 4)).toBeGreaterThan(0);
    expect(transferAtLeast(5)(null, 5)).toBe(0);
    expect(transferExactly(5)(null, 3)).toBe(2);
    expect(transferExactly(5)(null, 5)).toBe(0);
    expect(transferExactly(5)(error.eof, 3)).toBe(0);
    expect(isCompletionCondition(transferAll())).toBe(true);
    expect(isCompletionCondition(() => 1)).toBe(false);
    expect(() => transferExactly(-1)).toThrow(RangeError);
  });
});

describe('asyncRead into a buffer sequence', () => {
  it('gives the same result at every read size', () => {
    for (let rs = 1; rs <= MSG.length; rs++) {
      const ioc = new IoContext();
      const s = new TestStream(ioc, { data: MSG, readSize: rs });
      const out = Buffer.alloc(MSG.length);
      const r = runOnce(ioc, (h) => asyncRead(s, out, h));
      expect(r).toEqual({ ec: null, n: MSG.length });
      expect(out.equals(MSG)).toBe(true);
      expect(s.nread()).toBe(Math.ceil(MSG.length / rs));
    }
  });

  it('fills a scattered sequence split at every position, at every read size', () => {
    for (let split = 0; split <= MSG.length; split += 3) {
      for (let rs = 1; rs <= MSG.length; rs += 4) {
        const ioc = new IoContext();
        const s = new TestStream(ioc, { data: MSG, readSize: rs });
        const a = Buffer.alloc(split);
        const b = Buffer.alloc(MSG.length - split);
        const r = runOnce(ioc, (h) => asyncRead(s, [a, Buffer.alloc(0), b], h));
        expect(r).toEqual({ ec: null, n: MSG.length });
        expect(Buffer.concat([a, b]).equals(MSG)).toBe(true);
      }
    }
  });

  it('eof mid-read completes with eof and the bytes read', () => {
    const ioc = new IoContext();
    const s = new TestStream(ioc, { data: MSG.subarray(0, 10), readSize: 3 });
    s.closeRemote();
    const out = Buffer.alloc(20);
    expect(runOnce(ioc, (h) => asyncRead(s, out, h))).toEqual({ ec: error.eof, n: 10 });
    expect(out.subarray(0, 10).equals(MSG.subarray(0, 10))).toBe(true);
  });

  it('transferAtLeast / transferExactly / a custom condition', () => {
    const ioc = new IoContext();
    const s = new TestStream(ioc, { data: MSG, readSize: 4 });
    const out = Buffer.alloc(MSG.length);
    expect(runOnce(ioc, (h) => asyncRead(s, out, transferAtLeast(5), h))).toEqual({ ec: null, n: 8 });
    expect(runOnce(ioc, (h) => asyncRead(s, out, transferExactly(6), h))).toEqual({ ec: null, n: 6 });
    // A condition asking for 1 byte per step: exactly 3 steps then stop.
    const three = completionCondition((ec, n) => (ec || n >= 3 ? 0 : 1));
    const before = s.nread();
    expect(runOnce(ioc, (h) => asyncRead(s, out, three, h))).toEqual({ ec: null, n: 3 });
    expect(s.nread() - before).toBe(3);
    expect(runOnce(ioc, (h) => asyncRead(s, out, transferExactly(0), h))).toEqual({ ec: null, n: 0 });
    expect(Buffer.from(s.bytes()).equals(MSG.subarray(17))).toBe(true);
  });

  it('an empty buffer completes with 0 without reading', () => {
    const ioc = new IoContext();
    const s = new TestStream(ioc);
    expect(runOnce(ioc, (h) => asyncRead(s, Buffer.alloc(0), h))).toEqual({ ec: null, n: 0 });
    expect(s.nread()).toBe(0);
  });

  it('fail count: every failure point is reported once, with testFailure', () => {
    const out = Buffer.alloc(MSG.length);
    const n = failCountLoop(
      (fc, ioc) => {
        const s = new TestStream(ioc, { data: MSG, readSize: 5, failCount: fc });
        return (h) => asyncRead(s, out, h);
      },
      (r) => {
        expect(r).toEqual({ ec: null, n: MSG.length });
        expect(out.equals(MSG)).toBe(true);
      },
    );
    expect(n).toBe(Math.ceil(MSG.length / 5) + 1);
  });

  it('works with the promise and observable tokens, and across a connected pair', async () => {
    const [a, b] = TestStream.pair(undefined, { readSize: 2 });
    const out = Buffer.alloc(6);
    const p = asyncRead(b, out);
    a.writeSome(Buffer.from('abc'), () => {});
    setImmediate(() => a.writeSome(Buffer.from('defg'), () => {}));
    expect(await p).toBe(6);
    expect(out.toString()).toBe('abcdef');
    const o = Buffer.alloc(1);
    expect(await firstValueFrom(asyncRead(b, o, useObservable))).toBe(1);
    expect(o.toString()).toBe('g');
  });

  it('AbortSignal cancels a pending read; after progress the bytes are kept and counted', async () => {
    const [a, b] = TestStream.pair();
    const ctrl = new AbortController();
    const out = Buffer.alloc(10);
    const p = asyncRead(b, out, withAbortSignal(ctrl.signal, asTuple()));
    await a.writeSome(Buffer.from('xyz'));
    await new Promise((r) => setImmediate(r));
    ctrl.abort();
    expect(await p).toEqual([error.operationAborted, 3]);
    expect(out.subarray(0, 3).toString()).toBe('xyz');
  });

  it('total cancellation is honoured before any byte, ignored after progress (partial)', () => {
    const ioc = new IoContext();
    const [a, b] = TestStream.pair(ioc);
    const results: Array<[ErrorCode | null, number]> = [];
    const sig = new CancellationSignal();
    asyncRead(
      b,
      Buffer.alloc(4),
      bindCancellationSlot(sig.slot(), (ec: ErrorCode | null, n: number) => results.push([ec, n])),
    );
    drain(ioc);
    sig.emit(cancellationType.total);
    drain(ioc);
    expect(results).toEqual([[error.operationAborted, 0]]);

    const sig2 = new CancellationSignal();
    asyncRead(
      b,
      Buffer.alloc(4),
      bindCancellationSlot(sig2.slot(), (ec: ErrorCode | null, n: number) => results.push([ec, n])),
    );
    a.writeSome(Buffer.from('12'), () => {});
    drain(ioc);
    sig2.emit(cancellationType.total); // would leave 2 bytes consumed: not honoured
    drain(ioc);
    expect(results).toHaveLength(1);
    a.writeSome(Buffer.from('34'), () => {});
    drain(ioc);
    expect(results[1]).toEqual([null, 4]);
  });
});

describe('asyncRead into a DynamicBuffer', () => {
  it('reads to eof at every read size, into each buffer kind', () => {
    for (const make of [() => new FlatBuffer(), () => new MultiBuffer()]) {
      for (let rs = 1; rs <= MSG.length; rs++) {
        const ioc = new IoContext();
        const s = new TestStream(ioc, { data: MSG, readSize: rs });
        s.closeRemote();
        const buf = make();
        expect(runOnce(ioc, (h) => asyncRead(s, buf, h))).toEqual({ ec: error.eof, n: MSG.length });
        expect(Buffer.concat([buf.data()].flat()).equals(MSG)).toBe(true);
      }
    }
  });

  it('stops with success when the buffer reaches maxSize, never overflowing', () => {
    const ioc = new IoContext();
    const s = new TestStream(ioc, { data: MSG });
    const buf = new StaticBuffer(10);
    expect(runOnce(ioc, (h) => asyncRead(s, buf, h))).toEqual({ ec: null, n: 10 });
    expect(runOnce(ioc, (h) => asyncRead(s, buf, h))).toEqual({ ec: null, n: 0 });
    const flat = new FlatBuffer(16);
    expect(runOnce(ioc, (h) => asyncRead(s, flat, transferAtLeast(3), h))).toEqual({ ec: null, n: 16 });
  });

  it('transferExactly reads exactly that many into the buffer', () => {
    for (let rs = 1; rs <= 12; rs++) {
      const ioc = new IoContext();
      const s = new TestStream(ioc, { data: MSG, readSize: rs });
      const buf = new FlatBuffer();
      expect(runOnce(ioc, (h) => asyncRead(s, buf, transferExactly(12), h))).toEqual({ ec: null, n: 12 });
      expect(buf.data().equals(MSG.subarray(0, 12))).toBe(true);
      expect(s.bytes().equals(MSG.subarray(12))).toBe(true);
    }
  });

  it('fail count pattern (a read to the end ends with eof)', () => {
    let buf = new FlatBuffer();
    const n = failCountLoop(
      (fc, ioc) => {
        buf = new FlatBuffer();
        const s = new TestStream(ioc, { data: MSG, readSize: 8, failCount: fc });
        s.closeRemote();
        return (h) => asyncRead(s, buf, h);
      },
      (r) => expect(r.n).toBe(MSG.length),
      error.eof,
    );
    expect(buf.data().equals(MSG)).toBe(true);
    expect(n).toBe(Math.ceil(MSG.length / 8) + 2); // the reads with data, and the one that sees eof
  });
});

describe('asyncRead property', () => {
  it('any chunking by the writer, any read size and any scatter split give the bytes written', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 1, maxLength: 64 }),
        fc.array(fc.integer({ min: 1, max: 10 }), { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 1, max: 16 }),
        fc.nat(),
        async (data, chunks, readSize, splitSeed) => {
          const [a, b] = TestStream.pair(undefined, { readSize });
          const split = splitSeed % (data.length + 1);
          const x = Buffer.alloc(split);
          const y = Buffer.alloc(data.length - split);
          const reading = asyncRead(b, [x, y], asTuple());
          let off = 0;
          for (let i = 0; off < data.length; i++) {
            off += await a.writeSome(data.subarray(off, off + (chunks[i % chunks.length] as number)));
          }
          expect(await reading).toEqual([null, data.length]);
          expect(Buffer.concat([x, y]).equals(Buffer.from(data))).toBe(true);
        },
      ),
      { numRuns: 150 },
    );
  });
});
