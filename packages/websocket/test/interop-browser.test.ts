/*
 * Interop with a real browser: Debian's chromium, driven by playwright-core.
 * A page served on 127.0.0.1 by a plain node:http server connects to OUR
 * websocket server (Acceptor + TcpStream + Stream), exchanges text and
 * binary messages (with permessage-deflate as the browser offers it), and closes with a
 * code and a reason that both sides observe — once closed by the page,
 * once by our server.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { SystemError } from '@tsio/completion-token';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { error, PermessageDeflate } from '../src/index.js';
import {
  chromiumMissing,
  describePeer,
  type EchoResult,
  type OurServer,
  readMessage,
  startServer,
  type WsStream,
} from './peers/interop.js';

const PAGE = '<!doctype html><html><head><title>tsio interop</title></head><body>tsio</body></html>';

interface PageResult {
  extensions: string;
  echoes: { kind: string; size: number; same: boolean }[];
  close: { code: number; reason: string; wasClean: boolean };
}

/** Runs in the page: connects, sends each message, checks the echo, then closes (or waits for our close). */
async function inPage(arg: { url: string; closeFromPage: boolean }): Promise<PageResult> {
  const ws = new WebSocket(arg.url);
  ws.binaryType = 'arraybuffer';
  const inbox: (string | ArrayBuffer)[] = [];
  const waiters: ((m: string | ArrayBuffer) => void)[] = [];
  ws.onmessage = (e: MessageEvent<string | ArrayBuffer>) => {
    const w = waiters.shift();
    if (w) w(e.data);
    else inbox.push(e.data);
  };
  const closed = new Promise<{ code: number; reason: string; wasClean: boolean }>((resolve) => {
    ws.onclose = (e: CloseEvent) => resolve({ code: e.code, reason: e.reason, wasClean: e.wasClean });
  });
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = () => reject(new Error('websocket error before open'));
  });
  const next = () => {
    const m = inbox.shift();
    return m !== undefined ? Promise.resolve(m) : new Promise<string | ArrayBuffer>((r) => waiters.push(r));
  };
  const echoes: PageResult['echoes'] = [];
  for (const size of [0, 5, 125, 126, 70_000, 1 << 20]) {
    let text = '';
    while (text.length < size) text += 'héllo wörld ✓ ';
    text = text.slice(0, size);
    ws.send(text);
    const t = await next();
    echoes.push({ kind: 'text', size, same: typeof t === 'string' && t === text });
    const bytes = new Uint8Array(size);
    for (let i = 0; i < size; i++) bytes[i] = (i * 31 + 7) & 0xff;
    ws.send(bytes);
    const b = await next();
    const same =
      b instanceof ArrayBuffer && b.byteLength === size && new Uint8Array(b).every((v, i) => v === bytes[i]);
    echoes.push({ kind: 'binary', size, same });
  }
  if (arg.closeFromPage) ws.close(4010, 'browser says bye');
  else ws.send('close-me');
  return { extensions: ws.extensions, echoes, close: await closed };
}

describePeer('chromium page -> our server', chromiumMissing(), () => {
  let browser: Browser | null = null;
  let page: Page;
  let http: Server;
  let pageUrl = '';
  let server: OurServer;

  beforeAll(async () => {
    http = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(PAGE);
    });
    http.listen(0, '127.0.0.1');
    await once(http, 'listening');
    pageUrl = `http://127.0.0.1:${(http.address() as { port: number }).port}/`;
    // Echoes until the page closes; on 'close-me' it closes with its own code and reason.
    server = await startServer(echoUntilCloseMe, (ws) => {
      ws.setOption(new PermessageDeflate({ server: true }));
    });
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    page = await browser.newPage();
    page.on('pageerror', (e) => process.stderr.write(`PAGEERR ${e}\n`));
    await page.goto(pageUrl);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    server?.close();
    http?.close();
  });

  it('exchanges text and binary; the page closes with a code and reason our reason() sees', async () => {
    const result = await page.evaluate(inPage, {
      url: `ws://127.0.0.1:${server.port}/browser`,
      closeFromPage: true,
    });
    expect(result.echoes.filter((e) => !e.same)).toEqual([]);
    expect(result.echoes).toHaveLength(12);
    // Chromium offers permessage-deflate; our server accepts it.
    expect(result.extensions).toContain('permessage-deflate');
    // We echo the page's code; the closing handshake completed.
    expect(result.close).toMatchObject({ code: 4010, wasClean: true });
    const session = (await server.sessions[0]) as SessionResult;
    expect(session).toEqual({ by: 'peer', reason: { code: 4010, reason: 'browser says bye' }, messages: 12 });
  });

  it('our server closes with a code and reason the page sees', async () => {
    const result = await page.evaluate(inPage, {
      url: `ws://127.0.0.1:${server.port}/browser`,
      closeFromPage: false,
    });
    expect(result.echoes.filter((e) => !e.same)).toEqual([]);
    expect(result.close).toEqual({ code: 4011, reason: 'server says bye', wasClean: true });
    const session = (await server.sessions[1]) as SessionResult;
    // asyncClose succeeded (both close frames crossed); the browser echoed our code.
    expect(session.by).toBe('us');
    expect(session.reason.code).toBe(4011);
  });
});

interface SessionResult extends EchoResult {
  by: 'peer' | 'us';
}

async function echoUntilCloseMe(ws: WsStream): Promise<SessionResult> {
  for (let i = 0; i < 100; i++) {
    let m: { data: Buffer; binary: boolean };
    try {
      m = await readMessage(ws);
    } catch (e) {
      if (e instanceof SystemError && e.code === error.closed)
        return { by: 'peer', reason: ws.reason(), messages: i };
      throw e;
    }
    if (!m.binary && m.data.toString() === 'close-me') {
      await ws.asyncClose({ code: 4011, reason: 'server says bye' });
      return { by: 'us', reason: ws.reason(), messages: i };
    }
    ws.binary(m.binary);
    await ws.asyncWrite(m.data);
  }
  throw new Error('too many messages');
}
