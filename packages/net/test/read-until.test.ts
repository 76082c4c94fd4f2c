import { asTuple, error, useObservable, withAbortSignal } from '@tsio/completion-token';
import { IoContext } from '@tsio/executor';
import fc from 'fast-check';
import { firstValueFrom } from 'rxjs';
import { describe, expect, it } from 'vitest';
import {
  asyncRead,
  asyncReadUntil,
  buffersToBuffer,
  type DynamicBuffer,
  FlatBuffer,
  MultiBuffer,
  miscError,
  TestStream,
} from '../src/index.js';
import { failCountLoop, runOnce } from './compose-helpers.js';

const REQUEST = 'GET / HTTP/1.1\r\nHost: x\r\n\r\nbody bytes';
const HEAD_END = REQUEST.indexOf('\r\n\r\n') + 4;

const contents = (b: DynamicBuffer) => buffersToBuffer(b.data()).toString('latin1');

describe('asyncReadUntil', () => {
  it('finds a delimiter spanning reads at every read size, in Flat and Multi buffers', () => {
    for (const make of [() => new FlatBuffer(), () => new MultiBuffer()]) {
      for (let rs = 1; rs <= REQUEST.length; rs++) {
        const ioc = new IoContext();
        const s = new TestStream(ioc, { data: REQUEST, readSize: rs });
        const buf = make();
        expect(runOnce(ioc, (h) => asyncReadUntil(s, buf, '\r\n\r\n', h))).toEqual({ ec: null, n: HEAD_END });
        expect(contents(buf).startsWith(REQUEST.slice(0, HEAD_END))).toBe(true);
        expect(contents(buf) + s.str('latin1')).toBe(REQUEST);
      }
    }
  });

  it('accepts string, bytes and RegExp delimiters, and leaves extra bytes for the next call', () => {
    for (let rs = 1; rs <= REQUEST.length; rs += 2) {
      const ioc = new IoContext();
      const s = new TestStream(ioc, { data: REQUEST, readSize: rs });
      const buf = new FlatBuffer();
      const line = REQUEST.indexOf('\r\n') + 2;
      expect(runOnce(ioc, (h) => asyncReadUntil(s, buf, Buffer.from('\r\n'), h))).toEqual({
        ec: null,
        n: line,
      });
      buf.consume(line);
      expect(runOnce(ioc, (h) => asyncReadUntil(s, buf, /Host: \w+\r\n/, h))).toEqual({
        ec: null,
        n: 'Host: x\r\n'.length,
      });
      buf.consume('Host: x\r\n'.length);
      expect(runOnce(ioc, (h) => asyncReadUntil(s, buf, '\n', h))).toEqual({ ec: null, n: 2 });
    }
  });

  it('completes from data already buffered without reading', () => {
    const ioc = new IoContext();
    const s = new TestStream(ioc);
    const buf = new FlatBuffer();
    buf.prepare(5).write('ab;cd');
    buf.commit(5);
    expect(runOnce(ioc, (h) => asyncReadUntil(s, buf, ';', h))).toEqual({ ec: null, n: 3 });
    expect(runOnce(ioc, (h) => asyncReadUntil(s, buf, '', h))).toEqual({ ec: null, n: 0 });
    expect(s.nread()).toBe(0);
  });

  it('eof before the delimiter: eof and 0, the bytes stay in the buffer', () => {
    for (let rs = 1; rs <= 6; rs++) {
      const ioc = new IoContext();
      const s = new TestStream(ioc, { data: 'abcdef', readSize: rs });
      s.closeRemote();
      const buf = new FlatBuffer();
      expect(runOnce(ioc, (h) => asyncReadUntil(s, buf, '\n', h))).toEqual({ ec: error.eof, n: 0 });
      expect(contents(buf)).toBe('abcdef');
    }
  });

  it('a full buffer without the delimiter gives notFound (asio::error::not_found)', () => {
    const ioc = new IoContext();
    const s = new TestStream(ioc, { data: 'abcdefghij\n', readSize: 3 });
    const buf = new FlatBuffer(8);
    expect(runOnce(ioc, (h) => asyncReadUntil(s, buf, '\n', h))).toEqual({ ec: miscError.notFound, n: 0 });
    expect(contents(buf)).toBe('abcdefgh');
    // The delimiter exactly at the limit is found.
    const s2 = new TestStream(ioc, { data: 'abcdefg\nzz' });
    const buf2 = new FlatBuffer(8);
    expect(runOnce(ioc, (h) => asyncReadUntil(s2, buf2, '\n', h))).toEqual({ ec: null, n: 8 });
  });

  it('fail count: every failure point is reported once, with testFailure', () => {
    let buf = new FlatBuffer();
    const n = failCountLoop(
      (fcount, ioc) => {
        buf = new FlatBuffer();
        const s = new TestStream(ioc, { data: REQUEST, readSize: 4, failCount: fcount });
        return (h) => asyncReadUntil(s, buf, '\r\n\r\n', h);
      },
      (r) => expect(r.n).toBe(HEAD_END),
    );
    expect(n).toBe(Math.ceil(HEAD_END / 4) + 1);
    expect(contents(buf).slice(0, HEAD_END)).toBe(REQUEST.slice(0, HEAD_END));
  });

  it('works with promise and observable tokens; AbortSignal cancels, keeping the bytes read', async () => {
    const [a, b] = TestStream.pair();
    const buf = new FlatBuffer();
    const p = asyncReadUntil(b, buf, '\n');
    await a.writeSome(Buffer.from('hel'));
    await a.writeSome(Buffer.from('lo\nrest'));
    expect(await p).toBe(6);
    buf.consume(6);
    const o = asyncReadUntil(b, buf, 't', useObservable);
    expect(await firstValueFrom(o)).toBe(4);
    buf.consume(4);
    const ctrl = new AbortController();
    const q = asyncReadUntil(b, buf, '\n', withAbortSignal(ctrl.signal, asTuple()));
    await a.writeSome(Buffer.from('partial'));
    await new Promise((r) => setImmediate(r));
    ctrl.abort();
    expect(await q).toEqual([error.operationAborted, 0]);
    expect(contents(buf)).toBe('partial');
  });

  it('property: any chunking of the input and any read size give the reference result', async () => {
    const bytes = fc.uint8Array({ minLength: 0, maxLength: 60 });
    await fc.assert(
      fc.asyncProperty(
        bytes,
        fc.constantFrom('\r\n', 'x', '\r\n\r\n', 'abc'),
        fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 8 }),
        fc.integer({ min: 1, max: 12 }),
        fc.boolean(),
        async (body, delim, chunkSizes, readSize, multi) => {
          const data = Buffer.concat([Buffer.from(body), Buffer.from(delim), Buffer.from(body)]);
          const expected = data.indexOf(delim) + delim.length;
          const [a, b] = TestStream.pair(undefined, { readSize });
          const buf: DynamicBuffer = multi ? new MultiBuffer() : new FlatBuffer();
          const reading = asyncReadUntil(b, buf, delim, asTuple());
          // The writer sends the data in the given chunk sizes, cycling through them.
          let off = 0;
          for (let i = 0; off < data.length; i++) {
            const size = chunkSizes[i % chunkSizes.length] as number;
            off += await a.writeSome(data.subarray(off, off + size));
          }
          a.close();
          const [ec, n] = await reading;
          expect(ec).toBe(null);
          expect(n).toBe(expected);
          // Nothing lost or reordered: the rest of the stream follows the buffer.
          const rest = new FlatBuffer();
          const [ec2] = await asyncRead(b, rest, asTuple());
          expect(ec2).toBe(error.eof);
          expect(Buffer.concat([buffersToBuffer(buf.data()), rest.data()]).equals(data)).toBe(true);
        },
      ),
      { numRuns: 150 },
    );
  });
});
