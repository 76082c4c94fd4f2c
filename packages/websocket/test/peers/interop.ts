/*
 * Shared pieces of the real-peer interop tests: our server and client over
 * loopback TCP (127.0.0.1 only), an echo session, and the skip policy for
 * peers that may be missing (chromium, python3-websockets).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { SystemError } from '@tsio/completion-token';
import { Acceptor, Endpoint, FlatBuffer, TcpStream } from '@tsio/net';
import { describe, it } from 'vitest';
import { type CloseReason, error, Stream } from '../../src/index.js';

export type WsStream = Stream<TcpStream>;

/**
 * `describe` when the peer is there; otherwise a skipped suite whose title
 * says why, plus a line on stderr — except under `CI=true`, where a missing
 * peer is a failing test, never a skip.
 */
export function describePeer(title: string, missing: string | null, body: () => void): void {
  if (missing === null) {
    describe(title, body);
    return;
  }
  if (process.env.CI === 'true') {
    describe(title, () => {
      it('has its peer installed (CI=true: a missing peer is a failure)', () => {
        throw new Error(`${title}: ${missing}`);
      });
    });
    return;
  }
  process.stderr.write(`[interop] SKIPPED ${title}: ${missing}\n`);
  describe.skip(`${title} — skipped: ${missing}`, body);
}

/** Why `/usr/bin/python3` cannot run the `websockets` peer, or null when it can. */
export function pythonWebsocketsMissing(): string | null {
  if (!existsSync('/usr/bin/python3'))
    return '/usr/bin/python3 not found (apt-get install python3-websockets)';
  const r = spawnSync('/usr/bin/python3', ['-c', 'import websockets; print(websockets.__version__)'], {
    encoding: 'utf8',
    timeout: 20_000,
  });
  if (r.status !== 0) return 'python module websockets not importable (apt-get install python3-websockets)';
  return null;
}

/** Why chromium cannot be driven, or null when it can. */
export function chromiumMissing(): string | null {
  if (!existsSync('/usr/bin/chromium')) return '/usr/bin/chromium not found (apt-get install chromium)';
  return null;
}

export interface OurServer {
  port: number;
  /** Every session's promise settled (for assertions made inside sessions). */
  sessions: Promise<unknown>[];
  close(): void;
}

/**
 * Our server on 127.0.0.1:0: accepts connections and runs `session` for
 * each accepted WebSocket stream. `configure` runs before the accept.
 */
export async function startServer(
  session: (ws: WsStream) => Promise<unknown>,
  configure?: (ws: WsStream) => void,
): Promise<OurServer> {
  const acceptor = new Acceptor(undefined, new Endpoint('127.0.0.1', 0));
  await acceptor.asyncListen();
  const sockets = new Set<TcpStream>();
  const sessions: Promise<unknown>[] = [];
  let open = true;
  const loop = async (): Promise<void> => {
    while (open) {
      let sock: TcpStream;
      try {
        sock = await acceptor.asyncAccept();
      } catch {
        return;
      }
      sockets.add(sock);
      const ws = new Stream(sock);
      configure?.(ws);
      const run = (async () => {
        try {
          await ws.asyncAccept();
          return await session(ws);
        } finally {
          sock.close();
          sockets.delete(sock);
        }
      })();
      run.catch(() => undefined);
      sessions.push(run);
    }
  };
  void loop();
  return {
    port: acceptor.localEndpoint().port(),
    sessions,
    close() {
      open = false;
      acceptor.close();
      for (const s of sockets) s.close();
    },
  };
}

/** Our client, connected and handshaken to ws://127.0.0.1:port/target. */
export async function connectClient(
  port: number,
  target = '/',
  configure?: (ws: WsStream) => void,
): Promise<WsStream> {
  const sock = new TcpStream();
  await sock.asyncConnect(new Endpoint('127.0.0.1', port));
  const ws = new Stream(sock);
  configure?.(ws);
  try {
    await ws.asyncHandshake(`127.0.0.1:${port}`, target);
  } catch (e) {
    sock.close();
    throw e;
  }
  return ws;
}

export interface EchoResult {
  messages: number;
  reason: CloseReason;
}

/**
 * Echoes every message with its opcode until the closing handshake
 * completes (the read reports `closed`); at most `max` messages.
 */
export async function echo(ws: WsStream, max = 1000): Promise<EchoResult> {
  const buf = new FlatBuffer();
  for (let i = 0; i < max; i++) {
    try {
      await ws.asyncRead(buf);
    } catch (e) {
      if (e instanceof SystemError && e.code === error.closed) return { messages: i, reason: ws.reason() };
      throw e;
    }
    ws.text(ws.gotText());
    await ws.asyncWrite(buf.data());
    buf.consume(buf.size());
  }
  throw new Error(`echo: more than ${max} messages`);
}

/** Reads one message; resolves with its payload and kind. */
export async function readMessage(ws: WsStream): Promise<{ data: Buffer; binary: boolean }> {
  const buf = new FlatBuffer();
  await ws.asyncRead(buf);
  return { data: Buffer.from(buf.data()), binary: ws.gotBinary() };
}

/** Reads until the peer's close completes the handshake; resolves with the error code name seen. */
export async function readUntilClosed(ws: WsStream, max = 100): Promise<string> {
  const buf = new FlatBuffer();
  for (let i = 0; i < max; i++) {
    try {
      await ws.asyncRead(buf);
      buf.consume(buf.size());
    } catch (e) {
      return e instanceof SystemError ? e.code.name : String(e);
    }
  }
  throw new Error('readUntilClosed: too many messages');
}

/** Deterministic payloads: text of `n` ASCII characters, or `n` bytes. */
export function textOf(n: number): string {
  let s = '';
  const unit = 'The quick brown fox jumps over the lazy dog 0123456789. ';
  while (s.length < n) s += unit.length <= n - s.length ? unit : unit.slice(0, n - s.length);
  return s;
}

export function bytesOf(n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = 0x12345678;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

export const SIZES = [0, 1, 125, 126, 65535, 65536, 1 << 20, 16 << 20];
