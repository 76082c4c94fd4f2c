/*
 * asyncClose, exactly (DESIGN.md and the seed page): ordering against a
 * write in progress and queued control frames, cancellation, a pending read,
 * teardown order per role, and close codes and reasons both ways.
 */
import {
  bindCancellationSlot,
  CancellationSignal,
  cancellationType,
  type ErrorCode,
  error as netError,
} from '@tsio/completion-token';
import { FlatBuffer } from '@tsio/net';
import { describe, expect, it } from 'vitest';
import { closeCode, error } from '../src/index.js';
import {
  closeCodeOf,
  codeOf,
  drainPeer,
  frame,
  KEY,
  openPair,
  parseFrames,
  readOnce,
  settle,
  track,
  underTest,
} from './helpers.js';

const payload40 = Buffer.from('0123456789abcdefghijklmnopqrstuvwxyzABCD');

/** What the raw peer received so far (non-blocking: only what is buffered). */
function wire(raw: { bytes(): Buffer; clear(): void }): Buffer {
  const b = raw.bytes();
  raw.clear();
  return b;
}

describe('close waits for the write block', () => {
  for (const side of ['client', 'server'] as const) {
    it(`${side}: a write in progress finishes its current frame, then the close frame; the write then fails`, async () => {
      const { ws, raw, own } = await underTest(side);
      own.writeSize(3);
      ws.writeBufferBytes(16);
      ws.binary(true);
      const w = track<[number]>();
      const c = track();
      ws.asyncWrite(payload40, w.handler);
      ws.asyncClose({ code: closeCode.goingAway, reason: 'bye' }, c.handler);
      const [wec, sent] = await w.result;
      await settle();
      const { frames, rest } = parseFrames(wire(raw));
      expect(rest.length).toBe(0);
      // One whole fragment, then the close frame: nothing split, nothing after close.
      expect(frames.map((f) => [f.opcode, f.fin])).toEqual([
        [2, false],
        [8, true],
      ]);
      expect(frames[0]!.payload.equals(payload40.subarray(0, 16))).toBe(true);
      expect(closeCodeOf(frames[1]!)).toBe(closeCode.goingAway);
      expect(frames[1]!.payload.subarray(2).toString()).toBe('bye');
      expect(frames[1]!.masked).toBe(side === 'client');
      expect(wec).toBe(error.closed);
      expect(sent).toBe(16);
      // Finish the handshake from the peer.
      await raw.writeSome(
        frame({ opcode: 8, payload: Buffer.from([0x03, 0xe9]), mask: side === 'server' ? KEY : undefined }),
      );
      if (side === 'server') {
        // The server shut down its sending side: the peer reads EOF without having sent one.
        const peer = await drainPeer(raw, { maxReads: 10 });
        expect(peer.eof).toBe(true);
      }
      raw.close();
      const [cec] = await c.result;
      expect(cec).toBeNull();
      expect(ws.isOpen()).toBe(false);
      expect(ws.reason().code).toBe(closeCode.goingAway);
      expect(w.calls()).toBe(1);
      expect(c.calls()).toBe(1);
    });

    it(`${side}: a user-fragmented message (writeSome fin=false) is not split by close`, async () => {
      const { ws, raw, own } = await underTest(side);
      own.writeSize(1);
      const w1 = track<[number]>();
      ws.asyncWriteSome(false, 'part one', w1.handler);
      const c = track();
      ws.asyncClose(closeCode.normal, c.handler);
      const [ec1] = await w1.result;
      expect(ec1).toBeNull();
      await settle();
      const { frames, rest } = parseFrames(wire(raw));
      expect(rest.length).toBe(0);
      expect(frames.map((f) => f.opcode)).toEqual([1, 8]);
      expect(frames[0]!.payload.toString()).toBe('part one');
      // The rest of the message cannot follow the close.
      expect(await codeOf(ws.asyncWriteSome(true, 'two'))).toBe(error.closed);
      raw.close();
      await c.result;
      expect(c.calls()).toBe(1);
      expect(ws.isOpen()).toBe(false);
    });
  }

  it('a finishing write hands over to close before a queued ping; the ping then fails', async () => {
    const { ws, raw, own } = await underTest('server');
    own.writeSize(2);
    const w = track<[number]>();
    const p = track();
    const c = track();
    ws.autoFragment(false);
    ws.asyncWrite('a whole frame', w.handler);
    ws.asyncPing('late', p.handler);
    ws.asyncClose(closeCode.normal, c.handler);
    expect((await w.result)[0]).toBeNull();
    const [pec] = await p.result;
    expect(pec).toBe(error.closed);
    await settle();
    const { frames } = parseFrames(wire(raw));
    expect(frames.map((f) => f.opcode)).toEqual([1, 8]);
    raw.close();
    await c.result;
    expect([w.calls(), p.calls(), c.calls()]).toEqual([1, 1, 1]);
  });

  it('ping, pong and close started during a slow fragmented write never split a frame', async () => {
    const { ws, raw, own } = await underTest('client');
    own.writeSize(1);
    ws.writeBufferBytes(8);
    const w = track<[number]>();
    const p = track();
    const q = track();
    const big = Buffer.from('0123456789'.repeat(60));
    ws.asyncWrite(big, w.handler);
    const c = track();
    const refused = track();
    // Each next control frame is started from the previous one's handler: the write is still parked then.
    ws.asyncPing('pi', (ec) => {
      p.handler(ec);
      // One ping or pong at a time (Beast asserts; tsio refuses the second).
      ws.asyncPong('po', (ec2) => {
        q.handler(ec2);
        ws.asyncClose(closeCode.normal, c.handler);
      });
      ws.asyncPong('po', (ec2) => {
        refused.handler(ec2);
      });
    });
    const [refusedEc] = await refused.result;
    expect(refusedEc).toBe(error.operationNotPermitted);
    expect((await p.result)[0]).toBeNull();
    expect((await q.result)[0]).toBeNull();
    await w.result;
    await settle();
    const { frames, rest } = parseFrames(wire(raw));
    expect(rest.length).toBe(0);
    const ops = frames.map((f) => f.opcode);
    // Every frame parses whole; ping and pong come between fragments, close last.
    expect(ops[0]).toBe(1);
    expect(ops.filter((o) => o === 9).length).toBe(1);
    expect(ops.filter((o) => o === 10).length).toBe(1);
    expect(ops.at(-1)).toBe(8);
    const data = Buffer.concat(frames.filter((f) => f.opcode < 8).map((f) => f.payload));
    expect(data.length).toBeGreaterThan(0);
    expect(data.length).toBeLessThan(big.length);
    expect(big.subarray(0, data.length).equals(data)).toBe(true);
    expect((await w.result)[0]).toBe(error.closed);
    expect(frames.find((f) => f.opcode === 9)!.payload.toString()).toBe('pi');
    expect(frames.find((f) => f.opcode === 10)!.payload.toString()).toBe('po');
    raw.close();
    await c.result;
  });

  for (const side of ['client', 'server'] as const) {
    it(`${side}: an automatic pong interleaves between the fragments of an outgoing message`, async () => {
      const { ws, raw, own } = await underTest(side);
      own.writeSize(3);
      ws.writeBufferBytes(8);
      const r = track<[number]>();
      ws.asyncRead(new FlatBuffer(), r.handler);
      const w = track<[number]>();
      ws.asyncWrite(payload40, w.handler);
      // The ping arrives while the first fragment is being written.
      raw.writeSome(
        frame({ opcode: 9, payload: 'hb', mask: side === 'server' ? KEY : undefined }),
        () => undefined,
      );
      const [wec, n] = await w.result;
      expect(wec).toBeNull();
      expect(n).toBe(40);
      await settle();
      const { frames, rest } = parseFrames(wire(raw));
      expect(rest.length).toBe(0);
      const ops = frames.map((f) => f.opcode);
      const pong = ops.indexOf(10);
      expect(pong).toBeGreaterThan(0);
      expect(pong).toBeLessThan(ops.length - 1);
      expect(frames[pong]!.payload.toString()).toBe('hb');
      const data = Buffer.concat(frames.filter((f) => f.opcode < 8).map((f) => f.payload));
      expect(data.equals(payload40)).toBe(true);
      expect(r.calls()).toBe(0);
    });
  }
});

describe('close cancellation', () => {
  it('total cancellation while waiting for the write block: no side effect, a later close works', async () => {
    const { ws, raw, own } = await underTest('server');
    own.writeSize(2);
    ws.writeBufferBytes(8);
    const w = track<[number]>();
    ws.asyncWrite(payload40, w.handler);
    const sig = new CancellationSignal();
    const c = track();
    ws.asyncClose(closeCode.normal, bindCancellationSlot(sig.slot(), c.handler));
    sig.emit(cancellationType.total);
    const [cec] = await c.result;
    expect(cec).toBe(netError.operationAborted);
    const [wec, n] = await w.result;
    expect(wec).toBeNull();
    expect(n).toBe(40);
    await settle();
    const { frames } = parseFrames(wire(raw));
    expect(frames.every((f) => f.opcode !== 8)).toBe(true);
    expect(Buffer.concat(frames.map((f) => f.payload)).equals(payload40)).toBe(true);
    expect(ws.isOpen()).toBe(true);
    // The stream is usable and can be closed.
    await ws.asyncPing('still here');
    const c2 = track();
    ws.asyncClose(closeCode.normal, c2.handler);
    await raw.writeSome(frame({ opcode: 8, payload: Buffer.from([0x03, 0xe8]), mask: KEY }));
    const peer = await drainPeer(raw);
    raw.close();
    expect((await c2.result)[0]).toBeNull();
    expect(peer.eof).toBe(true);
    expect(c.calls()).toBe(1);
  });

  it('terminal cancellation while waiting for the write block: no frame written either', async () => {
    const { ws, raw, own } = await underTest('client');
    own.writeSize(2);
    const w = track<[number]>();
    ws.asyncWrite('some message', w.handler);
    const sig = new CancellationSignal();
    const c = track();
    ws.asyncClose(closeCode.normal, bindCancellationSlot(sig.slot(), c.handler));
    sig.emit(cancellationType.terminal);
    expect((await c.result)[0]).toBe(netError.operationAborted);
    expect((await w.result)[0]).toBeNull();
    await settle();
    expect(parseFrames(wire(raw)).frames.map((f) => f.opcode)).toEqual([1]);
  });

  for (const side of ['client', 'server'] as const) {
    it(`${side}: terminal cancellation during the closing read: operationAborted, next layer closed`, async () => {
      const { ws, raw, own } = await underTest(side);
      const sig = new CancellationSignal();
      const c = track();
      ws.asyncClose(closeCode.normal, bindCancellationSlot(sig.slot(), c.handler));
      await settle();
      expect(parseFrames(wire(raw)).frames.map((f) => f.opcode)).toEqual([8]);
      // Partial and total are not honoured once the close frame is out.
      sig.emit(cancellationType.partial);
      sig.emit(cancellationType.total);
      await settle();
      expect(c.calls()).toBe(0);
      sig.emit(cancellationType.terminal);
      const [ec] = await c.result;
      expect(ec).toBe(netError.operationAborted);
      expect(own.isOpen()).toBe(false);
      expect(ws.isOpen()).toBe(false);
      const [rec] = await readOnce(raw);
      expect(rec).toBe(netError.eof);
      await settle();
      expect(c.calls()).toBe(1);
    });

    it(`${side}: terminal cancellation while close waits for a pending read`, async () => {
      const { ws, raw, own } = await underTest(side);
      const r = track<[number]>();
      ws.asyncRead(new FlatBuffer(), r.handler);
      const sig = new CancellationSignal();
      const c = track();
      ws.asyncClose(closeCode.normal, bindCancellationSlot(sig.slot(), c.handler));
      await settle();
      sig.emit(cancellationType.terminal);
      const [ec] = await c.result;
      expect(ec).toBe(netError.operationAborted);
      const [rec] = await r.result;
      expect(rec).not.toBeNull();
      expect(own.isOpen()).toBe(false);
      expect(ws.isOpen()).toBe(false);
      await settle();
      expect([c.calls(), r.calls()]).toEqual([1, 1]);
      void raw;
    });
  }
});

describe('close and a pending read', () => {
  for (const side of ['client', 'server'] as const) {
    it(`${side}: the pending read receives the peer's close and completes with closed; data before it is delivered`, async () => {
      const { ws, raw } = await underTest(side);
      const mask = side === 'server' ? KEY : undefined;
      const buf = new FlatBuffer();
      const r1 = track<[number]>();
      ws.asyncRead(buf, r1.handler);
      const c = track();
      ws.asyncClose({ code: closeCode.normal, reason: 'done' }, c.handler);
      await settle();
      expect(closeCodeOf(parseFrames(wire(raw)).frames[0]!)).toBe(1000);
      // The peer still had a message in flight, then its close.
      await raw.writeSome(frame({ opcode: 1, payload: 'in flight', mask }));
      const [ec1, n1] = await r1.result;
      expect(ec1).toBeNull();
      expect(n1).toBe(9);
      const r2 = track<[number]>();
      ws.asyncRead(buf, r2.handler);
      await raw.writeSome(frame({ opcode: 8, payload: Buffer.from([0x03, 0xe8, 0x6f, 0x6b]), mask }));
      // The client waits for the server's FIN; the server shuts down first and waits for the client's.
      if (side === 'client') raw.shutdownSend();
      const peer = await drainPeer(raw);
      if (side === 'server') raw.close();
      const [ec2] = await r2.result;
      expect(ec2).toBe(error.closed);
      expect((await c.result)[0]).toBeNull();
      expect(peer.eof).toBe(true);
      expect(ws.reason()).toEqual({ code: 1000, reason: 'ok' });
      expect(ws.isOpen()).toBe(false);
      // Reads after the close report closed too.
      expect(await codeOf(ws.asyncRead(buf))).toBe(error.closed);
      await settle();
      expect([r1.calls(), r2.calls(), c.calls()]).toEqual([1, 1, 1]);
    });
  }
});

describe('teardown order', () => {
  it('server: shuts down sending before it reads EOF, then completes once the client is gone', async () => {
    const { ws, raw } = await underTest('server');
    const c = track();
    ws.asyncClose(closeCode.normal, c.handler);
    await settle();
    expect([...wire(raw)]).toEqual([0x88, 0x02, 0x03, 0xe8]);
    await raw.writeSome(frame({ opcode: 8, payload: Buffer.from([0x03, 0xe8]), mask: KEY }));
    // The client (raw) has not closed anything, yet it reads EOF: the server's FIN came first.
    const [ec] = await readOnce(raw);
    expect(ec).toBe(netError.eof);
    await settle();
    expect(c.calls()).toBe(0);
    raw.shutdownSend();
    expect((await c.result)[0]).toBeNull();
    expect(ws.isOpen()).toBe(false);
  });

  it('client: reads EOF first, and only then shuts down and closes', async () => {
    const { ws, raw, own } = await underTest('client');
    const c = track();
    ws.asyncClose(closeCode.normal, c.handler);
    await settle();
    const sent = parseFrames(wire(raw)).frames;
    expect(sent.length).toBe(1);
    expect(sent[0]!.masked).toBe(true);
    expect(closeCodeOf(sent[0]!)).toBe(1000);
    await raw.writeSome(frame({ opcode: 8, payload: Buffer.from([0x03, 0xe8]) }));
    await settle();
    // The client waits for the server's FIN: nothing arrives at the server yet.
    const pending = readOnce(raw);
    let got = false;
    void pending.then(() => {
      got = true;
    });
    await settle();
    expect(got).toBe(false);
    expect(own.isOpen()).toBe(true);
    expect(c.calls()).toBe(0);
    raw.shutdownSend();
    const [ec] = await pending;
    expect(ec).toBe(netError.eof);
    expect((await c.result)[0]).toBeNull();
    expect(own.isOpen()).toBe(false);
  });
});

describe('closing handshake between two streams', () => {
  for (const initiator of ['client', 'server'] as const) {
    it(`${initiator} closes with a code and a reason; the other side's read completes with closed`, async () => {
      const { client, server } = await openPair();
      const [closer, other] = initiator === 'client' ? [client, server] : [server, client];
      const r = track<[number]>();
      other.asyncRead(new FlatBuffer(), r.handler);
      const c = track();
      closer.asyncClose({ code: 4001, reason: 'app says bye ✓' }, c.handler);
      const [rec] = await r.result;
      const [cec] = await c.result;
      expect(rec).toBe(error.closed);
      expect(cec).toBeNull();
      expect(other.reason()).toEqual({ code: 4001, reason: 'app says bye ✓' });
      // The echo carries the code (not the reason).
      expect(closer.reason()).toEqual({ code: 4001, reason: '' });
      expect(client.isOpen()).toBe(false);
      expect(server.isOpen()).toBe(false);
      await settle();
      expect([r.calls(), c.calls()]).toEqual([1, 1]);
    });
  }

  it('close with closeCode.none sends an empty close frame and the peer sees none', async () => {
    const { ws, raw } = await underTest('server');
    const c = track();
    ws.asyncClose(undefined, c.handler);
    await settle();
    expect([...wire(raw)]).toEqual([0x88, 0x00]);
    await raw.writeSome(frame({ opcode: 8, mask: KEY }));
    await drainPeer(raw);
    raw.close();
    expect((await c.result)[0]).toBeNull();
    expect(ws.reason()).toEqual({ code: closeCode.none, reason: '' });
  });

  it('a peer-initiated close is echoed with its code (exact bytes) before teardown', async () => {
    const { ws, raw } = await underTest('server');
    const r = track<[number]>();
    ws.asyncRead(new FlatBuffer(), r.handler);
    await raw.writeSome(frame({ opcode: 8, payload: Buffer.from([0x0f, 0xa1, 0x78]), mask: KEY }));
    const peer = await drainPeer(raw, { shutdownOnClose: true });
    expect([...peer.bytes]).toEqual([0x88, 0x02, 0x0f, 0xa1]);
    expect((await r.result)[0]).toBe(error.closed);
    expect(ws.reason()).toEqual({ code: 4001, reason: 'x' });
    expect(ws.isOpen()).toBe(false);
  });

  it('both sides close at once: both succeed', async () => {
    const { client, server } = await openPair();
    const a = track();
    const b = track();
    client.asyncClose(closeCode.normal, a.handler);
    server.asyncClose(closeCode.goingAway, b.handler);
    expect((await a.result)[0]).toBeNull();
    expect((await b.result)[0]).toBeNull();
    expect(client.reason().code).toBe(closeCode.goingAway);
    expect(server.reason().code).toBe(closeCode.normal);
    expect(client.isOpen() || server.isOpen()).toBe(false);
  });

  it('refuses a close code that may not be sent and a reason over 123 bytes, before writing anything', async () => {
    const { ws, raw } = await underTest('server');
    for (const code of [999, 1005, 1006, 1015, 2000]) {
      expect(await codeOf(ws.asyncClose(code))).toBe(netError.invalidArgument);
    }
    expect(await codeOf(ws.asyncClose({ code: 1000, reason: 'x'.repeat(124) }))).toBe(
      netError.invalidArgument,
    );
    await settle();
    expect(raw.bytes().length).toBe(0);
    expect(ws.isOpen()).toBe(true);
    const ok: ErrorCode | null = await codeOf(ws.asyncPing());
    expect(ok).toBeNull();
  });

  it('after close started, write, writeSome, ping and pong fail with closed; a second close is refused', async () => {
    const { ws, raw } = await underTest('client');
    const c = track();
    ws.asyncClose(closeCode.normal, c.handler);
    await settle();
    expect(await codeOf(ws.asyncWrite('x'))).toBe(error.closed);
    expect(await codeOf(ws.asyncWriteSome(true, 'x'))).toBe(error.closed);
    expect(await codeOf(ws.asyncPing('x'))).toBe(error.closed);
    expect(await codeOf(ws.asyncPong('x'))).toBe(error.closed);
    expect(await codeOf(ws.asyncClose(closeCode.normal))).toBe(error.operationNotPermitted);
    raw.close();
    await c.result;
    expect(c.calls()).toBe(1);
  });
});

describe('close meets other operations', () => {
  for (const side of ['client', 'server'] as const) {
    const mask = side === 'server' ? KEY : undefined;

    it(`${side}: the peer closes during our fragmented write: the echo goes between fragments, the write fails`, async () => {
      const { ws, raw, own } = await underTest(side);
      own.writeSize(3);
      ws.writeBufferBytes(8);
      const r = track<[number]>();
      ws.asyncRead(new FlatBuffer(), r.handler);
      const w = track<[number]>();
      ws.asyncWrite(payload40, w.handler);
      raw.writeSome(frame({ opcode: 8, payload: Buffer.from([0x03, 0xe9]), mask }), () => undefined);
      const [wec, sent] = await w.result;
      expect(wec).toBe(error.closed);
      expect(sent).toBeGreaterThan(0);
      expect(sent).toBeLessThan(40);
      await settle();
      const { frames, rest } = parseFrames(wire(raw));
      expect(rest.length).toBe(0);
      const ops = frames.map((f) => f.opcode);
      // Exactly one close frame, the echo of 1001, after whole fragments only.
      expect(ops.filter((o) => o === 8).length).toBe(1);
      expect(ops.at(-1)).toBe(8);
      expect(closeCodeOf(frames.at(-1)!)).toBe(1001);
      expect(frames.slice(0, -1).every((f) => f.opcode !== 8 && !f.fin)).toBe(true);
      expect(Buffer.concat(frames.slice(0, -1).map((f) => f.payload)).length).toBe(sent);
      if (side === 'client') raw.shutdownSend();
      const peer = await drainPeer(raw);
      expect(peer.eof).toBe(true);
      raw.close();
      expect((await r.result)[0]).toBe(error.closed);
      expect(ws.isOpen()).toBe(false);
      expect([r.calls(), w.calls()]).toEqual([1, 1]);
    });

    it(`${side}: asyncClose after the peer's close was echoed: no second close frame, completes once`, async () => {
      const { ws, raw } = await underTest(side);
      const r = track<[number]>();
      ws.asyncRead(new FlatBuffer(), r.handler);
      await raw.writeSome(frame({ opcode: 8, payload: Buffer.from([0x03, 0xe8]), mask }));
      await settle(2);
      const c = track();
      ws.asyncClose(closeCode.normal, c.handler);
      if (side === 'client') raw.shutdownSend();
      const peer = await drainPeer(raw);
      raw.close();
      await r.result;
      const [cec] = await c.result;
      await settle();
      expect(parseFrames(peer.bytes).frames.map((f) => f.opcode)).toEqual([8]);
      expect(cec).not.toBeNull();
      expect(c.calls()).toBe(1);
      expect(ws.isOpen()).toBe(false);
    });

    it(`${side}: a read started while close drains waits, then completes with closed; total cancellation of it is clean`, async () => {
      const { ws, raw } = await underTest(side);
      const c = track();
      ws.asyncClose(closeCode.normal, c.handler);
      await settle(2);
      const sig = new CancellationSignal();
      const cancelled = track<[number]>();
      ws.asyncRead(new FlatBuffer(), bindCancellationSlot(sig.slot(), cancelled.handler));
      sig.emit(cancellationType.total);
      expect((await cancelled.result)[0]).toBe(netError.operationAborted);
      const r = track<[number]>();
      ws.asyncRead(new FlatBuffer(), r.handler);
      await raw.writeSome(frame({ opcode: 8, payload: Buffer.from([0x03, 0xe8]), mask }));
      if (side === 'client') raw.shutdownSend();
      await drainPeer(raw);
      raw.close();
      expect((await c.result)[0]).toBeNull();
      expect((await r.result)[0]).toBe(error.closed);
      await settle();
      expect([c.calls(), r.calls(), cancelled.calls()]).toEqual([1, 1, 1]);
    });

    it(`${side}: the peer vanishes (EOF, no close frame) while close waits for its close frame`, async () => {
      const { ws, raw, own } = await underTest(side);
      const c = track();
      ws.asyncClose(closeCode.normal, c.handler);
      await settle(2);
      raw.close();
      const [ec] = await c.result;
      expect(ec).toBe(netError.eof);
      expect(ws.isOpen()).toBe(false);
      expect(own.isOpen()).toBe(false);
      await settle();
      expect(c.calls()).toBe(1);
    });
  }
});
