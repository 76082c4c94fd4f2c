import { once } from 'node:events';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type ErrorCode, SystemError } from '@tsio/completion-token';
import { FlatBuffer, TestStream } from '@tsio/net';
import { firstValueFrom, lastValueFrom, take, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { closeCode, error, type Message, messages, messages$, Stream, toDuplex } from '../src/index.js';

async function connectedPair() {
  const [a, b] = TestStream.pair();
  const client = new Stream(a);
  const server = new Stream(b);
  await Promise.all([server.asyncAccept(), client.asyncHandshake('localhost', '/')]);
  return { client, server, a, b };
}

async function send(ws: Stream<TestStream>, data: string | Uint8Array, binary: boolean): Promise<void> {
  ws.binary(binary);
  await ws.asyncWrite(data);
}

function texts(list: Message[]): [string, boolean][] {
  return list.map((m) => [m.data.toString('utf8'), m.binary]);
}

describe('messages(stream): AsyncIterable', () => {
  it('yields text and binary messages in order and ends cleanly when the peer closes', async () => {
    const { client, server } = await connectedPair();
    const got: Message[] = [];
    const consumer = (async () => {
      for await (const m of messages(server)) got.push(m);
    })();
    await send(client, 'one', false);
    await send(client, Buffer.from('two'), true);
    await send(client, '', false);
    await client.asyncClose({ code: closeCode.normal, reason: 'bye' });
    await consumer;
    expect(texts(got)).toEqual([
      ['one', false],
      ['two', true],
      ['', false],
    ]);
    expect(server.reason()).toEqual({ code: closeCode.normal, reason: 'bye' });
    expect(server.isOpen()).toBe(false);
  });

  it('each message owns its payload (the read buffer is reused)', async () => {
    const { client, server } = await connectedPair();
    const it = messages(server)[Symbol.asyncIterator]();
    await send(client, 'aaaa', false);
    await send(client, 'bbbb', false);
    const first = await it.next();
    const second = await it.next();
    expect(first.value?.data.toString()).toBe('aaaa');
    expect(second.value?.data.toString()).toBe('bbbb');
  });

  it('reads only when asked: no read is pending between next() calls', async () => {
    const { client, server } = await connectedPair();
    const it = messages(server)[Symbol.asyncIterator]();
    await send(client, 'm1', false);
    await send(client, 'm2', false);
    await send(client, 'm3', false);
    expect((await it.next()).value?.data.toString()).toBe('m1');
    // If the iterator had read ahead, a second read would be refused or m2 would be gone.
    const buf = new FlatBuffer();
    expect(await server.asyncRead(buf)).toBe(2);
    expect(buf.toString()).toBe('m2');
    expect((await it.next()).value?.data.toString()).toBe('m3');
  });

  it('throws the SystemError when the connection fails', async () => {
    const { server, a } = await connectedPair();
    a.close(); // TCP-level loss without a closing handshake
    const run = async () => {
      for await (const _ of messages(server)) {
        /* none */
      }
    };
    const err = await run().then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SystemError);
    expect((err as SystemError).code).not.toBe(error.closed);
  });

  it('break leaves the stream open for a close with a chosen code', async () => {
    const { client, server } = await connectedPair();
    await send(client, 'first', false);
    await send(client, 'second', false);
    let seen = '';
    for await (const m of messages(server)) {
      seen = m.data.toString();
      break;
    }
    expect(seen).toBe('first');
    expect(server.isOpen()).toBe(true);
    // The message after the break is still there for the next reader.
    expect(texts(await firstMessages(server, 1))).toEqual([['second', false]]);
    const clientSide = (async () => {
      const buf = new FlatBuffer();
      return client.asyncRead(buf).then(
        () => null,
        (e: SystemError) => e.code,
      );
    })();
    await server.asyncClose({ code: closeCode.goingAway, reason: 'done' });
    expect(await clientSide).toBe(error.closed);
    expect(client.reason()).toEqual({ code: closeCode.goingAway, reason: 'done' });
  });

  it('return() while a next() is pending settles it as done and cancels the read', async () => {
    const { server } = await connectedPair();
    const it = messages(server)[Symbol.asyncIterator]();
    const pending = it.next();
    await it.return?.();
    expect(await pending).toEqual({ done: true, value: undefined });
    expect(await it.next()).toEqual({ done: true, value: undefined });
    // The read was cancelled (terminal: the connection is failed, as in Beast).
    expect(server.isOpen()).toBe(false);
  });

  it('queues concurrent next() calls and serves them in order', async () => {
    const { client, server } = await connectedPair();
    const it = messages(server)[Symbol.asyncIterator]();
    const p = [it.next(), it.next(), it.next()];
    await send(client, 'x', false);
    await send(client, 'y', true);
    await client.asyncClose(closeCode.normal);
    const r = await Promise.all(p);
    expect(r.map((x) => (x.done ? 'done' : x.value.data.toString()))).toEqual(['x', 'y', 'done']);
  });
});

async function firstMessages(ws: Stream<TestStream>, n: number): Promise<Message[]> {
  const out: Message[] = [];
  for await (const m of messages(ws)) {
    out.push(m);
    if (out.length === n) break;
  }
  return out;
}

describe('messages$(stream): Observable', () => {
  it('is cold, emits each message and completes on a normal close', async () => {
    const { client, server } = await connectedPair();
    const obs = messages$(server);
    await send(client, 'a', false);
    await send(client, Buffer.from([1, 2, 3]), true);
    const all = lastValueFrom(obs.pipe(toArray()));
    await client.asyncClose(closeCode.normal);
    const got = await all;
    expect(got.map((m) => [[...m.data], m.binary])).toEqual([
      [[97], false],
      [[1, 2, 3], true],
    ]);
  });

  it('take(n) unsubscribes without a read pending: the stream stays usable', async () => {
    const { client, server } = await connectedPair();
    for (const s of ['1', '2', '3']) await send(client, s, false);
    const two = await lastValueFrom(messages$(server).pipe(take(2), toArray()));
    expect(two.map((m) => m.data.toString())).toEqual(['1', '2']);
    expect(server.isOpen()).toBe(true);
    const third = await firstValueFrom(messages$(server));
    expect(third.data.toString()).toBe('3');
  });

  it('unsubscribing cancels the pending read', async () => {
    const { server } = await connectedPair();
    let settled = false;
    const sub = messages$(server).subscribe({
      next: () => {
        settled = true;
      },
      error: () => {
        settled = true;
      },
      complete: () => {
        settled = true;
      },
    });
    sub.unsubscribe();
    // The cancelled read fails the connection; a later read reports it rather than hanging.
    const ec = await new Promise<ErrorCode | null>((resolve) => server.asyncRead(new FlatBuffer(), resolve));
    expect(ec).not.toBeNull();
    expect(settled).toBe(false);
    expect(server.isOpen()).toBe(false);
  });

  it('errors with the SystemError on a failure', async () => {
    const { server, a } = await connectedPair();
    a.close();
    const err = await lastValueFrom(messages$(server)).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SystemError);
  });
});

describe('toDuplex(stream)', () => {
  it('writes become messages and the end of the writable side closes normally', async () => {
    const { client, server } = await connectedPair();
    const duplex = toDuplex(client, { binary: true });
    const received = (async () => {
      const out: Message[] = [];
      for await (const m of messages(server)) out.push(m);
      return out;
    })();
    const drained = (async () => {
      // The client's readable side ends when the server's close frame arrives.
      const chunks: Buffer[] = [];
      for await (const c of duplex) chunks.push(c as Buffer);
      return chunks;
    })();
    await pipeline(Readable.from([Buffer.from('alpha'), Buffer.from('beta'), Buffer.from('gamma')]), duplex);
    const got = await received;
    expect(texts(got)).toEqual([
      ['alpha', true],
      ['beta', true],
      ['gamma', true],
    ]);
    expect(await drained).toEqual([]);
    expect(server.reason().code).toBe(closeCode.normal);
    expect(client.isOpen()).toBe(false);
  });

  it('the readable side yields message payloads and ends on a normal close', async () => {
    const { client, server } = await connectedPair();
    const duplex = toDuplex(server, { closeOnEnd: false });
    const chunks: Buffer[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        chunks.push(chunk);
        cb();
      },
    });
    const piped = pipeline(duplex, sink);
    await send(client, 'hello ', false);
    await send(client, Buffer.from('world'), true);
    await send(client, '', false);
    await client.asyncClose(closeCode.normal);
    await piped;
    expect(Buffer.concat(chunks).toString()).toBe('hello world');
  });

  it('reads a message only when the readable side wants one (backpressure)', async () => {
    const { client, server } = await connectedPair();
    const duplex = toDuplex(server, { readableHighWaterMark: 1, closeOnEnd: false });
    for (const s of ['one', 'two', 'three']) await send(client, s, false);
    duplex.once('readable', () => {});
    await once(duplex, 'readable');
    expect(duplex.readableLength).toBe(3);
    // The Duplex holds no read: the next message is still in the stream.
    const buf = new FlatBuffer();
    expect(await server.asyncRead(buf)).toBe(3);
    expect(buf.toString()).toBe('two');
    // Destroying it drops the connection without a closing handshake: the peer sees it fail.
    duplex.destroy();
    const ec = await new Promise<ErrorCode | null>((resolve) => client.asyncRead(new FlatBuffer(), resolve));
    expect(ec).not.toBeNull();
    expect(ec).not.toBe(error.closed);
  });

  it('a failed read destroys the Duplex with the SystemError', async () => {
    const { server, a } = await connectedPair();
    const duplex = toDuplex(server);
    duplex.resume();
    a.close();
    const [err] = (await once(duplex, 'error')) as [unknown];
    expect(err).toBeInstanceOf(SystemError);
  });
});
