/**
 * The conformance programs (issue 5) as a user and the benchmark run them:
 * `examples/dist/echo-server.js --port 0 [--deflate]` driven by a `ws`
 * client, and `examples/dist/echo-client.js --url ...` against a `ws`
 * server. Also the bench contract: `READY <port>`, `MEM <json>` on SIGUSR2,
 * exit on SIGTERM.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { type RawData, WebSocketServer } from 'ws';

const root = fileURLToPath(new URL('../..', import.meta.url));
const dist = (name: string) => fileURLToPath(new URL(`../dist/${name}.js`, import.meta.url));

beforeAll(() => {
  // `npm test` built everything already; alone, this rebuilds what changed.
  const tsc = fileURLToPath(import.meta.resolve('typescript/bin/tsc'));
  try {
    execFileSync(process.execPath, [tsc, '-b', 'examples'], { cwd: root, stdio: 'pipe' });
  } catch (e) {
    if (!existsSync(dist('echo-server'))) throw e;
    console.warn(`echo-programs.test: tsc -b examples failed, testing the existing build:\n${String(e)}`);
  }
}, 120_000);

const children: ChildProcess[] = [];
const closers: (() => void)[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const f of closers.splice(0)) f();
});

interface ServerProc {
  child: ChildProcess;
  port: number;
  /** The next stdout line that starts with `prefix`. */
  line(prefix: string): Promise<string>;
}

async function startEchoServer(args: string[] = []): Promise<ServerProc> {
  const child = spawn(process.execPath, ['--expose-gc', dist('echo-server'), '--port', '0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const lines: string[] = [];
  const waiters: { prefix: string; resolve: (l: string) => void }[] = [];
  createInterface({ input: child.stdout! }).on('line', (l) => {
    const i = waiters.findIndex((w) => l.startsWith(w.prefix));
    if (i >= 0) waiters.splice(i, 1)[0]!.resolve(l);
    else lines.push(l);
  });
  const line = (prefix: string) => {
    const i = lines.findIndex((l) => l.startsWith(prefix));
    if (i >= 0) return Promise.resolve(lines.splice(i, 1)[0]!);
    return new Promise<string>((resolve) => waiters.push({ prefix, resolve }));
  };
  const ready = await line('READY ');
  return { child, port: Number(ready.slice(6)), line };
}

function nextMessage(c: WebSocket): Promise<{ data: Buffer; binary: boolean }> {
  return new Promise((resolve) => {
    c.once('message', (d: RawData, binary: boolean) => resolve({ data: Buffer.from(d as Buffer), binary }));
  });
}

describe('the root package.json scripts (issue 8: what a benchmark or memory probe measures)', () => {
  it('echo-server and echo-client are plain `node <built file>.js`, the files these tests run', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    for (const name of ['echo-server', 'echo-client']) {
      const script = pkg.scripts[name];
      // No tsx, npx or shell wrapper between the benchmark and the server process.
      expect(script).toMatch(/^node [\w./-]+\.js$/);
      expect(join(root, (script as string).slice('node '.length))).toBe(dist(name));
    }
  });
});

describe('echo-server', () => {
  it('prints READY <port>, echoes text and binary with their opcode, answers SIGUSR2 and exits on SIGTERM', async () => {
    const srv = await startEchoServer();
    expect(srv.port).toBeGreaterThan(0);
    const c = new WebSocket(`ws://127.0.0.1:${srv.port}/any/path?x=1`, { perMessageDeflate: false });
    closers.push(() => c.terminate());
    await once(c, 'open');
    c.send('text message');
    expect(await nextMessage(c)).toEqual({ data: Buffer.from('text message'), binary: false });
    const bin = Buffer.from([0, 255, 1, 254]);
    c.send(bin);
    expect(await nextMessage(c)).toEqual({ data: bin, binary: true });
    const big = Buffer.alloc(200_000, 7);
    c.send(big);
    const echoed = await nextMessage(c);
    expect(echoed.binary).toBe(true);
    expect(echoed.data.equals(big)).toBe(true);

    const mem = srv.line('MEM ');
    srv.child.kill('SIGUSR2');
    const usage = JSON.parse((await mem).slice(4)) as { heapUsed: number; rss: number; gc: boolean };
    expect(usage.heapUsed).toBeGreaterThan(0);
    expect(usage.rss).toBeGreaterThan(0);
    expect(usage.gc).toBe(true);

    const closed = new Promise<number>((resolve) => c.once('close', (code: number) => resolve(code)));
    c.close(1000);
    expect(await closed).toBe(1000);
    srv.child.kill('SIGTERM');
    const [code] = (await once(srv.child, 'exit')) as [number | null];
    expect(code).toBe(0);
  });

  it('--deflate negotiates permessage-deflate with a client that offers it', async () => {
    const srv = await startEchoServer(['--deflate']);
    const c = new WebSocket(`ws://127.0.0.1:${srv.port}/`, { perMessageDeflate: { threshold: 0 } });
    closers.push(() => c.terminate());
    await once(c, 'open');
    expect(c.extensions).toContain('permessage-deflate');
    const text = 'compressible '.repeat(1000);
    c.send(text);
    expect(await nextMessage(c)).toEqual({ data: Buffer.from(text), binary: false });
    c.send(Buffer.from([1, 2, 3]));
    expect(await nextMessage(c)).toEqual({ data: Buffer.from([1, 2, 3]), binary: true });
    c.close(1000);
    await once(c, 'close');
  });

  it('without --deflate declines the offer', async () => {
    const srv = await startEchoServer();
    const c = new WebSocket(`ws://127.0.0.1:${srv.port}/`, { perMessageDeflate: true });
    closers.push(() => c.terminate());
    await once(c, 'open');
    expect(c.extensions).toBe('');
    c.close(1000);
    await once(c, 'close');
  });
});

async function wsServer(onConnection: (s: WebSocket) => void): Promise<number> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  closers.push(() => {
    for (const s of wss.clients) s.terminate();
    wss.close();
  });
  await once(wss, 'listening');
  wss.on('connection', onConnection);
  return (wss.address() as { port: number }).port;
}

async function runEchoClient(url: string): Promise<{ code: number | null; stdout: string }> {
  const child = spawn(process.execPath, [dist('echo-client'), '--url', url], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
  });
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout };
}

describe('echo-client', () => {
  it('echoes every message with its opcode and exits 0 after a clean close', async () => {
    const got: { data: string; binary: boolean }[] = [];
    const port = await wsServer((s) => {
      s.on('message', (d: RawData, binary: boolean) => {
        got.push({ data: String(d), binary });
        if (got.length === 3) s.close(4000, 'enough');
      });
      s.send('one');
      s.send(Buffer.from('two'));
      s.send('three');
    });
    const { code, stdout } = await runEchoClient(`ws://127.0.0.1:${port}/some/path?q=1`);
    expect(code).toBe(0);
    expect(stdout).toContain('closed 4000 enough');
    expect(got).toEqual([
      { data: 'one', binary: false },
      { data: 'two', binary: true },
      { data: 'three', binary: false },
    ]);
  });

  it('exits 1 when the connection is lost without a closing handshake', async () => {
    const port = await wsServer((s) => {
      s.send('hello');
      s.once('message', () => s.terminate());
    });
    const { code } = await runEchoClient(`ws://127.0.0.1:${port}/`);
    expect(code).toBe(1);
  });

  it('exits 1 when nothing listens', async () => {
    const port = await wsServer(() => undefined);
    for (const f of closers.splice(0)) f();
    const { code } = await runEchoClient(`ws://127.0.0.1:${port}/`);
    expect(code).toBe(1);
  });
});
