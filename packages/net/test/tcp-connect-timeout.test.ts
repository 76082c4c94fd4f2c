/*
 * A connect that never completes is cut by the stream's expiry (Beast's
 * tcp_stream::expires_after): a listener whose accept backlog is full and
 * who never accepts makes the kernel drop further SYNs, so the connect
 * hangs on loopback without any outside address.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { error, withAbortSignal } from '@tsio/completion-token';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { beastError, Endpoint, TcpStream } from '../src/index.js';

// A listener that never accepts: Node's own servers accept everything, so a tiny Python one.
const LISTENER = `
import socket, sys
s = socket.socket()
s.bind(('127.0.0.1', 0))
s.listen(0)
print(s.getsockname()[1], flush=True)
sys.stdin.read()
`;

let child: ChildProcess;
let port = 0;
const fillers: Socket[] = [];

beforeAll(async () => {
  child = spawn('python3', ['-c', LISTENER], { stdio: ['pipe', 'pipe', 'inherit'] });
  const [line] = (await once(child.stdout as NodeJS.ReadableStream, 'data')) as [Buffer];
  port = Number(line.toString().trim());
  // Fill the accept queue; connects beyond it stay in SYN-SENT.
  for (let i = 0; i < 8; i++) {
    const s = connect(port, '127.0.0.1');
    s.on('error', () => undefined);
    fillers.push(s);
  }
  await new Promise((r) => setTimeout(r, 200));
});

afterAll(() => {
  for (const s of fillers) s.destroy();
  child.stdin?.end();
  child.kill();
});

describe('TcpStream connect timeout', () => {
  it('a connect still pending at the expiry completes with timeout and the stream is closed', async () => {
    const stream = new TcpStream();
    stream.expiresAfter(300);
    const err = await stream
      .asyncConnect(new Endpoint('127.0.0.1', port))
      .catch((e: { code: unknown }) => e.code);
    expect(err).toBe(beastError.timeout);
    expect(stream.isOpen()).toBe(false);
  });

  it('without an expiry the same connect is still pending when cancelled', async () => {
    const stream = new TcpStream();
    const ctrl = new AbortController();
    const p = stream.asyncConnect(new Endpoint('127.0.0.1', port), withAbortSignal(ctrl.signal));
    let settled = false;
    p.then(
      () => {
        settled = true;
      },
      () => {
        settled = true;
      },
    );
    await new Promise((r) => setTimeout(r, 500));
    expect(settled).toBe(false);
    ctrl.abort();
    await expect(p).rejects.toMatchObject({ code: error.operationAborted });
    stream.close();
  });
});
