/*
 * The read operation on large payloads (read straight into the caller's
 * buffer), buffer limits, and UTF-8 / size checks on that path, from both sides.
 */

import {
  asTuple,
  bindExecutor,
  type ErrorCode,
  error as netError,
  withAbortSignal,
} from '@tsio/completion-token';
import { defaultExecutor, IoContext, makeStrand } from '@tsio/executor';
import { FlatBuffer, MultiBuffer, TestStream } from '@tsio/net';
import { describe, expect, it } from 'vitest';
import { error, Stream } from '../src/index.js';
import {
  closeCodeOf,
  codeOf,
  drainPeer,
  frame,
  KEY,
  openDeflatePair,
  openPair,
  parseFrames,
  readInPieces,
  type Side,
  settle,
  track,
  type UnderTest,
  underTest,
} from './helpers.js';

/** 100 KiB of valid UTF-8 with 1-, 2-, 3- and 4-byte characters. */
const bigText = Buffer.from('aé€𝄞'.repeat(10 * 1024), 'utf8');

describe('large messages', () => {
  for (const side of ['client', 'server'] as const satisfies readonly Side[]) {
    const mask = side === 'server' ? KEY : undefined;

    it(`${side}: a 100 KiB text message arrives intact at several read sizes, into flat, multi and fixed buffers`, async () => {
      for (const readSize of [Number.POSITIVE_INFINITY, 1000, 16 * 1024 + 1, 65536]) {
        const { ws, raw, own } = await underTest(side);
        own.readSize(readSize);
        const bytes = Buffer.concat([
          frame({ opcode: 1, fin: false, payload: bigText.subarray(0, 40_001), mask }),
          frame({ opcode: 9, payload: 'mid', mask }),
          frame({ opcode: 0, payload: bigText.subarray(40_001), mask }),
        ]);
        await raw.writeSome(bytes);
        await raw.writeSome(bytes);
        await raw.writeSome(bytes);
        const flat = new FlatBuffer();
        expect(await ws.asyncRead(flat)).toBe(bigText.length);
        expect(Buffer.from(flat.data() as Uint8Array).equals(bigText)).toBe(true);
        const multi = new MultiBuffer();
        expect(await ws.asyncRead(multi)).toBe(bigText.length);
        expect(Buffer.concat(multi.data() as Uint8Array[]).equals(bigText)).toBe(true);
        const fixed = new Uint8Array(bigText.length);
        let got = 0;
        for (let i = 0; i < 10_000 && !(got > 0 && ws.isMessageDone()); i++) {
          got += await ws.asyncReadSome(fixed.subarray(got));
        }
        expect(got).toBe(bigText.length);
        expect(Buffer.from(fixed).equals(bigText)).toBe(true);
        // The pings were answered.
        await settle();
        const pongs = parseFrames(raw.bytes()).frames.filter((f) => f.opcode === 10);
        expect(pongs.map((f) => f.payload.toString())).toEqual(['mid', 'mid', 'mid']);
        expect(ws.isOpen()).toBe(true);
      }
    });

    it(`${side}: invalid UTF-8 deep inside a large payload fails on the direct-read path`, async () => {
      const { ws, raw } = await underTest(side);
      const bad = Buffer.from(bigText);
      bad[50_000] = 0xff;
      const t = track<[number]>();
      ws.asyncRead(new FlatBuffer(), t.handler);
      // Only the first 60,000 bytes of the payload are sent: the error comes before the rest.
      const whole = frame({ opcode: 1, payload: bad, mask });
      await raw.writeSome(whole.subarray(0, whole.length - bad.length + 60_000));
      const peer = await drainPeer(raw, { shutdownOnClose: true });
      const [ec] = await t.result;
      expect(ec).toBe(error.badFramePayload);
      expect(closeCodeOf(parseFrames(peer.bytes).frames[0]!)).toBe(1007);
      expect(ws.isOpen()).toBe(false);
      expect(t.calls()).toBe(1);
    });

    it(`${side}: a large message over readMessageMax is refused at its header (1009)`, async () => {
      const { ws, raw } = await underTest(side);
      ws.readMessageMax(64 * 1024);
      const t = track<[number]>();
      ws.asyncRead(new FlatBuffer(), t.handler);
      const whole = frame({ opcode: 2, payload: Buffer.alloc(64 * 1024 + 1), mask });
      await raw.writeSome(whole.subarray(0, 20));
      const peer = await drainPeer(raw, { shutdownOnClose: true });
      const [ec] = await t.result;
      expect(ec).toBe(error.messageTooBig);
      expect(closeCodeOf(parseFrames(peer.bytes).frames[0]!)).toBe(1009);
      expect(ws.isOpen()).toBe(false);
    });

    it(`${side}: a read into a dynamic buffer that is full reports bufferOverflow`, async () => {
      const { ws, raw } = await underTest(side);
      await raw.writeSome(frame({ opcode: 2, payload: Buffer.alloc(100, 7), mask }));
      const small = new FlatBuffer(10);
      const t = track<[number]>();
      ws.asyncRead(small, t.handler);
      const [ec, n] = await t.result;
      // Beast: a whole-message read that does not fit fails with buffer_overflow after filling what fits.
      expect(n).toBe(10);
      expect(String(ec)).toBe(String(error.bufferOverflow));
      expect(ws.isMessageDone()).toBe(false);
      await settle();
      expect(t.calls()).toBe(1);
    });
  }
});

describe('zero-length frames', () => {
  for (const side of ['client', 'server'] as const satisfies readonly Side[]) {
    const mask = side === 'server' ? KEY : undefined;

    it(`${side}: an empty final continuation after a truncated UTF-8 sequence fails with 1007`, async () => {
      const { ws, raw } = await underTest(side);
      const t = track<[number]>();
      ws.asyncRead(new FlatBuffer(), t.handler);
      await raw.writeSome(
        Buffer.concat([
          frame({ opcode: 1, fin: false, payload: Buffer.from([0x61, 0xe2]), mask }),
          frame({ opcode: 0, payload: Buffer.alloc(0), mask }),
        ]),
      );
      const peer = await drainPeer(raw, { shutdownOnClose: true });
      const [ec] = await t.result;
      expect(ec).toBe(error.badFramePayload);
      expect(closeCodeOf(parseFrames(peer.bytes).frames[0]!)).toBe(1007);
    });

    it(`${side}: empty fragments, an empty message and control frames in between read as one message each`, async () => {
      const { ws, raw } = await underTest(side);
      await raw.writeSome(
        Buffer.concat([
          frame({ opcode: 1, payload: Buffer.alloc(0), mask }),
          frame({ opcode: 1, fin: false, payload: Buffer.alloc(0), mask }),
          frame({ opcode: 10, payload: Buffer.alloc(0), mask }),
          frame({ opcode: 0, fin: false, payload: 'ab', mask }),
          frame({ opcode: 0, fin: false, payload: Buffer.alloc(0), mask }),
          frame({ opcode: 0, payload: 'c', mask }),
        ]),
      );
      const first = new FlatBuffer();
      expect(await ws.asyncRead(first)).toBe(0);
      expect(ws.isMessageDone()).toBe(true);
      const second = new FlatBuffer();
      expect(await ws.asyncRead(second)).toBe(3);
      expect(Buffer.from(second.data() as Uint8Array).toString()).toBe('abc');
      expect(ws.gotText()).toBe(true);
    });
  }
});

describe('bufferOverflow with permessage-deflate', () => {
  it('a whole compressed message that does not fit the dynamic buffer fails with bufferOverflow', async () => {
    const { client, server, b } = await openDeflatePair();
    await client.asyncWrite('z'.repeat(100));
    expect(parseFrames(b.bytes()).frames[0]!.rsv).toBe(4);
    const t = track<[number]>();
    server.asyncRead(new FlatBuffer(10), t.handler);
    const [ec, n] = await t.result;
    expect(String(ec)).toBe(String(error.bufferOverflow));
    expect(n).toBe(10);
    expect(server.isMessageDone()).toBe(false);
  });
});

describe('the reused read and write operations', () => {
  it('a read started from the previous read’s handler, with another token, runs on the released object', async () => {
    const { ws, raw } = await underTest('server');
    await raw.writeSome(
      Buffer.concat([
        frame({ opcode: 2, payload: 'one', mask: KEY }),
        frame({ opcode: 1, payload: 'two', mask: KEY }),
        frame({ opcode: 2, payload: 'three', mask: KEY }),
      ]),
    );
    const b1 = new FlatBuffer();
    const b2 = new FlatBuffer();
    const first = track<[number]>();
    let second: Promise<number> | null = null;
    ws.asyncRead(b1, (ec, n) => {
      first.handler(ec, n);
      second = ws.asyncRead(b2);
    });
    expect(await first.result).toEqual([null, 3]);
    expect(await (second as unknown as Promise<number>)).toBe(3);
    const b3 = new FlatBuffer();
    expect(await ws.asyncRead(b3, asTuple())).toEqual([null, 5]);
    expect([b1.toString(), b2.toString(), b3.toString()]).toEqual(['one', 'two', 'three']);
  });

  it('a pending read cancelled through its slot completes once; the stream’s next read completes once too', async () => {
    const { ws, raw } = await underTest('server');
    const ctrl = new AbortController();
    const pending = ws.asyncRead(new FlatBuffer(), withAbortSignal(ctrl.signal, asTuple()));
    await settle(2);
    ctrl.abort();
    const [ec, n] = await pending;
    expect(ec).toBe(netError.operationAborted);
    expect(n).toBe(0);
    const after = track<[number]>();
    ws.asyncRead(new FlatBuffer(), after.handler);
    await raw.writeSome(frame({ opcode: 2, payload: 'x', mask: KEY }));
    await after.result;
    await settle();
    expect(after.calls()).toBe(1);
  });

  it('handlers bound to a strand run in it on every reuse, including reads that wait for data', async () => {
    const { client, server } = await openPair();
    const strand = makeStrand(defaultExecutor());
    const inStrand: boolean[] = [];
    const got: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const buf = new FlatBuffer();
      const readNext = (i: number): void => {
        if (i === 3) return resolve();
        server.asyncRead(
          buf,
          bindExecutor(strand, (ec: ErrorCode | null) => {
            inStrand.push(strand.runningInThisThread());
            if (ec) return reject(new Error(ec.message()));
            got.push(buf.toString());
            buf.consume(buf.size());
            server.asyncWrite(
              Buffer.from(`echo ${i}`),
              bindExecutor(strand, (wec: ErrorCode | null) => {
                inStrand.push(strand.runningInThisThread());
                if (wec) return reject(new Error(wec.message()));
                readNext(i + 1);
              }),
            );
          }),
        );
      };
      readNext(0);
      // The messages arrive after the reads are pending: the socket read completes on the
      // stream's executor, then the read's continuation hops to the strand.
      setTimeout(() => {
        void (async () => {
          for (const m of ['a', 'b', 'c']) await client.asyncWrite(Buffer.from(m));
        })();
      }, 5);
    });
    expect(got).toEqual(['a', 'b', 'c']);
    expect(inStrand).toEqual([true, true, true, true, true, true]);
    const echoes: string[] = [];
    for (let i = 0; i < 3; i++) {
      const b = new FlatBuffer();
      await client.asyncRead(b);
      echoes.push(b.toString());
    }
    expect(echoes).toEqual(['echo 0', 'echo 1', 'echo 2']);
  });

  it('on an IoContext, a reused read completes only when the context runs', async () => {
    const ioc = new IoContext();
    const [a, b] = TestStream.pair(ioc);
    const client = new Stream(a);
    const server = new Stream(b);
    let accepted = false;
    server.asyncAccept(() => {
      accepted = true;
    });
    client.asyncHandshake('localhost', '/', () => undefined);
    while (!accepted) {
      // poll() stops the context when it runs out of work (Asio): restart it each time.
      ioc.restart();
      ioc.poll();
      await settle(1);
    }
    const results: number[] = [];
    const buf = new FlatBuffer();
    // One write at a time: the second starts from the first's handler.
    client.asyncWrite(Buffer.from('one'), () => client.asyncWrite(Buffer.from('two'), () => undefined));
    for (let i = 0; i < 2; i++) {
      server.asyncRead(buf, (ec, n) => {
        expect(ec).toBeNull();
        results.push(n);
      });
      await settle(3);
      // Not run: nothing may complete outside the context.
      expect(results.length).toBe(i);
      for (let j = 0; j < 20 && results.length === i; j++) {
        ioc.restart();
        ioc.poll();
        await settle(1);
      }
      expect(results.length).toBe(i + 1);
    }
    expect(results).toEqual([3, 3]);
    expect(buf.toString()).toBe('onetwo');
  });

  it('writes started from the previous write’s handler each send one whole frame', async () => {
    const { ws, raw } = await underTest('server');
    const got: [ErrorCode | null, number][] = [];
    await new Promise<void>((resolve) => {
      const next = (i: number): void => {
        if (i === 3) return resolve();
        ws.asyncWrite(Buffer.from(`m${i}`), (wec, n) => {
          got.push([wec, n]);
          next(i + 1);
        });
      };
      next(0);
    });
    expect(got).toEqual([
      [null, 2],
      [null, 2],
      [null, 2],
    ]);
    await settle();
    const frames = parseFrames(raw.bytes()).frames;
    expect(frames.map((f) => [f.opcode, f.fin, f.payload.toString()])).toEqual([
      [1, true, 'm0'],
      [1, true, 'm1'],
      [1, true, 'm2'],
    ]);
  });
});

describe('the frame parser is held only while a frame is read (pooled between messages)', () => {
  /** Sends `bytes` from the raw peer; the stream's read fails the connection: its error, after the closing handshake. */
  async function readFailure(t: UnderTest, bytes: Buffer): Promise<ErrorCode | null> {
    await t.raw.writeSome(bytes);
    const read = codeOf(t.ws.asyncRead(new FlatBuffer()));
    await drainPeer(t.raw, { shutdownOnClose: true });
    return read;
  }

  it('gives it up after a whole message, keeps it inside a fragmented message or a split header', async () => {
    const { ws, raw } = await underTest('server');
    expect(ws.impl.hasParser).toBe(false);
    await raw.writeSome(frame({ opcode: 2, payload: 'one', mask: KEY }));
    expect(await ws.asyncRead(new FlatBuffer())).toBe(3);
    expect(ws.impl.hasParser).toBe(false);

    // readSome returns the first fragment: the message goes on, so does the parser.
    await raw.writeSome(frame({ opcode: 2, fin: false, payload: 'abc', mask: KEY }));
    const part = new Uint8Array(16);
    expect(await ws.asyncReadSome(part)).toBe(3);
    expect(ws.isMessageDone()).toBe(false);
    expect(ws.impl.hasParser).toBe(true);
    await raw.writeSome(frame({ opcode: 0, payload: 'de', mask: KEY }));
    expect(await ws.asyncReadSome(part)).toBe(2);
    expect(ws.isMessageDone()).toBe(true);
    expect(ws.impl.hasParser).toBe(false);

    // A header split across reads: the parser holds its first byte meanwhile.
    const f = frame({ opcode: 1, payload: 'xyz', mask: KEY });
    await raw.writeSome(f.subarray(0, 1));
    const reading = ws.asyncRead(new FlatBuffer());
    await settle();
    expect(ws.impl.hasParser).toBe(true);
    await raw.writeSome(f.subarray(1));
    expect(await reading).toBe(3);
    expect(ws.impl.hasParser).toBe(false);
  });

  it('streams taking turns with pooled parsers keep their own half-read frames and their own role', async () => {
    const a = await underTest('server');
    const b = await underTest('server');
    const c = await underTest('client');
    // a holds half a header and a fragmented message's first frame across b's and c's messages.
    const first = frame({ opcode: 1, fin: false, payload: 'hello ', mask: KEY });
    const last = frame({ opcode: 0, payload: 'world', mask: KEY });
    await a.raw.writeSome(Buffer.concat([first, last.subarray(0, 3)]));
    const aRead = a.ws.asyncRead(new FlatBuffer());
    await settle();
    for (let i = 0; i < 3; i++) {
      await b.raw.writeSome(frame({ opcode: 2, payload: `b${i}`, mask: KEY }));
      const bb = new FlatBuffer();
      expect(await b.ws.asyncRead(bb)).toBe(2);
      // A client's parser, possibly a server's before, takes unmasked frames...
      await c.raw.writeSome(frame({ opcode: 2, payload: `c${i}` }));
      expect(await c.ws.asyncRead(new FlatBuffer())).toBe(2);
    }
    await a.raw.writeSome(last.subarray(3));
    expect(await aRead).toBe(11);
    // ...and still refuses masked ones (RFC 6455 §5.1), as a server's refuses unmasked ones.
    expect(await readFailure(c, frame({ opcode: 2, payload: 'm', mask: KEY }))).toBe(error.badMaskedFrame);
    expect(await readFailure(b, frame({ opcode: 2, payload: 'u' }))).toBe(error.badUnmaskedFrame);
  });

  it('a parser used under permessage-deflate does not let RSV1 through on a stream without it', async () => {
    const { client: pc, server: ps } = await openDeflatePair();
    await pc.asyncWrite(Buffer.from('compressed '.repeat(50)));
    expect(await ps.asyncRead(new FlatBuffer())).toBe(550);
    expect(ps.impl.hasParser).toBe(false);
    const plain = await underTest('server');
    // "Hello", compressed (RFC 7692 §7.2.3.1), with RSV1 set: not negotiated here.
    const hello = Buffer.from([0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
    expect(await readFailure(plain, frame({ opcode: 1, rsv: 4, payload: hello, mask: KEY }))).toBe(
      error.badReservedBits,
    );
  });

  it('a compressed message read in pieces after its last frame arrived needs no new bytes', async () => {
    const { client: pc, server: ps } = await openDeflatePair();
    const text = Buffer.from('z'.repeat(20_000));
    await pc.asyncWrite(text);
    expect((await readInPieces(ps, new Uint8Array(4096), 20)).equals(text)).toBe(true);
    expect(ps.impl.hasParser).toBe(false);
  });
});
