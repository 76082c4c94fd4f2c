/*
 * permessage-deflate (RFC 7692) on a Stream: negotiation through the
 * handshake hooks, the exact bytes of §7.2.3, RSV1 on the first frame only,
 * context takeover, the size threshold, the inflated-size limit (deflate
 * bomb), corrupt data, codec release, and a round-trip property over any
 * parameter set and any chunking.
 */
import { constants, deflateRawSync, inflateRawSync } from 'node:zlib';
import { buffersToString, FlatBuffer, TestStream, type TestStreamOptions } from '@tsio/net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Inflater } from '../src/deflate.js';
import { computeAccept } from '../src/detail/handshake.js';
import type { PmdOptions } from '../src/detail/pmd.js';
import { closeCode, error, PermessageDeflate, Stream } from '../src/index.js';
import {
  closeCodeOf,
  codeOf,
  drainPeer,
  frame,
  KEY,
  parseFrames,
  readInPieces,
  readOnce,
} from './helpers.js';

const HELLO_DEFLATED = Buffer.from([0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);

async function pair(
  clientOpts: Partial<PmdOptions> | null,
  serverOpts: Partial<PmdOptions> | null,
  io: TestStreamOptions = {},
) {
  const [a, b] = TestStream.pair(undefined, io);
  const client = new Stream(a);
  const server = new Stream(b);
  if (clientOpts) client.setOption(new PermessageDeflate({ client: true, ...clientOpts }));
  if (serverOpts) server.setOption(new PermessageDeflate({ server: true, ...serverOpts }));
  await Promise.all([server.asyncAccept(), client.asyncHandshake('localhost', '/')]);
  return { client, server, a, b };
}

/** Reads a raw HTTP head (bounded). */
async function readHead(raw: TestStream): Promise<string> {
  let text = '';
  for (let i = 0; i < 100 && !text.includes('\r\n\r\n'); i++) {
    const [ec, data] = await readOnce(raw);
    if (ec) throw new Error(`readHead: ${ec.message}`);
    text += data.toString('latin1');
  }
  return text;
}

/** A server under test whose client is raw bytes: the upgrade request carries `ext`. */
async function rawClient(ext: string | null, configure: (s: Stream<TestStream>) => void) {
  const [a, b] = TestStream.pair();
  const server = new Stream(b);
  configure(server);
  const accepted = server.asyncAccept();
  a.writeSome(
    [
      Buffer.from(
        'GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n' +
          (ext === null ? '' : `Sec-WebSocket-Extensions: ${ext}\r\n`) +
          '\r\n',
      ),
    ],
    () => undefined,
  );
  await accepted;
  const head = await readHead(a);
  return { server, raw: a, head };
}

/** A client under test whose server is raw bytes answering with `ext` in its 101. */
async function rawServer(ext: string | null, configure: (s: Stream<TestStream>) => void) {
  const [a, b] = TestStream.pair();
  const client = new Stream(a);
  configure(client);
  const hs = codeOf(client.asyncHandshake('localhost', '/'));
  const req = await readHead(b);
  const key = /sec-websocket-key: *(\S+)/i.exec(req)?.[1] ?? '';
  b.writeSome(
    [
      Buffer.from(
        'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          `Sec-WebSocket-Accept: ${computeAccept(key)}\r\n` +
          (ext === null ? '' : `Sec-WebSocket-Extensions: ${ext}\r\n`) +
          '\r\n',
      ),
    ],
    () => undefined,
  );
  return { client, raw: b, req, result: await hs };
}

/** Bytes from the raw peer to the stream under test. */
function send(raw: TestStream, bytes: Uint8Array): void {
  raw.writeSome([bytes], () => undefined);
}

function inflaterOf(s: Stream<TestStream>): Inflater {
  const pmd = s.impl.pmd;
  if (pmd === null) throw new Error('no pmd');
  return pmd.inflater();
}

describe('negotiation through the handshake', () => {
  it('both sides on: negotiated with the defaults; either off: not', async () => {
    const on = await pair({}, {});
    const expected = {
      serverMaxWindowBits: 15,
      clientMaxWindowBits: 15,
      serverNoContextTakeover: false,
      clientNoContextTakeover: false,
    };
    expect(on.client.pmdStatus()).toEqual(expected);
    expect(on.server.pmdStatus()).toEqual(expected);
    for (const [c, s] of [
      [{}, null],
      [null, {}],
    ] as const) {
      const off = await pair(c, s);
      expect([off.client.pmdStatus(), off.server.pmdStatus()]).toEqual([null, null]);
      // Still a working connection, uncompressed.
      const buf = new FlatBuffer();
      await Promise.all([off.client.asyncWrite('plain'), off.server.asyncRead(buf)]);
      expect(buffersToString(buf.data())).toBe('plain');
    }
  });

  it('parameters asked by either side end up in both configs', async () => {
    const { client, server } = await pair(
      { serverMaxWindowBits: 10, clientNoContextTakeover: true },
      { serverNoContextTakeover: true, clientMaxWindowBits: 12 },
    );
    const expected = {
      serverMaxWindowBits: 10,
      clientMaxWindowBits: 12,
      serverNoContextTakeover: true,
      clientNoContextTakeover: true,
    };
    expect(client.pmdStatus()).toEqual(expected);
    expect(server.pmdStatus()).toEqual(expected);
  });

  it('the client offer is in the request; the decorator runs after it (Beast order)', async () => {
    const { req, result } = await rawServer(null, (c) =>
      c.setOption(new PermessageDeflate({ client: true, serverNoContextTakeover: true })),
    );
    expect(result).toBeNull();
    expect(req).toContain(
      'Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_max_window_bits\r\n',
    );
  });

  it('server: a bad offer is declined and the next one accepted (RFC 7692 §5.1)', async () => {
    const { server, head } = await rawClient(
      'permessage-deflate; foo=1, permessage-deflate; server_max_window_bits=9, permessage-deflate',
      (s) => s.setOption(new PermessageDeflate({ server: true })),
    );
    expect(head).toMatch(/^HTTP\/1\.1 101/);
    expect(head).toContain('Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=9\r\n');
    expect(server.pmdStatus()?.serverMaxWindowBits).toBe(9);
  });

  it('server: only bad offers → no extension in the 101, not compressed', async () => {
    const { server, head } = await rawClient(
      'permessage-deflate; server_max_window_bits=16, permessage-deflate; client_no_context_takeover=1',
      (s) => s.setOption(new PermessageDeflate({ server: true })),
    );
    expect(head).toMatch(/^HTTP\/1\.1 101/);
    expect(head.toLowerCase()).not.toContain('sec-websocket-extensions');
    expect(server.pmdStatus()).toBeNull();
  });

  it('client: a bad, duplicate or unoffered answer fails the handshake with badExtension', async () => {
    for (const ext of [
      'permessage-deflate; foo',
      'permessage-deflate; server_no_context_takeover; server_no_context_takeover',
      'permessage-deflate, permessage-deflate',
      'x-webkit-deflate-frame',
      'permessage-deflate; client_max_window_bits',
      'permessage-deflate; server_max_window_bits=7',
    ]) {
      const { client, result } = await rawServer(ext, (c) =>
        c.setOption(new PermessageDeflate({ client: true })),
      );
      expect(result, ext).toBe(error.badExtension);
      expect(client.isOpen()).toBe(false);
    }
    // Not offered at all: any extension in the answer fails.
    const notOffered = await rawServer('permessage-deflate', () => undefined);
    expect(notOffered.result).toBe(error.badExtension);
  });

  it('client: a server that ignores our server_max_window_bits request fails the handshake', async () => {
    const { result } = await rawServer('permessage-deflate', (c) =>
      c.setOption(new PermessageDeflate({ client: true, serverMaxWindowBits: 10 })),
    );
    expect(result).toBe(error.badExtension);
  });

  it('getOption returns what setOption set; PermessageDeflate checks its ranges', () => {
    const [a] = TestStream.pair();
    const s = new Stream(a);
    expect(s.getOption(PermessageDeflate)).toMatchObject({ client: false, server: false, compLevel: 8 });
    const o = new PermessageDeflate({ client: true, msgSizeThreshold: 10 });
    s.setOption(o);
    expect(s.getOption(PermessageDeflate)).toBe(o);
    expect(() => new PermessageDeflate({ clientMaxWindowBits: 7 })).toThrow(RangeError);
    expect(() => new PermessageDeflate({ compLevel: 10 })).toThrow(RangeError);
    expect(() => new PermessageDeflate({ memLevel: 0 })).toThrow(RangeError);
  });
});

describe('wire format (RFC 7692 §7.2)', () => {
  it('sends "Hello" as c1 07 f2 48 cd c9 c9 07 00 (§7.2.3.1); with context takeover the second is shorter (§7.2.3.2)', async () => {
    const { server, raw } = await rawClient('permessage-deflate', (s) =>
      s.setOption(new PermessageDeflate({ server: true })),
    );
    await server.asyncWrite('Hello');
    const [, first] = await readOnce(raw);
    expect(first).toEqual(Buffer.concat([Buffer.from([0xc1, 0x07]), HELLO_DEFLATED]));
    await server.asyncWrite('Hello');
    const [, second] = await readOnce(raw);
    // §7.2.3.2: the second "Hello" refers back to the first.
    expect(second).toEqual(Buffer.from([0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00]));
  });

  it('server_no_context_takeover: every "Hello" is compressed alone', async () => {
    const { server, raw } = await rawClient('permessage-deflate; server_no_context_takeover', (s) =>
      s.setOption(new PermessageDeflate({ server: true })),
    );
    for (let i = 0; i < 3; i++) {
      await server.asyncWrite('Hello');
      const [, bytes] = await readOnce(raw);
      expect(bytes).toEqual(Buffer.concat([Buffer.from([0xc1, 0x07]), HELLO_DEFLATED]));
    }
  });

  it('receives the §7.2.3.1 bytes, unfragmented and fragmented (§7.2.3.3), masked', async () => {
    const { server, raw } = await rawClient('permessage-deflate', (s) =>
      s.setOption(new PermessageDeflate({ server: true })),
    );
    send(raw, frame({ opcode: 1, rsv: 4, payload: HELLO_DEFLATED, mask: KEY }));
    const one = new FlatBuffer();
    await server.asyncRead(one);
    expect(buffersToString(one.data())).toBe('Hello');
    // The same message split in two frames: RSV1 only on the first.
    send(
      raw,
      Buffer.concat([
        frame({ opcode: 1, rsv: 4, fin: false, payload: Buffer.from([0xf2, 0x48, 0xcd]), mask: KEY }),
        frame({ opcode: 0, payload: Buffer.from([0xc9, 0xc9, 0x07, 0x00]), mask: KEY }),
      ]),
    );
    const two = new FlatBuffer();
    await server.asyncRead(two);
    // With context takeover the receiver's window is kept: a fresh compressor's bytes still decode.
    expect(buffersToString(two.data())).toBe('Hello');
  });

  it('RSV1 only on the first frame of a fragmented compressed message; continuation frames carry none', async () => {
    const { server, raw } = await rawClient('permessage-deflate', (s) =>
      s.setOption(new PermessageDeflate({ server: true })),
    );
    server.writeBufferBytes(64);
    server.binary(true);
    const msg = Buffer.alloc(4000);
    for (let i = 0; i < msg.length; i++) msg[i] = (i * 7919) % 251;
    await server.asyncWrite(msg);
    const chunks: Buffer[] = [];
    for (let i = 0; i < 100; i++) {
      const { frames, rest } = parseFrames(Buffer.concat(chunks));
      if (frames.length > 0 && frames.at(-1)?.fin && rest.length === 0) break;
      const [, d] = await readOnce(raw);
      chunks.push(d);
    }
    const { frames } = parseFrames(Buffer.concat(chunks));
    expect(frames.length).toBeGreaterThan(1);
    expect(frames.map((f) => [f.rsv, f.opcode, f.fin])).toEqual(
      frames.map((_, i) => [i === 0 ? 4 : 0, i === 0 ? 2 : 0, i === frames.length - 1]),
    );
    const compressed = Buffer.concat(frames.map((f) => f.payload));
    // The tail was removed (§7.2.1) and inflating with it appended gives the message back (§7.2.2).
    expect(compressed.subarray(-4).equals(Buffer.from([0, 0, 0xff, 0xff]))).toBe(false);
    const tail = Buffer.from([0, 0, 0xff, 0xff]);
    expect(
      inflateRawSync(Buffer.concat([compressed, tail]), { finishFlush: constants.Z_SYNC_FLUSH }),
    ).toEqual(msg);
  });

  it('msgSizeThreshold and compress(false) send messages uncompressed (RSV1 clear)', async () => {
    const { server, raw } = await rawClient('permessage-deflate', (s) =>
      s.setOption(new PermessageDeflate({ server: true, msgSizeThreshold: 6 })),
    );
    await server.asyncWrite('Hello');
    expect((await readOnce(raw))[1]).toEqual(Buffer.from([0x81, 0x05, ...Buffer.from('Hello')]));
    await server.asyncWrite('Hello!');
    expect(((await readOnce(raw))[1][0] as number) & 0x40).toBe(0x40);
    expect(server.compress()).toBe(true);
    server.compress(false);
    await server.asyncWrite('Hello!');
    expect((await readOnce(raw))[1]).toEqual(Buffer.from([0x81, 0x06, ...Buffer.from('Hello!')]));
  });

  it('an empty message is sent as the single byte 0x00 (§7.2.3.6), twice in a row too', async () => {
    const { server, raw } = await rawClient('permessage-deflate', (s) =>
      s.setOption(new PermessageDeflate({ server: true })),
    );
    for (let i = 0; i < 2; i++) {
      await server.asyncWrite('');
      expect((await readOnce(raw))[1]).toEqual(Buffer.from([0xc1, 0x01, 0x00]));
    }
    send(raw, frame({ opcode: 1, rsv: 4, payload: Buffer.from([0x00]), mask: KEY }));
    const buf = new FlatBuffer();
    expect(await server.asyncRead(buf)).toBe(0);
    expect(server.isMessageDone()).toBe(true);
  });

  it('RSV1 without negotiation fails with badReservedBits (1002)', async () => {
    const { server, raw } = await rawClient(null, () => undefined);
    send(raw, frame({ opcode: 1, rsv: 4, payload: HELLO_DEFLATED, mask: KEY }));
    const read = codeOf(server.asyncRead(new FlatBuffer()));
    const peer = await drainPeer(raw, { shutdownOnClose: true });
    expect(await read).toBe(error.badReservedBits);
    expect(closeCodeOf(parseFrames(peer.bytes).frames[0] as never)).toBe(closeCode.protocolError);
  });

  it('corrupt compressed data fails with badDeflatePayload and close code 1007', async () => {
    const { server, raw } = await rawClient('permessage-deflate', (s) =>
      s.setOption(new PermessageDeflate({ server: true })),
    );
    send(raw, frame({ opcode: 2, rsv: 4, payload: Buffer.from([0xff, 0xff, 0xff, 0x01]), mask: KEY }));
    const read = codeOf(server.asyncRead(new FlatBuffer()));
    const peer = await drainPeer(raw, { shutdownOnClose: true });
    expect(await read).toBe(error.badDeflatePayload);
    const frames = parseFrames(peer.bytes).frames;
    expect(frames.map((f) => f.opcode)).toEqual([8]);
    expect(closeCodeOf(frames[0] as never)).toBe(closeCode.badPayload);
    expect(inflaterOf(server).isClosed()).toBe(true);
  });

  it('compressed text is UTF-8-checked after inflating (1007 on bad UTF-8)', async () => {
    const { server, raw } = await rawClient('permessage-deflate', (s) =>
      s.setOption(new PermessageDeflate({ server: true })),
    );
    const bad = deflateRawSync(Buffer.from([0x48, 0xc3, 0x28]), { finishFlush: constants.Z_SYNC_FLUSH });
    send(raw, frame({ opcode: 1, rsv: 4, payload: bad.subarray(0, bad.length - 4), mask: KEY }));
    const read = codeOf(server.asyncRead(new FlatBuffer()));
    const peer = await drainPeer(raw, { shutdownOnClose: true });
    expect(await read).toBe(error.badFramePayload);
    expect(closeCodeOf(parseFrames(peer.bytes).frames[0] as never)).toBe(closeCode.badPayload);
  });
});

describe('readMessageMax on the inflated size (deflate bomb)', () => {
  /** 8 MiB of zeros compressed to about 8 KiB, tail removed. */
  function bomb(size: number): Buffer {
    const z = deflateRawSync(Buffer.alloc(size), { level: 9, finishFlush: constants.Z_SYNC_FLUSH });
    return z.subarray(0, z.length - 4);
  }

  for (const fragments of [1, 4]) {
    it(`a small message inflating past the limit is refused with 1009, holding at most the limit (${fragments} frame(s))`, async () => {
      const { server, raw } = await rawClient('permessage-deflate', (s) => {
        s.setOption(new PermessageDeflate({ server: true }));
        s.readMessageMax(64 * 1024);
      });
      const payload = bomb(8 * 1024 * 1024);
      expect(payload.length).toBeLessThan(16 * 1024);
      const step = Math.ceil(payload.length / fragments);
      const frames: Buffer[] = [];
      for (let i = 0; i < fragments; i++) {
        frames.push(
          frame({
            opcode: i === 0 ? 2 : 0,
            rsv: i === 0 ? 4 : 0,
            fin: i === fragments - 1,
            payload: payload.subarray(i * step, (i + 1) * step),
            mask: KEY,
          }),
        );
      }
      send(raw, Buffer.concat(frames));
      const buf = new FlatBuffer();
      const read = codeOf(server.asyncRead(buf));
      const peer = await drainPeer(raw, { shutdownOnClose: true });
      expect(await read).toBe(error.messageTooBig);
      const sent = parseFrames(peer.bytes).frames;
      expect(sent.map((f) => f.opcode)).toEqual([8]);
      expect(closeCodeOf(sent[0] as never)).toBe(closeCode.tooBig);
      // The caller's buffer got no more than the limit; zlib was never asked for the whole.
      expect(buf.size()).toBeLessThanOrEqual(64 * 1024);
      const inf = inflaterOf(server);
      expect(inf.totalOut).toBeLessThanOrEqual(64 * 1024);
      expect(inf.isClosed()).toBe(true);
    });
  }

  it('a message exactly at the limit is accepted; piecewise reads into a small fixed buffer work', async () => {
    const { server, raw } = await rawClient('permessage-deflate', (s) => {
      s.setOption(new PermessageDeflate({ server: true }));
      s.readMessageMax(100_000);
    });
    send(raw, frame({ opcode: 2, rsv: 4, payload: bomb(100_000), mask: KEY }));
    const small = new Uint8Array(1000);
    let total = 0;
    for (let i = 0; i < 200 && !(total > 0 && server.isMessageDone()); i++) {
      const n = await server.asyncReadSome(small);
      expect(small.subarray(0, n).every((x) => x === 0)).toBe(true);
      total += n;
    }
    expect(total).toBe(100_000);
    expect(server.isMessageDone()).toBe(true);
  });
});

describe('codec lifetime', () => {
  it('zlib streams are released when the connection closes or fails', async () => {
    const { client, server } = await pair({}, {});
    const buf = new FlatBuffer();
    await Promise.all([client.asyncWrite('x'.repeat(1000)), server.asyncRead(buf)]);
    const inf = inflaterOf(server);
    const read = codeOf(server.asyncRead(new FlatBuffer()));
    await client.asyncClose(closeCode.normal);
    expect(await read).toBe(error.closed);
    expect(inf.isClosed()).toBe(true);
    expect(inflaterOf(client).isClosed()).toBe(true);
  });
});

describe('round trip (fast-check)', () => {
  const params = fc.record({
    serverMaxWindowBits: fc.integer({ min: 8, max: 15 }),
    clientMaxWindowBits: fc.integer({ min: 8, max: 15 }),
    serverNoContextTakeover: fc.boolean(),
    clientNoContextTakeover: fc.boolean(),
    compLevel: fc.integer({ min: 0, max: 9 }),
    memLevel: fc.integer({ min: 1, max: 9 }),
    msgSizeThreshold: fc.integer({ min: 0, max: 64 }),
  });
  const message = fc.oneof(
    fc.uint8Array({ maxLength: 3000 }),
    fc.string({ maxLength: 500 }).map((s) => Buffer.from(s.repeat(3))),
  );

  it('any messages, any parameters, any chunking and fragmentation arrive intact, both directions', async () => {
    await fc.assert(
      fc.asyncProperty(
        params,
        params,
        fc.array(message, { minLength: 1, maxLength: 5 }),
        fc.integer({ min: 1, max: 4096 }),
        fc.integer({ min: 8, max: 2048 }),
        async (cp, sp, msgs, ioSize, frameSize) => {
          // clientMaxWindowBits < 15 on the server needs the client to offer it, which ours always does.
          const { client, server } = await pair(cp, sp, { readSize: ioSize, writeSize: ioSize });
          client.binary(true);
          server.binary(true);
          client.writeBufferBytes(frameSize);
          server.writeBufferBytes(frameSize);
          for (const m of msgs) {
            const atServer = new FlatBuffer();
            await Promise.all([client.asyncWrite(m), server.asyncRead(atServer)]);
            expect(Buffer.from(buffersToString(atServer.data(), 'latin1'), 'latin1')).toEqual(Buffer.from(m));
            const atClient = new FlatBuffer();
            await Promise.all([server.asyncWrite(m), client.asyncRead(atClient)]);
            expect(Buffer.from(buffersToString(atClient.data(), 'latin1'), 'latin1')).toEqual(Buffer.from(m));
          }
          // A message written in pieces with asyncWriteSome.
          const pieces = msgs.slice(0, 3);
          const whole = Buffer.concat(pieces.map((p) => Buffer.from(p)));
          const got = new FlatBuffer();
          const reading = server.asyncRead(got);
          for (let i = 0; i < pieces.length; i++) {
            await client.asyncWriteSome(i === pieces.length - 1, pieces[i] as Uint8Array);
          }
          await reading;
          expect(Buffer.from(buffersToString(got.data(), 'latin1'), 'latin1')).toEqual(whole);
          expect(client.pmdStatus()).not.toBeNull();
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('one-shot inflate (a peer without context takeover, one buffered frame)', () => {
  const offer = 'permessage-deflate; client_no_context_takeover';
  const compressed = (data: Buffer): Buffer => {
    const d = deflateRawSync(data, { finishFlush: constants.Z_SYNC_FLUSH });
    return d.subarray(0, d.length - 4);
  };

  it('inflates each message whole, across messages, and leaves the inflater idle between them', async () => {
    const { server, raw } = await rawClient(offer, (s) =>
      s.setOption(new PermessageDeflate({ server: true })),
    );
    const texts = ['Hello', 'é€𝄞'.repeat(300), 'x'.repeat(70_000)];
    for (const t of texts)
      send(raw, frame({ opcode: 1, rsv: 4, payload: compressed(Buffer.from(t)), mask: KEY }));
    for (const t of texts) {
      const buf = new FlatBuffer();
      expect(await server.asyncRead(buf)).toBe(Buffer.byteLength(t));
      expect(buf.toString()).toBe(t);
      expect(inflaterOf(server).idle()).toBe(true);
    }
  });

  it('hands a message out piecewise to asyncReadSome into a small fixed buffer', async () => {
    const { server, raw } = await rawClient(offer, (s) =>
      s.setOption(new PermessageDeflate({ server: true })),
    );
    const data = Buffer.from(Array.from({ length: 5000 }, (_, i) => i % 251));
    send(raw, frame({ opcode: 2, rsv: 4, payload: compressed(data), mask: KEY }));
    expect((await readInPieces(server, new Uint8Array(700), 100)).equals(data)).toBe(true);
  });

  it('refuses a message that inflates beyond readMessageMax with 1009, holding no more than the limit', async () => {
    const { server, raw } = await rawClient(offer, (s) => {
      s.setOption(new PermessageDeflate({ server: true }));
      s.readMessageMax(10_000);
    });
    send(raw, frame({ opcode: 2, rsv: 4, payload: compressed(Buffer.alloc(1024 * 1024)), mask: KEY }));
    const buf = new FlatBuffer();
    const read = codeOf(server.asyncRead(buf));
    const peer = await drainPeer(raw, { shutdownOnClose: true });
    expect(await read).toBe(error.messageTooBig);
    expect(buf.size()).toBe(0);
    expect(closeCodeOf(parseFrames(peer.bytes).frames[0] as never)).toBe(closeCode.tooBig);
  });

  it('a message within the limit but above the one-shot output cap is inflated by the stream', async () => {
    const { server, raw } = await rawClient(offer, (s) =>
      s.setOption(new PermessageDeflate({ server: true })),
    );
    const data = Buffer.alloc(2 * 1024 * 1024, 0x61);
    send(raw, frame({ opcode: 2, rsv: 4, payload: compressed(data), mask: KEY }));
    const buf = new FlatBuffer();
    expect(await server.asyncRead(buf)).toBe(data.length);
    expect((buf.data() as Buffer).equals(data)).toBe(true);
  });

  it('corrupt data fails with badDeflatePayload and 1007', async () => {
    const { server, raw } = await rawClient(offer, (s) =>
      s.setOption(new PermessageDeflate({ server: true })),
    );
    send(raw, frame({ opcode: 2, rsv: 4, payload: Buffer.from([0xff, 0xff, 0xff, 0x01]), mask: KEY }));
    const read = codeOf(server.asyncRead(new FlatBuffer()));
    const peer = await drainPeer(raw, { shutdownOnClose: true });
    expect(await read).toBe(error.badDeflatePayload);
    expect(closeCodeOf(parseFrames(peer.bytes).frames[0] as never)).toBe(closeCode.badPayload);
  });
});
