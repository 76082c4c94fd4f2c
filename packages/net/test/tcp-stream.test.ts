import { createServer, type Server, Socket } from 'node:net';
import {
  associatedSlotKey,
  asTuple,
  bindCancellationSlot,
  CancellationSignal,
  cancellationType,
  type ErrorCode,
  error,
  SystemError,
  useObservable,
} from '@tsio/completion-token';
import { IoContext, makeStrand } from '@tsio/executor';
import fc from 'fast-check';
import { firstValueFrom } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { Endpoint } from '../src/endpoint.js';
import { beastError } from '../src/error.js';
import { READ_AHEAD_LIMIT, setCloseLinger } from '../src/socket-io.js';
import {
  isChunkLender,
  isSpeculativeWriter,
  type LendReceiver,
  lendSome,
  lent,
  writeNow,
} from '../src/stream-extensions.js';
import { TcpStream } from '../src/tcp-stream.js';
import { TestStream } from '../src/test-stream.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

/** A loopback server whose accepted sockets arrive in order through `next()`. */
async function listen(): Promise<{ server: Server; port: number; next: () => Promise<Socket> }> {
  const waiting: ((s: Socket) => void)[] = [];
  const arrived: Socket[] = [];
  const server = createServer({ allowHalfOpen: true }, (s) => {
    cleanups.push(() => s.destroy());
    const w = waiting.shift();
    if (w) w(s);
    else arrived.push(s);
  });
  cleanups.push(() => server.close());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  const next = () =>
    new Promise<Socket>((resolve) => {
      const s = arrived.shift();
      if (s) resolve(s);
      else waiting.push(resolve);
    });
  return { server, port: address.port, next };
}

async function connected(): Promise<{ stream: TcpStream; peer: Socket; port: number }> {
  const { port, next } = await listen();
  const stream = new TcpStream();
  cleanups.push(() => stream.close());
  const [ep, peer] = await Promise.all([stream.asyncConnect(new Endpoint('127.0.0.1', port)), next()]);
  expect(ep.port()).toBe(port);
  return { stream, peer, port };
}

function readAll(s: Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    s.on('data', (d: Buffer) => parts.push(d));
    s.on('end', () => resolve(Buffer.concat(parts)));
    s.on('error', reject);
  });
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return address.port;
}

describe('TcpStream connect', () => {
  it('connects with a callback and reports both endpoints', async () => {
    const { port, next } = await listen();
    const stream = new TcpStream();
    cleanups.push(() => stream.close());
    const result = await new Promise<[ErrorCode | null, Endpoint]>((resolve) => {
      let inline = true;
      stream.asyncConnect(new Endpoint('127.0.0.1', port), (ec, ep) => {
        expect(inline).toBe(false);
        resolve([ec, ep]);
      });
      inline = false;
    });
    expect(result[0]).toBeNull();
    expect(result[1].toString()).toBe(`127.0.0.1:${port}`);
    const peer = await next();
    expect(stream.isOpen()).toBe(true);
    expect(stream.remoteEndpoint().port()).toBe(port);
    expect(stream.localEndpoint().port()).toBe(peer.remotePort);
    expect(stream.localEndpoint().address().toString()).toBe('127.0.0.1');
  });

  it('tries each endpoint of a range in turn and completes with the one that connected', async () => {
    const { port } = await listen();
    const dead = await closedPort();
    const stream = new TcpStream();
    cleanups.push(() => stream.close());
    const ep = await stream.asyncConnect([
      new Endpoint('127.0.0.1', dead),
      new Endpoint('127.0.0.1', dead),
      new Endpoint('127.0.0.1', port),
    ]);
    expect(ep.port()).toBe(port);
  });

  it('gives connectionRefused on a closed port (promise, observable, callback)', async () => {
    const dead = await closedPort();
    const stream = new TcpStream();
    cleanups.push(() => stream.close());
    const err = await stream.asyncConnect(new Endpoint('127.0.0.1', dead)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SystemError);
    expect((err as SystemError).code).toBe(error.connectionRefused);
    const rx = await firstValueFrom(
      stream.asyncConnect(new Endpoint('127.0.0.1', dead), useObservable),
    ).catch((e: unknown) => e);
    expect((rx as SystemError).code).toBe(error.connectionRefused);
    const ec = await new Promise<ErrorCode | null>((resolve) =>
      stream.asyncConnect([new Endpoint('127.0.0.1', dead)], (e) => resolve(e)),
    );
    expect(ec).toBe(error.connectionRefused);
    expect(stream.isOpen()).toBe(false);
  });

  it('fails an empty range without starting', async () => {
    const stream = new TcpStream();
    const [ec] = await stream.asyncConnect([], asTuple());
    expect(ec).toBe(error.hostNotFound);
  });

  it('a connect started after the expiry fails with timeout', async () => {
    const { port } = await listen();
    const stream = new TcpStream();
    stream.expiresAfter(0);
    await new Promise((r) => setTimeout(r, 5));
    const [ec] = await stream.asyncConnect(new Endpoint('127.0.0.1', port), asTuple());
    expect(ec).toBe(beastError.timeout);
  });

  it('cancel() aborts a pending connect', async () => {
    const { port } = await listen();
    const stream = new TcpStream();
    cleanups.push(() => stream.close());
    const p = stream.asyncConnect(new Endpoint('127.0.0.1', port), asTuple());
    stream.cancel();
    const [ec] = await p;
    expect(ec).toBe(error.operationAborted);
  });
});

describe('TcpStream read and write', () => {
  it('writes with every token and the peer receives the bytes in order', async () => {
    const { stream, peer } = await connected();
    const received = readAll(peer);
    const n1 = await stream.writeSome(Buffer.from('hello '));
    expect(n1).toBe(6);
    const n2 = await new Promise<number>((resolve, reject) =>
      stream.writeSome([Buffer.from('wor'), Buffer.from('ld')], (ec, n) => (ec ? reject(ec) : resolve(n))),
    );
    expect(n2).toBe(5);
    const n3 = await firstValueFrom(stream.writeSome(Buffer.from('!'), useObservable));
    expect(n3).toBe(1);
    expect(stream.shutdown('send')).toBeNull();
    expect((await received).toString()).toBe('hello world!');
  });

  it('reads with every token, then eof after the peer ends', async () => {
    const { stream, peer } = await connected();
    peer.write('abcdef');
    const buf = Buffer.alloc(4);
    const n = await stream.readSome(buf);
    expect(buf.subarray(0, n).toString()).toBe('abcd'.slice(0, n));
    let got = buf.subarray(0, n).toString();
    while (got.length < 6) {
      const b = Buffer.alloc(4);
      const m = await firstValueFrom(stream.readSome(b, useObservable));
      got += b.subarray(0, m).toString();
    }
    expect(got).toBe('abcdef');
    peer.end();
    const [ec, zero] = await new Promise<[ErrorCode | null, number]>((resolve) =>
      stream.readSome(Buffer.alloc(4), (e, m) => resolve([e, m])),
    );
    expect(ec).toBe(error.eof);
    expect(zero).toBe(0);
    // Half-open: after the peer's FIN we can still send (Beast's client teardown).
    const received = readAll(peer);
    await stream.writeSome(Buffer.from('bye'));
    stream.shutdown('send');
    expect((await received).toString()).toBe('bye');
  });

  it('a zero-length read or write completes at once with 0, never inline', async () => {
    const { stream } = await connected();
    let inline = true;
    const p = new Promise<number>((resolve) => stream.readSome(Buffer.alloc(0), (_ec, n) => resolve(n)));
    inline = false;
    expect(await p).toBe(0);
    expect(inline).toBe(false);
    expect(await stream.writeSome([])).toBe(0);
  });

  it('a reset gives connectionReset', async () => {
    const { stream, peer } = await connected();
    peer.resetAndDestroy();
    const [ec] = await stream.readSome(Buffer.alloc(10), asTuple());
    expect(ec).toBe(error.connectionReset);
  });

  it('delivers bytes received before a FIN, then eof', async () => {
    const { stream, peer } = await connected();
    peer.end('tail');
    await new Promise((r) => setTimeout(r, 20));
    const buf = Buffer.alloc(10);
    const n = await stream.readSome(buf);
    expect(buf.subarray(0, n).toString()).toBe('tail');
    const [ec] = await stream.readSome(buf, asTuple());
    expect(ec).toBe(error.eof);
  });

  it('reads and writes on an IoContext and on a strand', async () => {
    const { port, next } = await listen();
    const ioc = new IoContext();
    const stream = new TcpStream(makeStrand(ioc));
    cleanups.push(() => stream.close());
    const log: string[] = [];
    stream.asyncConnect(new Endpoint('127.0.0.1', port), (ec) => {
      log.push(`connect ${ec}`);
      stream.writeSome(Buffer.from('ping'), (ec2, n) => {
        log.push(`write ${ec2} ${n}`);
        const buf = Buffer.alloc(8);
        stream.readSome(buf, (ec3, m) => log.push(`read ${ec3} ${buf.subarray(0, m)}`));
      });
    });
    const peer = await (async () => {
      const run = ioc.run();
      const p = await next();
      p.on('data', (d) => p.write(Buffer.from(d.toString().toUpperCase())));
      await run;
      return p;
    })();
    expect(log).toEqual(['connect null', 'write null 4', 'read null PING']);
    peer.destroy();
  });

  it('preserves byte order under random chunking in both directions', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: 70_000 }), { minLength: 1, maxLength: 12 }),
        fc.array(fc.integer({ min: 1, max: 70_000 }), { minLength: 1, maxLength: 12 }),
        async (writeSizes, readSizes) => {
          const { stream, peer } = await connected();
          const total = writeSizes.reduce((a, b) => a + b, 0);
          const data = Buffer.alloc(total);
          for (let i = 0; i < total; i++) data[i] = (i * 31 + (i >> 8)) & 0xff;
          // Peer -> stream, in the peer's chunks; read back in other sizes.
          let off = 0;
          for (const size of writeSizes) {
            peer.write(data.subarray(off, off + size));
            off += size;
          }
          peer.end();
          const got: Buffer[] = [];
          let k = 0;
          for (;;) {
            const buf = Buffer.alloc(readSizes[k++ % readSizes.length]!);
            const [ec, n] = await stream.readSome([buf.subarray(0, 1), buf.subarray(1)], asTuple());
            if (ec) {
              expect(ec).toBe(error.eof);
              break;
            }
            got.push(Buffer.from(buf.subarray(0, n)));
          }
          expect(Buffer.concat(got).equals(data)).toBe(true);
          // Stream -> peer, written in the read sizes, several per turn.
          const received = readAll(peer);
          off = 0;
          const pending: Promise<number>[] = [];
          k = 0;
          while (off < total) {
            const size = Math.min(readSizes[k++ % readSizes.length]!, total - off);
            const chunk = data.subarray(off, off + size);
            off += size;
            if (k % 3 === 0) await Promise.all(pending.splice(0));
            pending.push(stream.writeSome(chunk));
          }
          await Promise.all(pending);
          stream.shutdown('send');
          expect((await received).equals(data)).toBe(true);
          stream.close();
        },
      ),
      { numRuns: 15 },
    );
  });
});

describe('TcpStream timeouts and cancellation', () => {
  it('expiresAfter on a read gives beastError.timeout and closes the stream', async () => {
    const { stream, peer } = await connected();
    const closed = new Promise<void>((resolve) => peer.on('end', () => resolve()));
    peer.resume();
    stream.expiresAfter(30);
    const [ec, n] = await stream.readSome(Buffer.alloc(10), asTuple());
    expect(ec).toBe(beastError.timeout);
    expect(n).toBe(0);
    expect(stream.isOpen()).toBe(false);
    await closed;
  });

  it('a timeout completes a pending callback read and a pending write', async () => {
    const { stream } = await connected();
    stream.expiresAfter(20);
    const readEc = new Promise<ErrorCode | null>((resolve) =>
      stream.readSome(Buffer.alloc(10), (ec) => resolve(ec)),
    );
    expect(await readEc).toBe(beastError.timeout);
    const [wec] = await stream.writeSome(Buffer.from('x'), asTuple());
    expect(wec).toBe(beastError.timeout);
  });

  it('an operation started after the timer fired early (the clock not yet at the expiry) fails with timeout too', async () => {
    const { stream } = await connected();
    const readEc = new Promise<ErrorCode | null>((resolve) =>
      stream.readSome(Buffer.alloc(10), (ec) => resolve(ec)),
    );
    // Timers fire up to a millisecond early: the expiry just ahead, its timer fired now.
    stream.expiresAt(performance.now() + 0.99);
    stream.onTimer();
    // Started at once, before the clock reaches the expiry.
    const write = stream.writeSome(Buffer.from('x'), asTuple());
    expect(await readEc).toBe(beastError.timeout);
    expect((await write)[0]).toBe(beastError.timeout);
  });

  it('expiresNever keeps a read pending past the old expiry', async () => {
    const { stream, peer } = await connected();
    stream.expiresAfter(10);
    stream.expiresNever();
    const p = stream.readSome(Buffer.alloc(10));
    await new Promise((r) => setTimeout(r, 40));
    peer.write('late');
    expect(await p).toBe(4);
  });

  it('cancel() completes a pending read with operationAborted; the stream stays usable', async () => {
    const { stream, peer } = await connected();
    const p = stream.readSome(Buffer.alloc(10), asTuple());
    stream.cancel();
    const [ec] = await p;
    expect(ec).toBe(error.operationAborted);
    peer.write('after');
    const buf = Buffer.alloc(10);
    const n = await stream.readSome(buf);
    expect(buf.subarray(0, n).toString()).toBe('after');
  });

  it('per-operation cancellation: terminal, partial and total all cancel a read with nothing transferred', async () => {
    const { stream, peer } = await connected();
    for (const type of [cancellationType.terminal, cancellationType.partial, cancellationType.total]) {
      const signal = new CancellationSignal();
      const p = stream.readSome(Buffer.alloc(10), bindCancellationSlot(signal.slot(), asTuple()));
      signal.emit(type);
      const [ec] = await p;
      expect(ec).toBe(error.operationAborted);
    }
    peer.write('ok');
    expect(await stream.readSome(Buffer.alloc(10))).toBe(2);
  });

  it('unsubscribing from an observable read cancels it', async () => {
    const { stream, peer } = await connected();
    const sub = stream.readSome(Buffer.alloc(10), useObservable).subscribe();
    sub.unsubscribe();
    peer.write('x');
    // The cancelled read took nothing: the byte goes to the next read.
    const buf = Buffer.alloc(10);
    const n = await stream.readSome(buf);
    expect(buf.subarray(0, n).toString()).toBe('x');
  });

  it('AbortSignal aborts a read', async () => {
    const { withAbortSignal } = await import('@tsio/completion-token');
    const { stream } = await connected();
    const ac = new AbortController();
    const p = stream.readSome(Buffer.alloc(10), withAbortSignal(ac.signal, asTuple()));
    ac.abort();
    const [ec] = await p;
    expect(ec).toBe(error.operationAborted);
  });

  it('close() completes pending operations with operationAborted; later ones fail', async () => {
    const { stream } = await connected();
    const p = stream.readSome(Buffer.alloc(10), asTuple());
    stream.close();
    expect((await p)[0]).toBe(error.operationAborted);
    expect(stream.isOpen()).toBe(false);
    const [ec] = await stream.readSome(Buffer.alloc(1), asTuple());
    expect(ec).toBe(error.notConnected);
    const [wec] = await stream.writeSome(Buffer.alloc(1), asTuple());
    expect(wec).toBe(error.notConnected);
  });

  it('close() still sends bytes whose writeSome completed', async () => {
    const { stream, peer } = await connected();
    const received = readAll(peer);
    await stream.writeSome(Buffer.from('last words'));
    stream.close();
    expect((await received).toString()).toBe('last words');
  });
});

describe('TcpStream flow control', () => {
  it('reads ahead at most READ_AHEAD_LIMIT bytes and loses nothing', async () => {
    const { stream, peer } = await connected();
    const total = 4 * 1024 * 1024;
    const data = Buffer.alloc(total);
    for (let i = 0; i < total; i++) data[i] = i % 251;
    peer.write(data);
    await new Promise((r) => setTimeout(r, 100));
    // The peer could not push everything: the stream paused its socket.
    expect(peer.writableLength).toBeGreaterThan(0);
    expect(READ_AHEAD_LIMIT).toBe(64 * 1024);
    const got = Buffer.alloc(total);
    let off = 0;
    while (off < total) off += await stream.readSome(got.subarray(off, Math.min(total, off + 100_000)));
    expect(got.equals(data)).toBe(true);
  });

  it('a peer sending 100 MiB to a stream nobody reads does not grow memory', async () => {
    const { stream, peer } = await connected();
    const chunk = Buffer.alloc(64 * 1024, 7);
    const target = 100 * 1024 * 1024;
    let sent = 0;
    // Let the allocator settle before the baseline.
    globalThis.gc?.();
    const before = process.memoryUsage().rss;
    const stalled = new Promise<void>((resolve) => {
      const pump = () => {
        while (sent < target) {
          sent += chunk.length;
          if (!peer.write(chunk)) {
            // Stalled if no drain comes for a while: the reader applies backpressure.
            const t = setTimeout(resolve, 300);
            peer.once('drain', () => {
              clearTimeout(t);
              pump();
            });
            return;
          }
        }
        resolve();
      };
      pump();
    });
    await stalled;
    const growth = process.memoryUsage().rss - before;
    // The peer's writes stall once the kernel buffers (a few MiB on loopback)
    // and the stream's 64 KiB read-ahead are full. 16 MiB leaves room for
    // allocator noise while 100 MiB of buffering would blow through it.
    expect(sent).toBeLessThan(target);
    expect(growth).toBeLessThan(16 * 1024 * 1024);
    // Then everything arrives, in order, when read.
    peer.on('drain', function more() {
      while (sent < target) {
        sent += chunk.length;
        if (!peer.write(chunk)) return;
      }
      peer.off('drain', more);
      peer.end();
    });
    const buf = Buffer.alloc(256 * 1024);
    let total = 0;
    for (;;) {
      const [ec, n] = await stream.readSome(buf, asTuple());
      if (ec) {
        expect(ec).toBe(error.eof);
        break;
      }
      for (let i = 0; i < n; i += 4099) expect(buf[i]).toBe(7);
      total += n;
    }
    expect(total).toBe(target);
  });

  it('writes are batched: many small writes in one turn reach the socket in one write call', async () => {
    const { stream, peer } = await connected();
    const received = readAll(peer);
    // Counted where Node hands bytes to the kernel: `_write` for one buffer,
    // `_writev` for a corked run (the shared write slab may roll over
    // mid-turn, making two segments that still leave in one writev).
    const sock = stream.socket() as Socket & {
      _write: (...a: unknown[]) => void;
      _writev: (...a: unknown[]) => void;
    };
    let writes = 0;
    const origWrite = sock._write.bind(sock);
    const origWritev = sock._writev.bind(sock);
    sock._write = (...a: unknown[]) => {
      writes++;
      origWrite(...a);
    };
    sock._writev = (...a: unknown[]) => {
      writes++;
      origWritev(...a);
    };
    const ps: Promise<number>[] = [];
    for (let i = 0; i < 100; i++) ps.push(stream.writeSome(Buffer.from(`${i},`)));
    await Promise.all(ps);
    // The batch is flushed after the turn's microtasks, from process.nextTick.
    await new Promise((r) => setImmediate(r));
    expect(writes).toBe(1);
    stream.shutdown('send');
    const text = (await received).toString();
    expect(text).toBe(Array.from({ length: 100 }, (_, i) => `${i},`).join(''));
  });

  it('writeSome waits for drain above the high-water mark and can be cancelled then', async () => {
    const { stream, peer } = await connected();
    peer.pause();
    const chunk = Buffer.alloc(8 * 1024, 1);
    // Fill the socket until a write has to wait (the peer does not read).
    let waited: Promise<[ErrorCode | null, number]> | null = null;
    const signal = new CancellationSignal();
    for (let i = 0; i < 10_000 && waited === null; i++) {
      let done = false;
      const p = stream.writeSome(chunk, bindCancellationSlot(signal.slot(), asTuple())).then((r) => {
        done = true;
        return r;
      });
      await new Promise((r) => setImmediate(r));
      if (!done) waited = p;
    }
    expect(waited).not.toBeNull();
    signal.emit(cancellationType.total);
    const [ec] = await (waited as Promise<[ErrorCode | null, number]>);
    expect(ec).toBe(error.operationAborted);
  });
});

describe('TcpStream close with unsent bytes', () => {
  it('a peer that never reads cannot keep the socket open past the linger time', async () => {
    const prev = setCloseLinger(200);
    try {
      const { stream, peer } = await connected();
      peer.pause();
      const sock = stream.socket();
      // Fill the kernel buffers and Node's queue: writeSome only waits once the socket is past its high-water mark.
      const chunk = Buffer.alloc(64 * 1024, 1);
      for (let i = 0; i < 2000 && sock.writableLength < 256 * 1024; i++) {
        stream.writeSome(chunk, () => undefined);
        await new Promise((r) => setImmediate(r));
      }
      expect(sock.writableLength).toBeGreaterThan(0);
      stream.close();
      // Not destroyed at once: Node may still flush (the peer could start reading).
      expect(sock.destroyed).toBe(false);
      for (let i = 0; i < 100 && !sock.destroyed; i++) await new Promise((r) => setTimeout(r, 20));
      expect(sock.destroyed).toBe(true);
    } finally {
      setCloseLinger(prev);
    }
  });

  it('a peer that reads gets every byte written before close', async () => {
    const { stream, peer } = await connected();
    const received = readAll(peer);
    const data = Buffer.alloc(2 * 1024 * 1024, 7);
    let sent = 0;
    while (sent < data.length) sent += await stream.writeSome(data.subarray(sent, sent + 256 * 1024));
    stream.close();
    expect((await received).length).toBe(data.length);
  });
});

describe('TcpStream construction', () => {
  it('adopts an accepted socket', async () => {
    const { port, next } = await listen();
    const client = new Socket();
    cleanups.push(() => client.destroy());
    client.connect(port, '127.0.0.1');
    const accepted = await next();
    const stream = new TcpStream(accepted);
    cleanups.push(() => stream.close());
    client.write('hi');
    const buf = Buffer.alloc(4);
    const n = await stream.readSome(buf);
    expect(buf.subarray(0, n).toString()).toBe('hi');
    expect(stream.socket()).toBe(accepted);
  });

  it('socket() throws badDescriptor before connect', () => {
    const stream = new TcpStream();
    expect(() => stream.socket()).toThrow(SystemError);
    expect(stream.isOpen()).toBe(false);
  });
});

describe('TcpStream lending reads (ChunkLender)', () => {
  /** What the stream's socket holds as its first pending read (white box: an operation, a handler or a receiver). */
  const pendingReadOf = (stream: TcpStream): unknown =>
    (stream as unknown as { io: { read: unknown } }).io.read;
  const lend = (stream: TcpStream) =>
    new Promise<[ErrorCode | null, Buffer]>((resolve) => {
      let returned = false;
      stream[lendSome]((ec, chunk) => {
        // Never inline, like readSome.
        expect(returned).toBe(true);
        resolve([ec, chunk]);
      });
      returned = true;
    });

  it('is recognised, and lends the bytes that arrive while it waits', async () => {
    const { stream, peer } = await connected();
    expect(isChunkLender(stream)).toBe(true);
    expect(isChunkLender(new TestStream())).toBe(false);
    const pending = lend(stream);
    peer.write('hello');
    const [ec, chunk] = await pending;
    expect(ec).toBeNull();
    expect(Buffer.isBuffer(chunk)).toBe(true);
    expect(chunk.toString()).toBe('hello');
  });

  it('lends bytes read ahead first, and mixes with readSome without losing or reordering a byte', async () => {
    const { stream, peer } = await connected();
    const sent = Buffer.from(Array.from({ length: 20_000 }, (_, i) => i & 0xff));
    peer.write(sent);
    // Let the bytes arrive and be read ahead before anything asks for them.
    await new Promise((r) => setTimeout(r, 50));
    const got: Buffer[] = [];
    let total = 0;
    let useLend = true;
    while (total < sent.length) {
      if (useLend) {
        const [ec, chunk] = await lend(stream);
        expect(ec).toBeNull();
        expect(chunk.length).toBeGreaterThan(0);
        got.push(chunk);
        total += chunk.length;
      } else {
        const buf = Buffer.alloc(777);
        const n = await stream.readSome(buf);
        got.push(buf.subarray(0, n));
        total += n;
      }
      useLend = !useLend;
    }
    expect(Buffer.concat(got).equals(sent)).toBe(true);
  });

  it('completes with eof after the peer ends, and with operationAborted on cancel()', async () => {
    const { stream, peer } = await connected();
    const pending = lend(stream);
    stream.cancel();
    expect((await pending)[0]).toBe(error.operationAborted);
    peer.end();
    expect((await lend(stream))[0]).toBe(error.eof);
  });

  it('completed lending reads are reused across sockets without mixing their bytes or handlers', async () => {
    const a = await connected();
    const b = await connected();
    const got = { a: '', b: '' };
    for (let i = 0; i < 50; i++) {
      const pa = lend(a.stream);
      const pb = lend(b.stream);
      // A cancelled read in between: its record must not be completed again later.
      if (i % 10 === 5) {
        a.stream.cancel();
        expect((await pa)[0]).toBe(error.operationAborted);
        b.peer.write(`b${i},`);
        const [ec, chunk] = await pb;
        expect(ec).toBeNull();
        got.b += chunk.toString();
        continue;
      }
      a.peer.write(`a${i},`);
      b.peer.write(`b${i},`);
      const [[ea, ca], [eb, cb]] = await Promise.all([pa, pb]);
      expect([ea, eb]).toEqual([null, null]);
      got.a += ca.toString();
      got.b += cb.toString();
    }
    const expected = (p: string, skip: boolean) =>
      Array.from({ length: 50 }, (_, i) => (skip && i % 10 === 5 ? '' : `${p}${i},`)).join('');
    expect(got.a).toBe(expected('a', true));
    expect(got.b).toBe(expected('b', false));
  });

  it('a large write cancelled in flight is never reused: its late socket callback completes nothing else', async () => {
    const { stream, peer } = await connected();
    peer.pause();
    // Larger than COPY_WRITE_LIMIT: handed to the socket as it is, with a write callback.
    const big = Buffer.alloc(4 * 1024 * 1024, 7);
    const signal = new CancellationSignal();
    const inFlight = stream.writeSome(big, bindCancellationSlot(signal.slot(), asTuple()));
    await new Promise((r) => setTimeout(r, 20));
    signal.emit(cancellationType.terminal);
    expect((await inFlight)[0]).toBe(error.operationAborted);
    // The next operation takes a spare record if there is one. It must not be the
    // cancelled write's, whose socket callback runs once the peer reads.
    let readDone = false;
    const pending = lend(stream).then((r) => {
      readDone = true;
      return r;
    });
    const drained = new Promise<void>((resolve) => {
      let total = 0;
      peer.on('data', (d: Buffer) => {
        total += d.length;
        if (total >= big.length) resolve();
      });
    });
    peer.resume();
    await drained;
    await new Promise((r) => setTimeout(r, 20));
    expect(readDone).toBe(false);
    peer.write('after');
    const [ec, chunk] = await pending;
    expect(ec).toBeNull();
    expect(chunk.toString()).toBe('after');
  });

  it('a waiting lending read with a plain handler is kept as that handler, and completes as an operation would', async () => {
    const { stream, peer } = await connected();
    const pendingRead = () => pendingReadOf(stream);
    // Nothing can cancel it and it runs on the stream's executor: no operation object while it waits.
    const first = lend(stream);
    expect(typeof pendingRead()).toBe('function');
    peer.write('one');
    expect((await first)[1].toString()).toBe('one');
    expect(pendingRead()).toBeNull();
    // A readSome queued behind it, then the peer ends: both complete with eof, in order.
    const order: string[] = [];
    const second = lend(stream).then((r) => {
      order.push('lend');
      return r;
    });
    const third = stream.readSome(Buffer.alloc(8), asTuple()).then((r) => {
      order.push('readSome');
      return r;
    });
    expect(typeof pendingRead()).toBe('function');
    peer.end();
    expect((await second)[0]).toBe(error.eof);
    expect((await third)[0]).toBe(error.eof);
    expect(order).toEqual(['lend', 'readSome']);
  });

  it('a LendReceiver takes the chunk as a method call: kept as itself while waiting, never inline, errors included', async () => {
    const { stream, peer } = await connected();
    const pendingRead = () => pendingReadOf(stream);
    const calls: [ErrorCode | null, string][] = [];
    let returned = false;
    let wake: () => void = () => undefined;
    const receiver: LendReceiver = {
      [lent](ec, chunk) {
        // Never inline, and on the stream's executor (the default one here: inside its drain).
        expect(returned).toBe(true);
        calls.push([ec, ec === null ? chunk.toString() : '']);
        wake();
      },
    };
    const next = () =>
      new Promise<void>((resolve) => {
        wake = resolve;
      });
    /** Starts a lending read into `receiver`; resolves when its completion has run. */
    const lendToReceiver = (): Promise<void> => {
      returned = false;
      const got = next();
      stream[lendSome](receiver);
      returned = true;
      return got;
    };
    let got = lendToReceiver();
    // Parked as the receiver itself: no operation object, no function.
    expect(pendingRead()).toBe(receiver);
    peer.write('one');
    await got;
    expect(calls).toEqual([[null, 'one']]);
    expect(pendingRead()).toBeNull();
    // Bytes read ahead before the receiver asks: completed from the buffer, still not inline.
    peer.write('two');
    await new Promise((r) => setTimeout(r, 30));
    got = lendToReceiver();
    expect(calls).toHaveLength(1);
    await got;
    expect(calls[1]).toEqual([null, 'two']);
    // The peer ends: a waiting receiver gets eof.
    got = lendToReceiver();
    peer.end();
    await got;
    expect(calls[2]?.[0]).toBe(error.eof);
    expect(calls).toHaveLength(3);
  });

  it('a LendReceiver on a stream closed locally gets operationAborted once', async () => {
    const { stream } = await connected();
    const calls: (ErrorCode | null)[] = [];
    stream[lendSome]({ [lent]: (ec: ErrorCode | null) => calls.push(ec) });
    stream.close();
    await new Promise((r) => setTimeout(r, 20));
    expect(calls).toEqual([error.operationAborted]);
  });

  it('a waiting lending read whose handler has a cancellation slot keeps its operation and is cancelled through it', async () => {
    const { stream, peer } = await connected();
    const signal = new CancellationSignal();
    let returned = false;
    const pending = new Promise<ErrorCode | null>((resolve) => {
      // A handler with an associated cancellation slot (Asio's associated_cancellation_slot).
      const handler = Object.assign(
        (ec: ErrorCode | null) => {
          expect(returned).toBe(true);
          resolve(ec);
        },
        { [associatedSlotKey]: signal.slot() },
      );
      stream[lendSome](handler);
      returned = true;
    });
    expect(typeof pendingReadOf(stream)).toBe('object');
    signal.emit(cancellationType.total);
    expect(await pending).toBe(error.operationAborted);
    // The stream reads on as before.
    const next = lend(stream);
    peer.write('two');
    expect((await next)[1].toString()).toBe('two');
  });

  it('a lending read started without a connection fails with notConnected', async () => {
    const [ec] = await lend(new TcpStream());
    expect(ec).toBe(error.notConnected);
  });
});

describe('TcpStream speculative writes (SpeculativeWriter)', () => {
  it('takes small writes at once and in order with writeSome; refuses (0, nothing taken) when a write would wait or fail', async () => {
    const { stream, peer } = await connected();
    expect(isSpeculativeWriter(stream)).toBe(true);
    expect(isSpeculativeWriter(new TestStream())).toBe(false);
    const received = readAll(peer);
    const parts: string[] = [];
    const w = (s: string) => {
      parts.push(s);
      return stream[writeNow](Buffer.from(s), Buffer.byteLength(s));
    };
    expect(w('one,')).toBe(4);
    const viaWriteSome = stream.writeSome(Buffer.from('two,'));
    parts.push('two,');
    expect(w('three,')).toBe(6);
    expect(await viaWriteSome).toBe(4);
    // Zero bytes and more than the copy limit: never taken at once.
    expect(stream[writeNow](Buffer.alloc(0), 0)).toBe(0);
    expect(stream[writeNow](Buffer.alloc(64 * 1024), 64 * 1024)).toBe(0);
    // Above the socket's high-water mark: nothing taken.
    peer.pause();
    const big = Buffer.alloc(16 * 1024, 120);
    let refused = false;
    for (let i = 0; i < 1000 && !refused; i++) {
      if (stream[writeNow](big, big.length) === 0) refused = true;
      else parts.push(big.toString('latin1'));
      await new Promise((r) => setImmediate(r));
    }
    expect(refused).toBe(true);
    peer.resume();
    stream.shutdown('send');
    expect((await received).toString('latin1')).toBe(parts.join(''));
    // After the send side is shut, and without a connection: refused.
    expect(w('late')).toBe(0);
    expect(new TcpStream()[writeNow](Buffer.from('x'), 1)).toBe(0);
  });
});
