/*
 * Every operation with the callback, promise and observable tokens, the
 * never-inline guarantee (also for immediate failures), and partial I/O at
 * every byte boundary of the handshake and of a few messages.
 */
import { type ErrorCode, error as netError, useObservable } from '@tsio/completion-token';
import { buffersToString, FlatBuffer, MultiBuffer, TestStream, type TestStreamOptions } from '@tsio/net';
import type { Observable } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { HttpHeadParser } from '../src/detail/handshake.js';
import { closeCode, error, type RequestType, Stream } from '../src/index.js';
import { frame, KEY, openPair, settle } from './helpers.js';

type Kind = 'callback' | 'promise' | 'observable';
const kinds: Kind[] = ['callback', 'promise', 'observable'];

type Handler = (ec: ErrorCode | null, value?: number) => void;

interface Starters {
  cb(h: Handler): void;
  promise(): Promise<unknown>;
  obs(): Observable<unknown>;
}

interface Outcome {
  ec: ErrorCode | null;
  value: unknown;
  /** The completion was observed before the initiating call returned. */
  inline: boolean;
  calls: number;
}

/** Starts an operation with the token of `kind` and reports how it completed. */
async function invoke(kind: Kind, s: Starters): Promise<Outcome> {
  let returned = false;
  let inline = false;
  let calls = 0;
  const out = await new Promise<{ ec: ErrorCode | null; value: unknown }>((resolve) => {
    if (kind === 'callback') {
      s.cb((ec, value) => {
        calls++;
        if (!returned) inline = true;
        resolve({ ec, value });
      });
    } else if (kind === 'promise') {
      s.promise().then(
        (value) => {
          calls++;
          resolve({ ec: null, value });
        },
        (e: { code: ErrorCode }) => {
          calls++;
          resolve({ ec: e.code, value: undefined });
        },
      );
    } else {
      s.obs().subscribe({
        next: (value) => {
          calls++;
          if (!returned) inline = true;
          resolve({ ec: null, value });
        },
        error: (e: { code: ErrorCode }) => {
          calls++;
          if (!returned) inline = true;
          resolve({ ec: e.code, value: undefined });
        },
      });
    }
    returned = true;
  });
  await settle(3);
  return { ...out, inline, calls };
}

function expectOk(o: Outcome, value?: unknown): void {
  expect(o.ec).toBeNull();
  expect(o.inline).toBe(false);
  expect(o.calls).toBe(1);
  if (value !== undefined) expect(o.value).toBe(value);
}

function expectFail(o: Outcome, ec: ErrorCode): void {
  expect(String(o.ec)).toBe(String(ec));
  expect(o.ec).toBe(ec);
  expect(o.inline).toBe(false);
  expect(o.calls).toBe(1);
}

const REQUEST = Buffer.from(
  'GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
);
const ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';

describe('every operation with every token', () => {
  for (const kind of kinds) {
    describe(kind, () => {
      it('asyncHandshake', async () => {
        const [a, b] = TestStream.pair();
        const client = new Stream(a);
        const server = new Stream(b);
        const accepted = server.asyncAccept();
        expectOk(
          await invoke(kind, {
            cb: (h) => client.asyncHandshake('localhost', '/', h),
            promise: () => client.asyncHandshake('localhost', '/'),
            obs: () => client.asyncHandshake('localhost', '/', useObservable),
          }),
        );
        await accepted;
        expect(client.isOpen()).toBe(true);
      });

      it('asyncAccept (fresh)', async () => {
        const [a, b] = TestStream.pair();
        const server = new Stream(b);
        await a.writeSome(REQUEST);
        expectOk(
          await invoke(kind, {
            cb: (h) => server.asyncAccept(h),
            promise: () => server.asyncAccept(),
            obs: () => server.asyncAccept(useObservable),
          }),
        );
        expect(a.str()).toContain(ACCEPT);
        expect(server.isOpen()).toBe(true);
      });

      it('asyncAccept (bytes already read)', async () => {
        const [a, b] = TestStream.pair();
        const server = new Stream(b);
        await a.writeSome(REQUEST.subarray(30));
        const head = REQUEST.subarray(0, 30);
        expectOk(
          await invoke(kind, {
            cb: (h) => server.asyncAccept(head, h),
            promise: () => server.asyncAccept(head),
            obs: () => server.asyncAccept(head, useObservable),
          }),
        );
        expect(a.str()).toContain(ACCEPT);
      });

      it('asyncAccept (parsed request)', async () => {
        const [a, b] = TestStream.pair();
        const server = new Stream(b);
        const parser = new HttpHeadParser('request');
        parser.feed(REQUEST);
        const req = parser.result as RequestType;
        expectOk(
          await invoke(kind, {
            cb: (h) => server.asyncAccept(req, h),
            promise: () => server.asyncAccept(req),
            obs: () => server.asyncAccept(req, useObservable),
          }),
        );
        expect(a.str()).toMatch(/^HTTP\/1\.1 101 /);
        expect(a.str()).toContain(ACCEPT);
        // Frames flow after an accept from a parsed request.
        await a.writeSome(frame({ opcode: 1, payload: 'after parsed accept', mask: KEY }));
        const buf = new FlatBuffer();
        expect(await server.asyncRead(buf)).toBe(19);
        expect(buffersToString(buf.data())).toBe('after parsed accept');
      });

      it('asyncRead, asyncReadSome (fixed and dynamic)', async () => {
        const { client, server } = await openPair();
        await client.asyncWrite('first message');
        const buf = new FlatBuffer();
        expectOk(
          await invoke(kind, {
            cb: (h) => server.asyncRead(buf, h),
            promise: () => server.asyncRead(buf),
            obs: () => server.asyncRead(buf, useObservable),
          }),
          13,
        );
        expect(buffersToString(buf.data())).toBe('first message');
        await client.asyncWrite('0123456789');
        const fixed = new Uint8Array(4);
        expectOk(
          await invoke(kind, {
            cb: (h) => server.asyncReadSome(fixed, h),
            promise: () => server.asyncReadSome(fixed),
            obs: () => server.asyncReadSome(fixed, useObservable),
          }),
          4,
        );
        expect(Buffer.from(fixed).toString()).toBe('0123');
        expect(server.isMessageDone()).toBe(false);
        const dyn = new MultiBuffer();
        expectOk(
          await invoke(kind, {
            cb: (h) => server.asyncReadSome(dyn, 3, h),
            promise: () => server.asyncReadSome(dyn, 3),
            obs: () => server.asyncReadSome(dyn, 3, useObservable),
          }),
          3,
        );
        expect(buffersToString(dyn.data())).toBe('456');
        const rest = new FlatBuffer();
        expect(await server.asyncReadSome(rest, 100)).toBe(3);
        expect(server.isMessageDone()).toBe(true);
      });

      it('asyncWrite and asyncWriteSome', async () => {
        const { client, server } = await openPair();
        expectOk(
          await invoke(kind, {
            cb: (h) => client.asyncWrite('whole', h),
            promise: () => client.asyncWrite('whole'),
            obs: () => client.asyncWrite('whole', useObservable),
          }),
          5,
        );
        expectOk(
          await invoke(kind, {
            cb: (h) => client.asyncWriteSome(false, 'par', h),
            promise: () => client.asyncWriteSome(false, 'par'),
            obs: () => client.asyncWriteSome(false, 'par', useObservable),
          }),
          3,
        );
        await client.asyncWriteSome(true, 'ts');
        const buf = new FlatBuffer();
        await server.asyncRead(buf);
        expect(buffersToString(buf.data())).toBe('whole');
        const buf2 = new FlatBuffer();
        await server.asyncRead(buf2);
        expect(buffersToString(buf2.data())).toBe('parts');
      });

      it('asyncPing and asyncPong', async () => {
        const { client, server } = await openPair();
        const seen: string[] = [];
        server.controlCallback((k, p) => seen.push(`${k}:${p}`));
        expectOk(
          await invoke(kind, {
            cb: (h) => client.asyncPing('ping!', h),
            promise: () => client.asyncPing('ping!'),
            obs: () => client.asyncPing('ping!', useObservable),
          }),
        );
        expectOk(
          await invoke(kind, {
            cb: (h) => client.asyncPong('pong!', h),
            promise: () => client.asyncPong('pong!'),
            obs: () => client.asyncPong('pong!', useObservable),
          }),
        );
        await client.asyncWrite('x');
        await server.asyncRead(new FlatBuffer());
        expect(seen).toEqual(['ping:ping!', 'pong:pong!']);
      });

      it('asyncClose', async () => {
        const { client, server } = await openPair();
        const r = server.asyncRead(new FlatBuffer()).catch((e: { code: ErrorCode }) => e.code);
        expectOk(
          await invoke(kind, {
            cb: (h) => client.asyncClose(closeCode.normal, h),
            promise: () => client.asyncClose(closeCode.normal),
            obs: () => client.asyncClose(closeCode.normal, useObservable),
          }),
        );
        expect(await r).toBe(error.closed);
      });

      it('immediate failures complete through post: closed stream, two reads, two writes, bad arguments', async () => {
        const { client, server } = await openPair();
        const sb = new FlatBuffer();
        const pendingRead = server.asyncRead(sb).catch((e: { code: ErrorCode }) => e.code);
        expectFail(
          await invoke(kind, {
            cb: (h) => server.asyncRead(sb, h),
            promise: () => server.asyncRead(sb),
            obs: () => server.asyncRead(sb, useObservable),
          }),
          error.operationNotPermitted,
        );
        expectFail(
          await invoke(kind, {
            cb: (h) => server.asyncReadSome(new Uint8Array(4), h),
            promise: () => server.asyncReadSome(new Uint8Array(4)),
            obs: () => server.asyncReadSome(new Uint8Array(4), useObservable),
          }),
          error.operationNotPermitted,
        );
        // Two writes: the second starts while the first waits for a slow next layer.
        client.nextLayer().writeSize(1);
        const firstWrite = client.asyncWrite('a longer message');
        expectFail(
          await invoke(kind, {
            cb: (h) => client.asyncWrite('second', h),
            promise: () => client.asyncWrite('second'),
            obs: () => client.asyncWrite('second', useObservable),
          }),
          error.operationNotPermitted,
        );
        expect(await firstWrite).toBe(16);
        // The pending read got that message; read again so the close frame is received.
        expect(await pendingRead).toBe(16);
        const closingRead = server.asyncRead(sb).catch((e: { code: ErrorCode }) => e.code);
        client.nextLayer().writeSize(Number.POSITIVE_INFINITY);
        expectFail(
          await invoke(kind, {
            cb: (h) => client.asyncPing('x'.repeat(126), h),
            promise: () => client.asyncPing('x'.repeat(126)),
            obs: () => client.asyncPing('x'.repeat(126), useObservable),
          }),
          netError.invalidArgument,
        );
        expectFail(
          await invoke(kind, {
            cb: (h) => client.asyncClose(1005, h),
            promise: () => client.asyncClose(1005),
            obs: () => client.asyncClose(1005, useObservable),
          }),
          netError.invalidArgument,
        );
        await client.asyncClose(closeCode.normal);
        expect(await closingRead).toBe(error.closed);
        // On the closed stream every operation fails, never inline.
        const starters: Array<[Starters, ErrorCode]> = [
          [
            {
              cb: (h) => client.asyncRead(sb, h),
              promise: () => client.asyncRead(sb),
              obs: () => client.asyncRead(sb, useObservable),
            },
            error.closed,
          ],
          [
            {
              cb: (h) => client.asyncWrite('x', h),
              promise: () => client.asyncWrite('x'),
              obs: () => client.asyncWrite('x', useObservable),
            },
            error.closed,
          ],
          [
            {
              cb: (h) => client.asyncPing('', h),
              promise: () => client.asyncPing(''),
              obs: () => client.asyncPing('', useObservable),
            },
            error.closed,
          ],
          [
            {
              cb: (h) => server.asyncPong('', h),
              promise: () => server.asyncPong(''),
              obs: () => server.asyncPong('', useObservable),
            },
            error.closed,
          ],
        ];
        for (const [s, ec] of starters) expectFail(await invoke(kind, s), ec);
        const again = await invoke(kind, {
          cb: (h) => client.asyncClose(closeCode.normal, h),
          promise: () => client.asyncClose(closeCode.normal),
          obs: () => client.asyncClose(closeCode.normal, useObservable),
        });
        expect(again.ec).not.toBeNull();
        expect(again.inline).toBe(false);
        expect(again.calls).toBe(1);
      });

      it('operations before the handshake fail, never inline', async () => {
        const [a] = TestStream.pair();
        const ws = new Stream(a);
        const o = await invoke(kind, {
          cb: (h) => ws.asyncWrite('x', h),
          promise: () => ws.asyncWrite('x'),
          obs: () => ws.asyncWrite('x', useObservable),
        });
        expect(o.ec).not.toBeNull();
        expect(o.inline).toBe(false);
        expect(o.calls).toBe(1);
        const r = await invoke(kind, {
          cb: (h) => ws.asyncRead(new FlatBuffer(), h),
          promise: () => ws.asyncRead(new FlatBuffer()),
          obs: () => ws.asyncRead(new FlatBuffer(), useObservable),
        });
        expect(r.ec).not.toBeNull();
        expect(r.inline).toBe(false);
      });
    });
  }

  it('unsubscribing from an observable read cancels it (operationAborted, the connection fails)', async () => {
    const { server } = await openPair();
    const sub = server.asyncRead(new FlatBuffer(), useObservable).subscribe({ next: () => undefined });
    await settle(2);
    sub.unsubscribe();
    await settle();
    expect(server.isOpen()).toBe(false);
  });
});

/** A scenario exercising text, binary, fragmentation and an interleaved ping; returns what each side saw. */
async function scenario(options: TestStreamOptions): Promise<string[]> {
  const [a, b] = TestStream.pair(undefined, options);
  const client = new Stream(a);
  const server = new Stream(b);
  const log: string[] = [];
  await Promise.all([server.asyncAccept(), client.asyncHandshake('localhost', '/chat')]);
  log.push(`open ${client.isOpen()} ${server.isOpen()}`);
  client.controlCallback((k, p) => log.push(`client ${k} ${p}`));
  server.controlCallback((k, p) => log.push(`server ${k} ${p}`));
  // text with multi-byte characters
  const sb = new FlatBuffer();
  await Promise.all([client.asyncWrite('héllo wörld €𝄞'), server.asyncRead(sb)]);
  log.push(`text ${server.gotText()} ${buffersToString(sb.data())}`);
  // binary
  server.binary(true);
  const bin = Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 7) & 0xff));
  const cb = new FlatBuffer();
  await Promise.all([server.asyncWrite(bin), client.asyncRead(cb)]);
  log.push(`binary ${client.gotBinary()} ${Buffer.from(cb.data() as Uint8Array).equals(bin)}`);
  // fragmented message from the client, with a ping from the server answered by the client's pending read
  client.writeBufferBytes(8);
  const clientRead = new FlatBuffer();
  const pendingClientRead = client.asyncRead(clientRead);
  const frag = 'fragmented message of fifty characters, 0123456789';
  const fb = new FlatBuffer();
  const serverRead = server.asyncRead(fb);
  await server.asyncPing('are you there');
  await client.asyncWrite(frag);
  await serverRead;
  log.push(`fragmented ${buffersToString(fb.data())}`);
  // user-fragmented binary message read with readSome
  client.binary(true);
  await client.asyncWriteSome(false, Buffer.from([1, 2, 3]));
  await client.asyncWriteSome(false, Buffer.from([]));
  await client.asyncWriteSome(true, Buffer.from([4, 5]));
  const parts = new FlatBuffer();
  for (let i = 0; i < 20 && (parts.size() === 0 || !server.isMessageDone()); i++) {
    await server.asyncReadSome(parts, 2);
  }
  log.push(`parts ${[...Buffer.from(parts.data() as Uint8Array)].join(',')}`);
  // the server answers, ending the client's pending read; then a close
  server.binary(false);
  await server.asyncWrite('end');
  await pendingClientRead;
  log.push(`client got ${buffersToString(clientRead.data())}`);
  const last = server.asyncRead(new FlatBuffer()).catch((e: { code: ErrorCode }) => String(e.code));
  await client.asyncClose({ code: 4000, reason: 'fin' });
  log.push(`server read ${await last} ${server.reason().code} ${server.reason().reason}`);
  log.push(`closed ${client.isOpen()} ${server.isOpen()} ${a.isOpen()} ${b.isOpen()}`);
  return log;
}

describe('partial I/O at every byte boundary', () => {
  it('the scenario gives identical results for readSize/writeSize 1..N', async () => {
    const baseline = await scenario({});
    expect(baseline).toContain('client ping are you there');
    expect(baseline).toContain('server pong are you there');
    expect(baseline.at(-1)).toBe('closed false false false false');
    // N covers the longest single write: the handshake request (the largest frame is 300 + 4 bytes).
    const N = 310;
    for (let k = 1; k <= N; k++) {
      expect(await scenario({ readSize: k, writeSize: k }), `size ${k}`).toEqual(baseline);
    }
    for (let k = 1; k <= 40; k++) {
      expect(await scenario({ readSize: k }), `readSize ${k}`).toEqual(baseline);
      expect(await scenario({ writeSize: k }), `writeSize ${k}`).toEqual(baseline);
    }
  });
});
