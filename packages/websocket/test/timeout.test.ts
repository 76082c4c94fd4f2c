/*
 * Beast's `stream_base::timeout` on a Stream: the idle timer (keep-alive
 * ping after half the idle time of silence, failure after the whole),
 * the handshake bound on both sides (slow loris), the closing handshake
 * bound, and no timer left behind. Short fake timeouts (tens of ms); the
 * tests assert outcomes, never durations.
 */
import { beastError, FlatBuffer, TestStream } from '@tsio/net';
import { describe, expect, it } from 'vitest';
import { closeCode, error, type FrameType, Stream, Timeout } from '../src/index.js';
import { codeOf, frame, KEY, parseFrames, readOnce, settle } from './helpers.js';

async function pair() {
  const [a, b] = TestStream.pair();
  const client = new Stream(a);
  const server = new Stream(b);
  await Promise.all([server.asyncAccept(), client.asyncHandshake('localhost', '/')]);
  return { client, server, a, b };
}

/** A server under test and the raw client TestStream after a real handshake. */
async function serverWithRawPeer() {
  const [a, b] = TestStream.pair();
  const server = new Stream(b);
  const accepted = server.asyncAccept();
  a.writeSome(
    [
      Buffer.from(
        'GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      ),
    ],
    () => undefined,
  );
  await accepted;
  await readOnce(a); // the 101
  return { server, raw: a };
}

function timers(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
}

const wait = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

describe('idle timeout', () => {
  it('an idle peer gets a ping at half the idle time; its pongs keep the connection open', async () => {
    const { client, server } = await pair();
    server.setOption(new Timeout(Timeout.none(), 80, true));
    const seen: FrameType[] = [];
    client.controlCallback((kind) => seen.push(kind));
    // Both sides read: the client answers pings, the server sees the pongs.
    const clientRead = codeOf(client.asyncRead(new FlatBuffer()));
    const serverRead = codeOf(server.asyncRead(new FlatBuffer()));
    for (let i = 0; i < 100 && seen.filter((k) => k === 'ping').length < 3; i++) await wait(20);
    // Three pings, and still open: each pong reset the silence before the whole idle time passed.
    expect(seen.filter((k) => k === 'ping').length).toBeGreaterThanOrEqual(3);
    expect(server.isOpen()).toBe(true);
    await client.asyncClose(closeCode.normal);
    expect(await serverRead).toBe(error.closed);
    await clientRead;
  });

  it('the ping is a real ping frame on the wire, sent after half the idle time of silence', async () => {
    const { server, raw } = await serverWithRawPeer();
    server.setOption(new Timeout(Timeout.none(), 60, true));
    const read = codeOf(server.asyncRead(new FlatBuffer()));
    const [ec, bytes] = await readOnce(raw);
    expect(ec).toBeNull();
    const { frames } = parseFrames(bytes);
    expect(frames.map((f) => [f.opcode, f.payload.length, f.masked])).toEqual([[9, 0, false]]);
    // Nothing answers: the second half passes in silence and the read times out.
    expect(await read).toBe(beastError.timeout);
    expect(server.isOpen()).toBe(false);
  });

  it('silence fails the pending read with timeout (keep-alive pings on, peer not answering)', async () => {
    const { client, server } = await pair();
    server.setOption(new Timeout(Timeout.none(), 50, true));
    // The client never reads, so it never answers the ping.
    expect(await codeOf(server.asyncRead(new FlatBuffer()))).toBe(beastError.timeout);
    expect(server.isOpen()).toBe(false);
    // The next operation after the timeout is aborted, the timeout is reported once.
    expect(await codeOf(server.asyncWrite('late'))).not.toBe(beastError.timeout);
    void client;
  });

  it('without keep-alive pings, idleTimeout of silence fails the read and no ping is sent', async () => {
    const { server, raw } = await serverWithRawPeer();
    server.setOption(new Timeout(Timeout.none(), 50, false));
    expect(await codeOf(server.asyncRead(new FlatBuffer()))).toBe(beastError.timeout);
    // The raw peer got nothing but the end of the connection.
    const [ec, bytes] = await readOnce(raw);
    expect(bytes.length).toBe(0);
    expect(ec).not.toBeNull();
  });

  it('traffic keeps an idle timer without pings from firing', async () => {
    const { server, raw } = await serverWithRawPeer();
    server.setOption(new Timeout(Timeout.none(), 60, false));
    const buf = new FlatBuffer();
    // Messages every 20 ms for about 4 idle periods: each resets the silence.
    for (let i = 0; i < 12; i++) {
      const reading = server.asyncRead(buf);
      raw.writeSome([frame({ opcode: 1, payload: 'x', mask: KEY })], () => undefined);
      await reading;
      await wait(20);
    }
    expect(buf.size()).toBe(12);
    expect(server.isOpen()).toBe(true);
    server.setOption(new Timeout(Timeout.none(), Timeout.none(), false));
    raw.close();
    await codeOf(server.asyncRead(buf));
  });
});

describe('handshake timeout', () => {
  it('a slow-loris request is cut at handshakeTimeout (server)', async () => {
    const [a, b] = TestStream.pair();
    const server = new Stream(b);
    server.setOption(new Timeout(50, Timeout.none(), false));
    const accepted = codeOf(server.asyncAccept());
    a.writeSome([Buffer.from('GET / HTTP/1.1\r\nHost: x\r\nUpg')], () => undefined);
    // ... and the rest never comes.
    expect(await accepted).toBe(beastError.timeout);
    expect(server.isOpen()).toBe(false);
    const [ec] = await readOnce(a);
    expect(ec).not.toBeNull(); // the connection was closed
  });

  it('a server that never answers is cut at handshakeTimeout (client)', async () => {
    const [a] = TestStream.pair();
    const client = new Stream(a);
    client.setOption(Timeout.suggested('client'));
    expect(client.getOption(Timeout).handshakeTimeout).toBe(30_000);
    client.setOption(new Timeout(50, Timeout.none(), false));
    expect(await codeOf(client.asyncHandshake('localhost', '/'))).toBe(beastError.timeout);
  });

  it('Timeout.suggested gives Beast values', () => {
    expect({ ...Timeout.suggested('server') }).toEqual({
      handshakeTimeout: 30_000,
      idleTimeout: 300_000,
      keepAlivePings: true,
    });
    expect(Timeout.suggested('client').idleTimeout).toBe(Timeout.none());
  });
});

describe('closing handshake timeout', () => {
  it('a peer that never answers the close frame: close completes with timeout', async () => {
    const { server } = await serverWithRawPeer();
    server.setOption(new Timeout(50, Timeout.none(), false));
    expect(await codeOf(server.asyncClose(closeCode.normal))).toBe(beastError.timeout);
    expect(server.isOpen()).toBe(false);
  });
});

describe('no timer outlives its stream', () => {
  it('after a normal close, a failure and a timeout, no timer is left', async () => {
    await settle();
    const before = timers();
    // Normal close with every timeout armed.
    const { client, server } = await pair();
    client.setOption(new Timeout(1000, 1000, true));
    server.setOption(new Timeout(1000, 1000, true));
    expect(timers()).toBeGreaterThan(before);
    const read = codeOf(server.asyncRead(new FlatBuffer()));
    await client.asyncClose(closeCode.normal);
    await read;
    // Failure: the peer vanishes.
    const p2 = await pair();
    p2.server.setOption(new Timeout(1000, 1000, true));
    const read2 = codeOf(p2.server.asyncRead(new FlatBuffer()));
    p2.a.close();
    await read2;
    // Protocol error: the server fails the connection.
    const p3 = await serverWithRawPeer();
    p3.server.setOption(new Timeout(1000, 1000, true));
    const read3 = codeOf(p3.server.asyncRead(new FlatBuffer()));
    p3.raw.writeSome([frame({ opcode: 3, mask: KEY })], () => undefined);
    p3.raw.close();
    await read3;
    // Handshake timeout.
    const [a] = TestStream.pair();
    const c4 = new Stream(a);
    c4.setOption(new Timeout(30, Timeout.none(), false));
    await codeOf(c4.asyncHandshake('localhost', '/'));
    await settle();
    // (`before` may include a timer of the test runner that has since gone.)
    expect(timers()).toBeLessThanOrEqual(before);
  });
});
