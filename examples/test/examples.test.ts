/**
 * Starts each server example as a child process on an ephemeral port and
 * drives it with each client example, as a user would run them from a
 * shell. The examples are run from examples/dist (built here first, a no-op
 * when `npm test` already built them), so what is tested is what ships.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const dist = (name: string) => fileURLToPath(new URL(`../dist/${name}.js`, import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a client example to its end. */
async function runClient(name: string, args: string[]): Promise<Run> {
  const child = spawn(process.execPath, [dist(name), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  // A hung client must not outlive the test: kill it before vitest's own timeout.
  const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(killer);
  return { code, stdout, stderr };
}

/** Starts a server example and resolves with its port once it prints `listening on <address>:<port>`. */
async function startServer(
  name: string,
): Promise<{ child: ChildProcess; port: string; output: () => string }> {
  const child = spawn(process.execPath, [dist(name), '127.0.0.1', '0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    output += d;
  });
  const port = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = /listening on .*:(\d+)/.exec(out);
      if (m) resolve(m[1] as string);
    });
    child.once('exit', (code) => reject(new Error(`${name} exited with ${code}: ${output}`)));
  });
  return { child, port, output: () => output };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  await exited;
}

beforeAll(() => {
  // `npm test` has built everything already; running this file alone
  // rebuilds what changed. When the build fails because of work in
  // progress elsewhere, the last build of the examples is still testable.
  const tsc = fileURLToPath(import.meta.resolve('typescript/bin/tsc'));
  try {
    execFileSync(process.execPath, [tsc, '-b', 'examples'], { cwd: root, stdio: 'pipe' });
  } catch (e) {
    if (!existsSync(dist('demo'))) throw e;
    console.warn(`examples.test: tsc -b examples failed, testing the existing build:\n${String(e)}`);
  }
});

const servers = [
  'websocket-server-async',
  'websocket-server-awaitable',
  'websocket-server-upgrade',
  'websocket-server-chat-multi',
];

for (const server of servers) {
  describe(server, () => {
    let srv: Awaited<ReturnType<typeof startServer>>;
    beforeAll(async () => {
      srv = await startServer(server);
    });
    afterAll(async () => {
      if (srv) await stop(srv.child);
    });

    it('echoes to websocket-client-async (callbacks) and closes cleanly', async () => {
      const text = `Hello from callbacks to ${server}`;
      const run = await runClient('websocket-client-async', ['localhost', srv.port, text]);
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      // Beast's client prints the echo only from on_close, i.e. after a successful close.
      expect(run.stdout).toBe(`${text}\n`);
    });

    it('echoes to websocket-client-awaitable (await) and closes cleanly', async () => {
      const text = `Hello from await to ${server}`;
      const run = await runClient('websocket-client-awaitable', ['127.0.0.1', srv.port, text]);
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      expect(run.stdout).toBe(`${text}\n`);
    });

    it('lets websocket-client-abort cancel a pending read with an AbortSignal', async () => {
      const text = `Hello from AbortSignal to ${server}`;
      const run = await runClient('websocket-client-abort', ['127.0.0.1', srv.port, text]);
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      const lines = run.stdout.trim().split('\n');
      expect(lines[0]).toBe(text);
      expect(lines[1]).toBe('read cancelled: operationAborted');
      expect(lines[2]).toMatch(/^closed: /);
    });

    it('keeps serving after its clients are gone', async () => {
      const run = await runClient('websocket-client-async', ['127.0.0.1', srv.port, 'still there?']);
      expect(run.code).toBe(0);
      expect(run.stdout).toBe('still there?\n');
      expect(srv.child.exitCode).toBe(null);
    });
  });
}

/** The closing handshake over TLS ends with SslStream's teardown (close_notify both ways). */
describe('websocket-server-async-ssl', () => {
  let srv: Awaited<ReturnType<typeof startServer>>;
  beforeAll(async () => {
    srv = await startServer('websocket-server-async-ssl');
  });
  afterAll(async () => {
    if (srv) await stop(srv.child);
  });

  it('echoes to websocket-client-async-ssl over TLS and closes cleanly', async () => {
    const text = 'Hello over TLS';
    const run = await runClient('websocket-client-async-ssl', ['localhost', srv.port, text]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`${text}\n`);
  });

  it('refuses a plain-TCP client: the TLS handshake fails, the server keeps running', async () => {
    const run = await runClient('websocket-client-async', ['127.0.0.1', srv.port, 'plain']);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    const again = await runClient('websocket-client-async-ssl', ['localhost', srv.port, 'again']);
    expect(again.stdout).toBe('again\n');
  });
});

describe('client examples', () => {
  it('report a connection failure with a non-zero exit code', async () => {
    // Port 1 on loopback: nothing listens there, the connect is refused.
    for (const client of [
      'websocket-client-async',
      'websocket-client-awaitable',
      'websocket-client-abort',
      'websocket-client-async-ssl',
    ]) {
      const run = await runClient(client, ['127.0.0.1', '1', 'nobody home']);
      expect(run.code, client).toBe(1);
      expect(run.stderr, client).toMatch(/refused/i);
      expect(run.stdout, client).toBe('');
    }
  });

  it('print their usage for wrong arguments', async () => {
    const run = await runClient('websocket-client-async', []);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^Usage: websocket-client-async <host> <port> <text>/);
  });
});

describe('demo', () => {
  it('runs the three tokens against its in-process echo server and exits 0', async () => {
    const run = await runClient('demo', []);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    for (const token of ['a callback', 'a promise', 'an Observable']) {
      expect(run.stdout).toContain(`received: "hello from ${token}"`);
    }
    for (const reason of ['callback done', 'promise done', 'observable done']) {
      expect(run.stdout).toContain(`client closed with code 1000, reason "${reason}"`);
    }
    expect(run.stdout).toContain('demo finished');
  });
});
