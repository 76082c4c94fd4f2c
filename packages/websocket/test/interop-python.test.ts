/*
 * Interop with Python's `websockets` (Debian python3-websockets, run with
 * /usr/bin/python3) over loopback TCP: its client against our server and
 * our client against its server, with and without compression. The peers
 * are the scripts in ./peers (py_client.py, py_server.py).
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { closeCode, type FrameType, PermessageDeflate } from '../src/index.js';
import {
  bytesOf,
  connectClient,
  describePeer,
  type EchoResult,
  echo,
  type OurServer,
  pythonWebsocketsMissing,
  readMessage,
  readUntilClosed,
  SIZES,
  startServer,
  textOf,
  type WsStream,
} from './peers/interop.js';

const PYTHON = '/usr/bin/python3';
const peer = (name: string) => fileURLToPath(new URL(`./peers/${name}`, import.meta.url));

interface ClientReport {
  ok: boolean;
  failures: string[];
  extensions: string;
  code: number;
  reason: string;
}

/** Runs py_client.py against `url`; resolves with its report and exit status. */
function runPythonClient(
  url: string,
  deflate: boolean,
): Promise<{ status: number | null; report: ClientReport }> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, [peer('py_client.py'), url, ...(deflate ? ['--deflate'] : [])], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.on('error', reject);
    child.on('close', (status) => {
      const line = out.trim().split('\n').pop() ?? '';
      try {
        resolve({ status, report: JSON.parse(line) as ClientReport });
      } catch {
        reject(new Error(`py_client.py exited ${status}; stdout: ${out}; stderr: ${err}`));
      }
    });
  });
}

describePeer('python websockets client -> our server', pythonWebsocketsMissing(), () => {
  let server: OurServer | null = null;
  afterAll(() => server?.close());

  it('echoes 0 B..16 MiB text and binary, fragmented, ping; its close code and reason reach reason()', async () => {
    server = await startServer(echo);
    const { status, report } = await runPythonClient(`ws://127.0.0.1:${server.port}/py?plain=1`, false);
    expect(report.failures).toEqual([]);
    expect(report.ok).toBe(true);
    expect(status).toBe(0);
    expect(report.extensions).toBe('');
    // We echo the peer's code.
    expect(report.code).toBe(4006);
    const result = (await server.sessions[0]) as EchoResult;
    expect(result.reason).toEqual({ code: 4006, reason: 'python client bye' });
    expect(result.messages).toBe(SIZES.length * 2 + 1);
    server.close();
    server = null;
  }, 120_000);

  it('with compression: its deflate offer is accepted by our server', async () => {
    server = await startServer(echo, (ws) => {
      ws.setOption(new PermessageDeflate({ server: true }));
    });
    const { status, report } = await runPythonClient(`ws://127.0.0.1:${server.port}/py?deflate=1`, true);
    expect(report.failures).toEqual([]);
    expect(status).toBe(0);
    expect(report.extensions).toContain('permessage-deflate');
    expect(((await server.sessions[0]) as EchoResult).reason.code).toBe(4006);
    server.close();
    server = null;
  }, 120_000);
});

interface ServerReport {
  path: string;
  extensions: string;
  echoed: number;
  code: number | null;
  reason: string;
  error: string | null;
}

/** py_server.py as a child: its port and a way to await the report of a finished connection. */
class PythonServer {
  private readonly reports: ServerReport[] = [];
  private readonly waiters: ((r: ServerReport) => void)[] = [];
  port = 0;

  private constructor(private readonly child: ChildProcessWithoutNullStreams) {}

  static start(deflate: boolean): Promise<PythonServer> {
    const child = spawn(PYTHON, [peer('py_server.py'), ...(deflate ? ['--deflate'] : [])]);
    const server = new PythonServer(child);
    let err = '';
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    return new Promise((resolve, reject) => {
      child.on('error', reject);
      child.on('exit', (code) => reject(new Error(`py_server.py exited ${code}: ${err}`)));
      createInterface({ input: child.stdout }).on('line', (line) => {
        if (line.startsWith('READY ')) {
          server.port = Number(line.slice(6));
          resolve(server);
          return;
        }
        const r = JSON.parse(line) as ServerReport;
        const w = server.waiters.shift();
        if (w) w(r);
        else server.reports.push(r);
      });
    });
  }

  /** The report of the next connection to finish. */
  nextReport(): Promise<ServerReport> {
    const r = this.reports.shift();
    return r ? Promise.resolve(r) : new Promise((resolve) => this.waiters.push(resolve));
  }

  stop(): void {
    this.child.stdin.end();
    this.child.kill();
  }
}

async function exchangeAll(ws: WsStream, sizes: readonly number[]): Promise<void> {
  for (const n of sizes) {
    const text = textOf(n);
    ws.text(true);
    await ws.asyncWrite(text);
    const t = await readMessage(ws);
    expect(t.binary).toBe(false);
    expect(t.data.toString('utf8') === text).toBe(true);
    const bin = bytesOf(n);
    ws.binary(true);
    await ws.asyncWrite(bin);
    const b = await readMessage(ws);
    expect(b.binary).toBe(true);
    expect(b.data.equals(bin)).toBe(true);
  }
}

describePeer('our client -> python websockets server', pythonWebsocketsMissing(), () => {
  let py: PythonServer;
  let pyDeflate: PythonServer;
  const clients: WsStream[] = [];
  beforeAll(async () => {
    [py, pyDeflate] = await Promise.all([PythonServer.start(false), PythonServer.start(true)]);
  });
  afterAll(() => {
    for (const c of clients) c.nextLayer().close();
    py?.stop();
    pyDeflate?.stop();
  });
  const connect = async (server: PythonServer, target: string, configure?: (ws: WsStream) => void) => {
    const ws = await connectClient(server.port, target, configure);
    clients.push(ws);
    return ws;
  };

  it('exchanges 0 B..16 MiB text and binary and a fragmented message; our close code and reason reach it', async () => {
    const ws = await connect(py, '/echo');
    await exchangeAll(ws, SIZES);
    ws.text(true);
    await ws.asyncWriteSome(false, 'frag');
    await ws.asyncWriteSome(false, 'men');
    await ws.asyncWriteSome(true, 'ted');
    expect((await readMessage(ws)).data.toString()).toBe('fragmented');
    await ws.asyncClose({ code: 4007, reason: 'our client bye' });
    expect(ws.isOpen()).toBe(false);
    const report = await py.nextReport();
    expect(report).toMatchObject({ path: '/echo', code: 4007, reason: 'our client bye', error: null });
    expect(report.echoed).toBe(SIZES.length * 2 + 1);
  }, 120_000);

  it('pings both ways', async () => {
    const seen: [FrameType, string][] = [];
    const ws = await connect(py, '/ping', (w) =>
      w.controlCallback((kind, payload) => seen.push([kind, payload])),
    );
    // Our pending read answers its ping; it then sends 'pong-ok'.
    expect((await readMessage(ws)).data.toString()).toBe('pong-ok');
    expect(seen).toEqual([['ping', 'py-ping']]);
    const echoed = readMessage(ws);
    await ws.asyncPing('ts-ping');
    ws.text(true);
    await ws.asyncWrite('after-ping');
    expect((await echoed).data.toString()).toBe('after-ping');
    expect(seen).toContainEqual(['pong', 'ts-ping']);
    await ws.asyncClose(closeCode.normal);
    expect(await py.nextReport()).toMatchObject({ path: '/ping', code: closeCode.normal, error: null });
  });

  it('its close(4005, reason) ends our read with closed and reason()', async () => {
    const ws = await connect(py, '/close');
    expect(await readUntilClosed(ws)).toBe('closed');
    expect(ws.reason()).toEqual({ code: 4005, reason: 'python server bye' });
    expect(await py.nextReport()).toMatchObject({ path: '/close', code: 4005, error: null });
  });

  it('with compression: our deflate offer is accepted by its server', async () => {
    const ws = await connect(pyDeflate, '/echo', (w) => {
      w.setOption(new PermessageDeflate({ client: true }));
    });
    await exchangeAll(ws, [0, 1, 125, 126, 65535, 65536, 1 << 20]);
    await ws.asyncClose(closeCode.normal);
    const report = await pyDeflate.nextReport();
    expect(report).toMatchObject({ path: '/echo', code: closeCode.normal, error: null });
    expect(report.extensions).toContain('permessage-deflate');
  }, 60_000);
});
