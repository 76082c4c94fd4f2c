/*
 * The write, ping and read operations under cancellation, and the exact
 * frames writes produce (opcodes, FIN, fragmentation, masking).
 */
import {
  bindCancellationSlot,
  CancellationSignal,
  type CompletionHandler,
  type CompletionToken,
  cancellationType,
  error as netError,
  useObservable,
  withAbortSignal,
} from '@tsio/completion-token';
import type { Executor } from '@tsio/executor';
import {
  type AsyncStream,
  type ConstBufferSequence,
  FlatBuffer,
  type MutableBufferSequence,
  TestStream,
} from '@tsio/net';
import { describe, expect, it } from 'vitest';
import { Stream } from '../src/index.js';
import { openDeflatePair, openPair, parseFrames, type Side, settle, track, underTest } from './helpers.js';

/**
 * A next layer that keeps the caller's views (no copy) and reads them only
 * when it completes, a macrotask later, taking at most `piece` bytes per
 * `writeSome`: a buffer reused before this handler ran would arrive corrupted.
 */
class LateWriter {
  constructor(
    readonly inner: TestStream,
    readonly piece: number,
  ) {}

  getExecutor(): Executor {
    return this.inner.getExecutor();
  }

  readSome(buffers: MutableBufferSequence, token?: CompletionToken<[number]>): void {
    this.inner.readSome(buffers, token as CompletionHandler<[number]>);
  }

  writeSome(buffers: ConstBufferSequence, token?: CompletionToken<[number]>): void {
    const views = (Array.isArray(buffers) ? [...buffers] : [buffers]) as Uint8Array[];
    setTimeout(() => {
      const bytes = Buffer.concat(views).subarray(0, this.piece);
      this.inner.writeSome(Buffer.from(bytes), token as CompletionHandler<[number]>);
    }, 1);
  }
}

function wire(raw: { bytes(): Buffer; clear(): void }): Buffer {
  const b = raw.bytes();
  raw.clear();
  return b;
}

describe('frames written', () => {
  for (const side of ['client', 'server'] as const satisfies readonly Side[]) {
    it(`${side}: autoFragment, writeBufferBytes, text/binary and writeSome continuations give the exact frames`, async () => {
      const { ws, raw } = await underTest(side);
      ws.writeBufferBytes(10);
      await ws.asyncWrite('x'.repeat(25));
      ws.autoFragment(false);
      await ws.asyncWrite('y'.repeat(25));
      ws.binary(true);
      await ws.asyncWriteSome(false, Buffer.from([1]));
      await ws.asyncWriteSome(false, Buffer.from([]));
      await ws.asyncWriteSome(true, Buffer.from([2, 3]));
      await ws.asyncWrite(Buffer.alloc(0));
      await ws.asyncWrite([Buffer.from([4, 5]), Buffer.from([6])]);
      const { frames, rest } = parseFrames(wire(raw));
      expect(rest.length).toBe(0);
      expect(frames.map((f) => [f.opcode, f.fin, f.payload.length])).toEqual([
        [1, false, 10],
        [0, false, 10],
        [0, true, 5],
        [1, true, 25],
        [2, false, 1],
        [0, false, 0],
        [0, true, 2],
        [2, true, 0],
        [2, true, 3],
      ]);
      expect(frames.every((f) => f.masked === (side === 'client') && f.rsv === 0)).toBe(true);
      expect([...frames.at(-1)!.payload]).toEqual([4, 5, 6]);
    });
  }

  it('a client masks with a fresh key per frame and never modifies the caller buffer', async () => {
    const { ws, raw } = await underTest('client');
    const data = Buffer.from('same payload');
    const copy = Buffer.from(data);
    await ws.asyncWrite(data);
    await ws.asyncWrite(data);
    const { frames } = parseFrames(wire(raw));
    expect(data.equals(copy)).toBe(true);
    expect(frames[0]!.payload.equals(data) && frames[1]!.payload.equals(data)).toBe(true);
    expect(frames[0]!.raw.subarray(2, 6).equals(frames[1]!.raw.subarray(2, 6))).toBe(false);
  });
});

describe('cancellation of reads, writes and pings', () => {
  it('a pending read ignores partial and total cancellation; terminal aborts it and fails the stream', async () => {
    const { server, b } = await openPair();
    const sig = new CancellationSignal();
    const r = track<[number]>();
    server.asyncRead(new FlatBuffer(), bindCancellationSlot(sig.slot(), r.handler));
    await settle(2);
    sig.emit(cancellationType.partial);
    sig.emit(cancellationType.total);
    await settle();
    expect(r.calls()).toBe(0);
    sig.emit(cancellationType.terminal);
    const [ec] = await r.result;
    expect(ec).toBe(netError.operationAborted);
    expect(server.isOpen()).toBe(false);
    expect(b.isOpen()).toBe(false);
    await settle();
    expect(r.calls()).toBe(1);
  });

  it('a write parked behind a ping: total cancellation leaves no trace, a later write works', async () => {
    const { ws, raw, own } = await underTest('server');
    own.writeSize(1);
    const p = track();
    ws.asyncPing('slow ping', p.handler);
    const sig = new CancellationSignal();
    const w = track<[number]>();
    ws.asyncWrite('never sent', bindCancellationSlot(sig.slot(), w.handler));
    sig.emit(cancellationType.total);
    expect((await w.result)[0]).toBe(netError.operationAborted);
    expect((await p.result)[0]).toBeNull();
    own.writeSize(Number.POSITIVE_INFINITY);
    expect(await ws.asyncWrite('sent')).toBe(4);
    const { frames } = parseFrames(wire(raw));
    expect(frames.map((f) => [f.opcode, f.payload.toString()])).toEqual([
      [9, 'slow ping'],
      [1, 'sent'],
    ]);
    expect(ws.isOpen()).toBe(true);
  });

  it('a ping parked behind a write: total cancellation leaves no trace', async () => {
    const { ws, raw, own } = await underTest('client');
    own.writeSize(2);
    const w = track<[number]>();
    ws.asyncWrite('a message being written', w.handler);
    const sig = new CancellationSignal();
    const p = track();
    ws.asyncPing('x', bindCancellationSlot(sig.slot(), p.handler));
    sig.emit(cancellationType.total);
    expect((await p.result)[0]).toBe(netError.operationAborted);
    expect((await w.result)[0]).toBeNull();
    expect(parseFrames(wire(raw)).frames.map((f) => f.opcode)).toEqual([1]);
    await ws.asyncPing('y');
    expect(parseFrames(wire(raw)).frames.map((f) => f.opcode)).toEqual([9]);
  });

  it('AbortSignal-style: unsubscribing an observable write parked behind a ping aborts only that write', async () => {
    const { ws, own, raw } = await underTest('server');
    own.writeSize(1);
    const p = track();
    ws.asyncPing('ping', p.handler);
    let completed = false;
    const sub = ws.asyncWrite('dropped', useObservable).subscribe({
      next: () => {
        completed = true;
      },
    });
    sub.unsubscribe();
    await p.result;
    await settle();
    expect(completed).toBe(false);
    expect(ws.isOpen()).toBe(true);
    expect(parseFrames(wire(raw)).frames.map((f) => f.opcode)).toEqual([9]);
  });

  it('withAbortSignal: aborting a write parked behind a ping aborts only that write', async () => {
    const { ws, own, raw } = await underTest('client');
    own.writeSize(1);
    const p = track();
    ws.asyncPing('ping', p.handler);
    const ac = new AbortController();
    const w = track<[number]>();
    ws.asyncWrite('dropped', withAbortSignal(ac.signal, w.handler));
    ac.abort();
    expect((await w.result)[0]).toBe(netError.operationAborted);
    await p.result;
    await settle();
    expect(ws.isOpen()).toBe(true);
    expect(parseFrames(wire(raw)).frames.map((f) => f.opcode)).toEqual([9]);
    expect(await ws.asyncWrite('later')).toBe(5);
  });
});

describe('write operations pooled across streams', () => {
  it('writes on several streams, interleaved and started from each other’s handlers, reach only their own peers', async () => {
    const pairs = await Promise.all([openPair(), openPair(), openPair()]);
    const deflated = await openDeflatePair();
    // Writers: both ends of every pair (masked and unmasked frames), and a compressing client.
    const writers = [
      ...pairs.flatMap((p, i) => [
        { name: `c${i}`, from: p.client, to: p.server },
        { name: `s${i}`, from: p.server, to: p.client },
      ]),
      { name: 'z', from: deflated.client, to: deflated.server },
    ];
    const rounds = 20;
    const received = new Map(writers.map((w) => [w.name, [] as string[]]));
    const reading = writers.map(async (w) => {
      for (let r = 0; r < rounds; r++) {
        const buf = new FlatBuffer();
        await w.to.asyncRead(buf);
        received.get(w.name)?.push(Buffer.from(buf.data() as Uint8Array).toString());
      }
    });
    // Each completed write starts the next writer's write from its handler, so the
    // operation just released is the one the next stream takes from the pool.
    await new Promise<void>((resolve, reject) => {
      let k = 0;
      const next = (): void => {
        if (k === rounds * writers.length) return resolve();
        const w = writers[k % writers.length] as (typeof writers)[number];
        const text = `${w.name}:${Math.floor(k / writers.length)}:${'x'.repeat(k % 7 === 0 ? 3000 : k)}`;
        k++;
        w.from.asyncWrite(Buffer.from(text), (ec) => (ec ? reject(ec) : next()));
      };
      next();
    });
    await Promise.all(reading);
    for (const w of writers) {
      const got = received.get(w.name) ?? [];
      expect(got).toHaveLength(rounds);
      got.forEach((text, r) => {
        expect(text.startsWith(`${w.name}:${r}:`)).toBe(true);
      });
    }
  });

  it('masked frames stay intact until a next layer that reads them late has taken them, across pooled operations', async () => {
    // Three clients over next layers that read a frame only when they
    // complete, in pieces, while the other clients write: a frame buffer (a
    // pooled operation's own for small frames, reused by whichever stream
    // takes the operation next) must not be rewritten before its last piece
    // was taken.
    const pairs = await Promise.all(
      [0, 1, 2].map(async () => {
        const [a, b] = TestStream.pair();
        const client = new Stream(new LateWriter(a, 7000) as unknown as AsyncStream);
        const server = new Stream(b);
        await Promise.all([server.asyncAccept(), client.asyncHandshake('localhost', '/')]);
        client.autoFragment(false);
        client.binary(true);
        return { client, server };
      }),
    );
    // Around the write op's reuse limits too: 4088 and 4089 B (a 4096 and a
    // 4097 B frame: exact-size buffer, then a view of the kept large one),
    // 65_536 B (the largest frame kept) and 65_537 B (a buffer of its own).
    const sizes = [20_000, 3000, 70_000, 3000, 33_333, 5000, 90_001, 3000, 4088, 4089, 65_536, 65_537, 4089];
    const payload = (i: number, j: number, size: number): Buffer =>
      Buffer.from(Array.from({ length: size }, (_, k) => (k * (i + 3) + j * 11) & 0xff));
    const got = await Promise.all(
      pairs.map(async ({ client, server }, i) => {
        const reading = (async () => {
          const out: Buffer[] = [];
          for (const _ of sizes) {
            const buf = new FlatBuffer();
            await server.asyncRead(buf);
            out.push(Buffer.from(buf.data() as Uint8Array));
          }
          return out;
        })();
        for (const [j, size] of sizes.entries()) await client.asyncWrite(payload(i, j, size));
        return reading;
      }),
    );
    got.forEach((messages, i) => {
      messages.forEach((m, j) => {
        expect(m.equals(payload(i, j, sizes[j] as number))).toBe(true);
      });
    });
  });
});
