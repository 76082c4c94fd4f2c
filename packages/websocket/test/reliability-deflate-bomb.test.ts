/*
 * The inflated-size limit over real TCP (issue 9, security): a `ws` client
 * with permessage-deflate sends a message that is small on the wire and
 * large once inflated. Our server must refuse it with 1009 while inflating,
 * not after holding the inflated whole.
 */
import { once } from 'node:events';
import { FlatBuffer } from '@tsio/net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { error, PermessageDeflate } from '../src/index.js';
import { type OurServer, startServer } from './peers/interop.js';

let server: OurServer | undefined;
afterEach(() => {
  server?.close();
  server = undefined;
});

describe('inflated-size limit over TCP', () => {
  it('a 4 MiB message of zeros (about 4 KiB compressed) is refused with 1009 at a 64 KiB limit', async () => {
    const outcomes: unknown[] = [];
    let largest = 0;
    server = await startServer(
      async (ws) => {
        const buf = new FlatBuffer();
        try {
          await ws.asyncRead(buf);
          outcomes.push('read a whole message');
        } catch (e) {
          outcomes.push((e as { code: unknown }).code);
        }
        largest = Math.max(largest, buf.size());
      },
      (ws) => {
        ws.setOption(new PermessageDeflate({ server: true }));
        ws.readMessageMax(64 * 1024);
      },
    );
    const client = new WebSocket(`ws://127.0.0.1:${server.port}/`, { perMessageDeflate: true });
    await once(client, 'open');
    expect(client.extensions).toContain('permessage-deflate');
    const closed = new Promise<number>((resolve) => client.once('close', (code: number) => resolve(code)));
    client.send(Buffer.alloc(4 * 1024 * 1024));
    expect(await closed).toBe(1009);
    await Promise.all(server.sessions);
    expect(outcomes).toEqual([error.messageTooBig]);
    // The read never delivered more than the limit into the caller's buffer.
    expect(largest).toBeLessThanOrEqual(64 * 1024);
  });

  it('the same message within the limit is read whole (the limit is what refuses it)', async () => {
    let size = 0;
    server = await startServer(
      async (ws) => {
        const buf = new FlatBuffer();
        size = await ws.asyncRead(buf);
        await ws.asyncClose(1000);
      },
      (ws) => {
        ws.setOption(new PermessageDeflate({ server: true }));
        ws.readMessageMax(8 * 1024 * 1024);
      },
    );
    const client = new WebSocket(`ws://127.0.0.1:${server.port}/`, { perMessageDeflate: true });
    await once(client, 'open');
    const closed = new Promise<number>((resolve) => client.once('close', (code: number) => resolve(code)));
    client.send(Buffer.alloc(4 * 1024 * 1024));
    expect(await closed).toBe(1000);
    await Promise.all(server.sessions);
    expect(size).toBe(4 * 1024 * 1024);
  });
});
