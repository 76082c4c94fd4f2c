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
import { FailCount, getLowestLayer, TestStream, testError } from '../src/index.js';

const text = (b: Uint8Array, n: number) => Buffer.from(b.subarray(0, n)).toString();

describe('TestStream', () => {
  it('a connected pair carries bytes both ways, with every token', async () => {
    const [a, b] = TestStream.pair();
    expect(await a.writeSome(Buffer.from('hello'))).toBe(5);
    expect(b.str()).toBe('hello');
    const buf = Buffer.alloc(16);
    const n = await new Promise<number>((resolve, reject) =>
      b.readSome(buf, (ec, k) => (ec ? reject(ec) : resolve(k))),
    );
    expect(text(buf, n)).toBe('hello');
    expect(b.str()).toBe('');
    const m = await firstValueFrom(b.writeSome(Buffer.from('back'), useObservable));
    expect(m).toBe(4);
    expect(await a.readSome(buf)).toBe(4);
    expect(text(buf, 4)).toBe('back');
  });

  it('never completes inline, even with the result known at once', async () => {
    const s = new TestStream(undefined, { data: 'x' });
    let called = false;
    s.readSome(Buffer.alloc(1), () => {
      called = true;
    });
    expect(called).toBe(false);
    s.writeSome(Buffer.alloc(0), () => {
      called = true;
    });
    expect(called).toBe(false);
    await Promise.resolve();
    await new Promise((r) => setImmediate(r));
    expect(called).toBe(true);
  });

  it('a pending read completes when the peer writes, not inside the write', async () => {
    const [a, b] = TestStream.pair();
    const log: string[] = [];
    const buf = Buffer.alloc(8);
    const done = new Promise<void>((resolve) =>
      b.readSome(buf, (ec, n) => {
        log.push(`read ${String(ec)} ${n}`);
        resolve();
      }),
    );
    await new Promise((r) => setImmediate(r));
    expect(log).toEqual([]);
    a.writeSome(Buffer.from('abc'), () => log.push('write'));
    log.push('after write call');
    await done;
    expect(log[0]).toBe('after write call');
    expect(log).toContain('read null 3');
    expect(text(buf, 3)).toBe('abc');
  });

  it('readSize and writeSize force partial I/O', async () => {
    const [a, b] = TestStream.pair(undefined, { writeSize: 3 });
    expect(await a.writeSome(Buffer.from('abcdefg'))).toBe(3);
    b.readSize(2);
    const buf = Buffer.alloc(10);
    expect(await b.readSome(buf)).toBe(2);
    expect(text(buf, 2)).toBe('ab');
    expect(await b.readSome(buf)).toBe(1);
    expect(text(buf, 1)).toBe('c');
    // A scattered read fills views in order.
    a.writeSize(Number.POSITIVE_INFINITY);
    b.readSize(Number.POSITIVE_INFINITY);
    await a.writeSome([Buffer.from('12'), Buffer.from('345')]);
    const v1 = Buffer.alloc(1);
    const v2 = Buffer.alloc(10);
    expect(await b.readSome([v1, v2])).toBe(5);
    expect(v1.toString() + text(v2, 4)).toBe('12345');
    expect(() => b.readSize(0)).toThrow(RangeError);
  });

  it('zero-length read and write complete with 0', async () => {
    const [a, b] = TestStream.pair();
    expect(await a.writeSome([])).toBe(0);
    expect(await b.readSome(Buffer.alloc(0))).toBe(0);
    expect(a.nwrite()).toBe(1);
    expect(b.nread()).toBe(1);
  });

  it('append feeds an unconnected stream and wakes a pending read; str() is the unread input', async () => {
    const s = new TestStream(undefined, { data: 'GET ' });
    expect(s.str()).toBe('GET ');
    s.append(Buffer.from('/'));
    expect(s.str()).toBe('GET /');
    const buf = Buffer.alloc(10);
    expect(await s.readSome(buf)).toBe(5);
    const p = s.readSome(buf);
    await new Promise((r) => setImmediate(r));
    s.append('xyz');
    expect(await p).toBe(3);
    expect(s.nreadBytes()).toBe(8);
    s.append('left');
    s.clear();
    expect(s.str()).toBe('');
  });

  it('an unconnected stream keeps what it writes in written()', async () => {
    const s = new TestStream();
    await s.writeSome(Buffer.from('HTTP/1.1 101'));
    expect(s.written()).toBe('HTTP/1.1 101');
    expect(s.writtenBytes().length).toBe(12);
    expect(s.nwriteBytes()).toBe(12);
    s.clearWritten();
    expect(s.written()).toBe('');
  });

  it('close(): peer reads buffered bytes then eof; own pending read aborted; own writes fail', async () => {
    const [a, b] = TestStream.pair();
    await a.writeSome(Buffer.from('last'));
    const pendingOnA = a.readSome(Buffer.alloc(4), asTuple());
    await new Promise((r) => setImmediate(r));
    a.close();
    expect(a.isOpen()).toBe(false);
    expect(await pendingOnA).toEqual([error.operationAborted, 0]);
    const buf = Buffer.alloc(10);
    expect(await b.readSome(buf)).toBe(4);
    expect(await b.readSome(buf, asTuple())).toEqual([error.eof, 0]);
    expect(await a.writeSome(Buffer.from('x'), asTuple())).toEqual([error.connectionReset, 0]);
    // Writing to a peer that closed still lands in its input, as Beast.
    expect(await b.writeSome(Buffer.from('x'), asTuple())).toEqual([null, 1]);
    a.close(); // idempotent
  });

  it('close() wakes a peer read already pending with eof', async () => {
    const [a, b] = TestStream.pair();
    const p = b.readSome(Buffer.alloc(4), asTuple());
    await new Promise((r) => setImmediate(r));
    a.close();
    expect(await p).toEqual([error.eof, 0]);
  });

  it('closeRemote(): this end reads what is buffered, then eof', async () => {
    const s = new TestStream(undefined, { data: 'ab' });
    s.closeRemote();
    const buf = Buffer.alloc(4);
    expect(await s.readSome(buf)).toBe(2);
    expect(await s.readSome(buf, asTuple())).toEqual([error.eof, 0]);
    // A zero-length read still succeeds after eof (Beast checks the size first).
    expect(await s.readSome(Buffer.alloc(0))).toBe(0);
  });

  it('shutdownSend(): the peer reads eof, this end still reads, its writes fail with brokenPipe', async () => {
    const [a, b] = TestStream.pair();
    await a.writeSome(Buffer.from('bye'));
    a.shutdownSend();
    const buf = Buffer.alloc(8);
    expect(await b.readSome(buf)).toBe(3);
    expect(await b.readSome(buf, asTuple())).toEqual([error.eof, 0]);
    expect(await a.writeSome(Buffer.from('x'), asTuple())).toEqual([error.brokenPipe, 0]);
    await b.writeSome(Buffer.from('ok'));
    expect(await a.readSome(buf)).toBe(2);
    expect(a.isOpen()).toBe(true);
  });

  it('cancel() and every cancellation type complete a pending read with operationAborted', async () => {
    const s = new TestStream();
    const p = s.readSome(Buffer.alloc(1), asTuple());
    s.cancel();
    expect(await p).toEqual([error.operationAborted, 0]);
    for (const type of [cancellationType.terminal, cancellationType.partial, cancellationType.total]) {
      const sig = new CancellationSignal();
      const q = s.readSome(Buffer.alloc(1), bindCancellationSlot(sig.slot(), asTuple()));
      sig.emit(type);
      expect(await q).toEqual([error.operationAborted, 0]);
    }
    const ctrl = new AbortController();
    const r = s.readSome(Buffer.alloc(1), withAbortSignal(ctrl.signal, asTuple()));
    ctrl.abort();
    expect(await r).toEqual([error.operationAborted, 0]);
    // The stream stays usable and no byte was lost.
    s.append('z');
    const buf = Buffer.alloc(1);
    expect(await s.readSome(buf)).toBe(1);
    expect(buf.toString()).toBe('z');
  });

  it('a second pending read is a logic error', () => {
    const s = new TestStream();
    s.readSome(Buffer.alloc(1), () => {});
    expect(() => s.readSome(Buffer.alloc(1), () => {})).toThrow(/already pending/);
    s.cancel();
  });

  it('FailCount: the n-th operation and every later one fail with testFailure, across streams', async () => {
    for (let n = 1; n <= 6; n++) {
      const fc = new FailCount(n);
      const [a, b] = TestStream.pair(undefined, { failCount: fc });
      // Operations in a fixed order: write a, read b, write b, read a, zero-write a, zero-read b.
      const ops: Array<() => Promise<[ErrorCode | null, number]>> = [
        () => a.writeSome(Buffer.from('1'), asTuple()),
        () => b.readSome(Buffer.alloc(1), asTuple()),
        () => b.writeSome(Buffer.from('2'), asTuple()),
        () => a.readSome(Buffer.alloc(1), asTuple()),
        () => a.writeSome(Buffer.alloc(0), asTuple()),
        () => b.readSome(Buffer.alloc(0), asTuple()),
      ];
      const results: Array<ErrorCode | null> = [];
      for (const op of ops) {
        const [ec, bytes] = await op();
        results.push(ec);
        if (ec) expect(bytes).toBe(0);
      }
      const expected = ops.map((_, i) => (i + 1 >= n ? testError.testFailure : null));
      expect(results).toEqual(expected);
      expect(fc.count()).toBe(n);
    }
  });

  it('FailCount(0) fails every operation, as Beast (i == n from the start)', async () => {
    const [a, b] = TestStream.pair(undefined, { failCount: new FailCount(0) });
    expect(await a.writeSome(Buffer.from('a'), asTuple())).toEqual([testError.testFailure, 0]);
    expect(await b.readSome(Buffer.alloc(1), asTuple())).toEqual([testError.testFailure, 0]);
  });

  it('FailCount with a custom error code and failOrThrow', () => {
    const fc = new FailCount(2, error.connectionReset);
    expect(fc.fail()).toBe(null);
    expect(fc.fail()).toBe(error.connectionReset);
    expect(() => fc.failOrThrow()).toThrow();
  });

  it('a pending read counts as work on an IoContext', async () => {
    const ioc = new IoContext();
    const [a, b] = TestStream.pair(ioc);
    let got: [ErrorCode | null, number] | undefined;
    b.readSome(Buffer.alloc(4), (ec, n) => {
      got = [ec, n];
    });
    expect(ioc.outstandingWork()).toBe(1);
    const running = ioc.run();
    // run() cannot finish while the read waits; a write from outside wakes it.
    setImmediate(() => a.writeSome(Buffer.from('hi'), () => {}));
    await running;
    expect(got).toEqual([null, 2]);
    expect(ioc.outstandingWork()).toBe(0);
  });

  it('connect rules and lowest layer', () => {
    const a = new TestStream();
    const b = new TestStream();
    TestStream.connect(a, b);
    expect(a.remote()).toBe(b);
    expect(() => a.connect(new TestStream())).toThrow(/already connected/);
    expect(() => new TestStream().connect(new TestStream(new IoContext()))).toThrow(/same executor/);
    expect(getLowestLayer(a)).toBe(a);
  });
});
