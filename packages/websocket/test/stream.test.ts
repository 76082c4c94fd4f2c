import { type ErrorCode, error as netError, useObservable } from '@tsio/completion-token';
import { buffersToString, FlatBuffer, TestStream } from '@tsio/net';
import { firstValueFrom } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { closeCode, error, Stream } from '../src/index.js';

async function connectedPair(opts: { readSize?: number; writeSize?: number } = {}) {
  const [a, b] = TestStream.pair(undefined, opts);
  const client = new Stream(a);
  const server = new Stream(b);
  await Promise.all([server.asyncAccept(), client.asyncHandshake('localhost', '/chat')]);
  return { client, server, a, b };
}

describe('Stream handshake', () => {
  it('client and server complete the opening handshake over a TestStream pair', async () => {
    const { client, server } = await connectedPair();
    expect(client.isOpen()).toBe(true);
    expect(server.isOpen()).toBe(true);
    expect(client.role()).toBe('client');
    expect(server.role()).toBe('server');
  });

  it('works at every read/write size (partial I/O at every boundary)', async () => {
    for (const size of [1, 2, 3, 7, 64]) {
      const { client, server } = await connectedPair({ readSize: size, writeSize: size });
      const buf = new FlatBuffer();
      await Promise.all([client.asyncWrite('hello world, partial'), server.asyncRead(buf)]);
      expect(buffersToString(buf.data())).toBe('hello world, partial');
    }
  });
});

describe('Stream read/write', () => {
  it('echoes text and binary messages both ways with each token', async () => {
    const { client, server } = await connectedPair();
    const sb = new FlatBuffer();
    // callback token
    const n = await new Promise<number>((resolve, reject) => {
      client.asyncWrite('hi there', (ec: ErrorCode | null, written: number) =>
        ec ? reject(ec) : resolve(written),
      );
    });
    expect(n).toBe(8);
    // promise token
    expect(await server.asyncRead(sb)).toBe(8);
    expect(server.gotText()).toBe(true);
    expect(buffersToString(sb.data())).toBe('hi there');
    // observable token, binary
    server.binary(true);
    const payload = Buffer.from([0, 1, 2, 255]);
    const cb = new FlatBuffer();
    const [w, r] = await Promise.all([
      firstValueFrom(server.asyncWrite(payload, useObservable)),
      client.asyncRead(cb),
    ]);
    expect([w, r]).toEqual([4, 4]);
    expect(client.gotBinary()).toBe(true);
    expect(Buffer.from(cb.data() as Uint8Array)).toEqual(payload);
  });

  it('fragments with autoFragment and reassembles; empty messages work', async () => {
    const { client, server } = await connectedPair();
    client.writeBufferBytes(16);
    const big = 'x'.repeat(1000);
    const buf = new FlatBuffer();
    await Promise.all([client.asyncWrite(big), server.asyncRead(buf)]);
    expect(buffersToString(buf.data())).toBe(big);
    const empty = new FlatBuffer();
    await Promise.all([client.asyncWrite(''), server.asyncRead(empty)]);
    expect(empty.size()).toBe(0);
    expect(server.isMessageDone()).toBe(true);
  });

  it('asyncWriteSome builds one message from several frames; asyncReadSome reads parts', async () => {
    const { client, server } = await connectedPair();
    await client.asyncWriteSome(false, 'abc');
    await client.asyncWriteSome(true, 'def');
    const fixed = new Uint8Array(4);
    const n1 = await server.asyncReadSome(fixed);
    expect(Buffer.from(fixed.subarray(0, n1)).toString()).toBe('abc'.slice(0, n1));
    const rest = new FlatBuffer();
    while (!server.isMessageDone()) await server.asyncReadSome(rest, 100);
    expect(Buffer.from(fixed.subarray(0, n1)).toString() + buffersToString(rest.data())).toBe('abcdef');
  });
});

describe('Stream ping/pong', () => {
  it('a ping is answered automatically while the peer reads; the control callback sees both', async () => {
    const { client, server } = await connectedPair();
    const seen: string[] = [];
    client.controlCallback((kind, payload) => seen.push(`client:${kind}:${payload}`));
    server.controlCallback((kind, payload) => seen.push(`server:${kind}:${payload}`));
    const sb = new FlatBuffer();
    const cb = new FlatBuffer();
    const serverRead = server.asyncRead(sb);
    const clientRead = client.asyncRead(cb);
    await client.asyncPing('p1');
    await client.asyncWrite('after ping');
    await serverRead;
    await server.asyncWrite('done');
    await clientRead;
    expect(seen).toEqual(['server:ping:p1', 'client:pong:p1']);
    expect(buffersToString(cb.data())).toBe('done');
  });

  it('refuses a control payload over 125 bytes', async () => {
    const { client } = await connectedPair();
    await expect(client.asyncPing('x'.repeat(126))).rejects.toMatchObject({ code: netError.invalidArgument });
  });
});

describe('Stream close', () => {
  it('client closes; the server read completes with closed; both see the reason', async () => {
    const { client, server } = await connectedPair();
    const sb = new FlatBuffer();
    const serverRead = server.asyncRead(sb).catch((e: { code: ErrorCode }) => e.code);
    await client.asyncClose({ code: closeCode.normal, reason: 'bye' });
    expect(await serverRead).toBe(error.closed);
    expect(server.reason()).toEqual({ code: 1000, reason: 'bye' });
    expect(client.reason()).toEqual({ code: 1000, reason: '' });
    expect(client.isOpen()).toBe(false);
    expect(server.isOpen()).toBe(false);
  });

  it('close with a pending read on the same side: that read gets closed', async () => {
    const { client, server } = await connectedPair();
    const cb = new FlatBuffer();
    const sb = new FlatBuffer();
    const clientRead = client.asyncRead(cb).catch((e: { code: ErrorCode }) => e.code);
    const serverRead = server.asyncRead(sb).catch((e: { code: ErrorCode }) => e.code);
    const closing = client.asyncClose(closeCode.goingAway);
    expect(await serverRead).toBe(error.closed);
    expect(await clientRead).toBe(error.closed);
    await closing;
    expect(server.reason().code).toBe(closeCode.goingAway);
  });

  it('after close starts, writes, pings and a second close fail', async () => {
    const { client, server } = await connectedPair();
    const sb = new FlatBuffer();
    const serverRead = server.asyncRead(sb).catch(() => undefined);
    const closing = client.asyncClose(closeCode.normal);
    const second = client.asyncClose(closeCode.normal).catch((e: { code: ErrorCode }) => e.code);
    const write = client.asyncWrite('late').catch((e: { code: ErrorCode }) => e.code);
    const ping = client.asyncPing().catch((e: { code: ErrorCode }) => e.code);
    expect(await second).toBe(error.operationNotPermitted);
    expect(await write).toBe(error.closed);
    expect(await ping).toBe(error.closed);
    await closing;
    await serverRead;
  });

  it('close on a closed stream completes with an error, never inline', async () => {
    const { client, server } = await connectedPair();
    const sb = new FlatBuffer();
    const serverRead = server.asyncRead(sb).catch(() => undefined);
    await client.asyncClose(closeCode.normal);
    await serverRead;
    let returned = false;
    const ec = await new Promise<ErrorCode | null>((resolve) => {
      client.asyncClose(closeCode.normal, (e) => {
        expect(returned).toBe(true);
        resolve(e);
      });
      returned = true;
    });
    expect(ec).not.toBeNull();
  });
});
