/*
 * wss: Stream<SslStream<TcpStream>> as client and server over loopback,
 * with a throwaway certificate made by openssl in a temp dir. A message
 * round trip and a clean close, and the TLS closure checked on the wire:
 * the websocket teardown must send TLS close_notify, not just a TCP FIN.
 *
 * The close_notify check puts a recording TCP proxy between us and a `ws`
 * peer over Node's https/tls limited to TLS 1.2, where an alert record's
 * type (21) is visible in the clear record header (TLS 1.3 hides it).
 */
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createServer as createHttpsServer } from 'node:https';
import {
  type AddressInfo,
  createServer as createTcpServer,
  type Server,
  type Socket,
  connect as tcpConnect,
} from 'node:net';
import { SystemError } from '@tsio/completion-token';
import { Acceptor, Endpoint, FlatBuffer, SslContext, SslStream, TcpStream } from '@tsio/net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { type RawData, WebSocketServer } from 'ws';
import { makeTestCertificate, type TestCertificate } from '../../net/test/test-certificate.js';
import { acceptUpgrade, closeCode, error, Stream } from '../src/index.js';

type Wss = Stream<SslStream<TcpStream>>;

const opensslMissing =
  spawnSync('openssl', ['version'], { encoding: 'utf8' }).status === 0 ? null : 'openssl not found';

let key = '';
let cert = '';
let certificate: TestCertificate | undefined;

beforeAll(() => {
  if (opensslMissing) return;
  certificate = makeTestCertificate();
  ({ key, cert } = certificate);
});

afterAll(() => certificate?.dispose());

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function serverContext(): SslContext {
  return new SslContext().useCertificateChain(cert).usePrivateKey(key);
}

function clientContext(): SslContext {
  return new SslContext().addCertificateAuthority(cert).setVerifyMode('peer');
}

/** Our wss server: accepts one connection and runs `session` on it. */
async function ourWssServer(
  session: (ws: Wss) => Promise<unknown>,
): Promise<{ port: number; done: Promise<unknown> }> {
  const acceptor = new Acceptor(undefined, new Endpoint('127.0.0.1', 0));
  await acceptor.asyncListen();
  cleanups.push(() => acceptor.close());
  const done = (async () => {
    const tcp = await acceptor.asyncAccept();
    cleanups.push(() => tcp.close());
    const tls = new SslStream(tcp, serverContext());
    await tls.asyncHandshake('server');
    const ws = new Stream(tls);
    await ws.asyncAccept();
    return session(ws);
  })();
  done.catch(() => undefined);
  return { port: acceptor.localEndpoint().port(), done };
}

/** Our wss client connected to 127.0.0.1:port, verifying the test certificate. */
async function ourWssClient(port: number): Promise<Wss> {
  const tcp = new TcpStream();
  cleanups.push(() => tcp.close());
  await tcp.asyncConnect(new Endpoint('127.0.0.1', port));
  const tls = new SslStream(tcp, clientContext());
  tls.setServerName('localhost');
  await tls.asyncHandshake('client');
  const ws = new Stream(tls);
  await ws.asyncHandshake(`localhost:${port}`, '/secure');
  return ws;
}

async function readText(ws: Wss): Promise<string> {
  const buf = new FlatBuffer();
  await ws.asyncRead(buf);
  return buf.toString();
}

async function readUntilClosed(ws: Wss): Promise<string> {
  const buf = new FlatBuffer();
  for (let i = 0; i < 100; i++) {
    try {
      await ws.asyncRead(buf);
      buf.consume(buf.size());
    } catch (e) {
      return e instanceof SystemError ? e.code.name : String(e);
    }
  }
  throw new Error('too many messages');
}

/** A TCP proxy that records the TLS record types each side sends. */
async function recordingProxy(targetPort: number): Promise<{
  port: number;
  toServer: number[];
  toClient: number[];
  closed: Promise<void>;
}> {
  const toServer: number[] = [];
  const toClient: number[] = [];
  let resolveClosed: () => void = () => undefined;
  const closed = new Promise<void>((r) => {
    resolveClosed = r;
  });
  const server: Server = createTcpServer({ allowHalfOpen: true }, (down: Socket) => {
    const up = tcpConnect({ host: '127.0.0.1', port: targetPort, allowHalfOpen: true });
    cleanups.push(() => {
      up.destroy();
      down.destroy();
    });
    const ends = [once(down, 'close'), once(up, 'close')];
    relay(down, up, toServer);
    relay(up, down, toClient);
    void Promise.all(ends).then(() => resolveClosed());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(() => server.close());
  return { port: (server.address() as { port: number }).port, toServer, toClient, closed };
}

/** Forwards bytes and half-closes, noting the content type of each TLS record that passes. */
function relay(from: Socket, to: Socket, types: number[]): void {
  let pending = Buffer.alloc(0);
  from.on('data', (d: Buffer) => {
    to.write(d);
    pending = Buffer.concat([pending, d]);
    while (pending.length >= 5) {
      const len = pending.readUInt16BE(3);
      if (pending.length < 5 + len) break;
      types.push(pending[0]!);
      pending = pending.subarray(5 + len);
    }
  });
  from.on('end', () => to.end());
  from.on('error', () => to.destroy());
  to.on('error', () => from.destroy());
}

const ALERT = 21;

const describeTls = opensslMissing ? describe.skip : describe;
if (opensslMissing) process.stderr.write(`[interop] SKIPPED wss: ${opensslMissing}\n`);

describeTls('wss: Stream<SslStream<TcpStream>>', () => {
  it('our client and our server: a round trip and a clean close', async () => {
    const server = await ourWssServer(async (ws) => {
      const text = await readText(ws);
      ws.text(true);
      await ws.asyncWrite(`echo: ${text}`);
      return { ended: await readUntilClosed(ws), reason: ws.reason() };
    });
    const ws = await ourWssClient(server.port);
    ws.text(true);
    await ws.asyncWrite('over tls');
    expect(await readText(ws)).toBe('echo: over tls');
    await ws.asyncClose({ code: closeCode.normal, reason: 'tls bye' });
    expect(ws.isOpen()).toBe(false);
    expect(ws.reason().code).toBe(closeCode.normal);
    expect(await server.done).toEqual({
      ended: 'closed',
      reason: { code: closeCode.normal, reason: 'tls bye' },
    });
  });

  it("an https server's 'upgrade' event: acceptUpgrade over its TLSSocket, a ws client over wss", async () => {
    const server = createHttpsServer({ key, cert });
    cleanups.push(() => server.close());
    const done = new Promise<string>((resolve, reject) => {
      server.on('upgrade', (req, socket, head) => {
        acceptUpgrade(req, socket, head, async (ec, ws) => {
          if (ec) return reject(new Error(ec.message()));
          const buf = new FlatBuffer();
          await ws.asyncRead(buf);
          ws.text(ws.gotText());
          await ws.asyncWrite(buf.data());
          const end = await ws.asyncRead(new FlatBuffer()).catch((e: { code: unknown }) => e.code);
          resolve(end === error.closed ? `closed ${ws.reason().code}` : String(end));
        });
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    const client = new WebSocket(`wss://127.0.0.1:${port}/`, { ca: cert });
    await once(client, 'open');
    client.send('over tls');
    const [msg] = (await once(client, 'message')) as [RawData];
    expect(String(msg)).toBe('over tls');
    const closed = once(client, 'close');
    client.close(1000, 'bye');
    expect(await done).toBe('closed 1000');
    const [code] = (await closed) as [number];
    expect(code).toBe(1000);
  });

  it('the server closing first works too', async () => {
    const server = await ourWssServer(async (ws) => {
      await ws.asyncClose({ code: closeCode.goingAway, reason: 'server leaving' });
      return ws.isOpen();
    });
    const ws = await ourWssClient(server.port);
    expect(await readUntilClosed(ws)).toBe(error.closed.name);
    expect(ws.reason()).toEqual({ code: closeCode.goingAway, reason: 'server leaving' });
    expect(await server.done).toBe(false);
  });

  it('our server teardown sends TLS close_notify (ws client over TLS 1.2, through a recording proxy)', async () => {
    const server = await ourWssServer(async (ws) => {
      const text = await readText(ws);
      ws.text(true);
      await ws.asyncWrite(text);
      await ws.asyncClose(closeCode.normal);
    });
    const proxy = await recordingProxy(server.port);
    const c = new WebSocket(`wss://localhost:${proxy.port}/`, {
      ca: cert,
      maxVersion: 'TLSv1.2',
      perMessageDeflate: false,
    });
    cleanups.push(() => c.terminate());
    await once(c, 'open');
    c.send('ping over 1.2');
    const [msg] = (await once(c, 'message')) as [RawData];
    expect(String(msg)).toBe('ping over 1.2');
    const [code] = (await once(c, 'close')) as [number];
    expect(code).toBe(closeCode.normal);
    await server.done;
    await proxy.closed;
    expect(proxy.toClient).toContain(ALERT);
  });

  it('our client teardown sends TLS close_notify (ws server over TLS 1.2, through a recording proxy)', async () => {
    const https = createHttpsServer({ key, cert, maxVersion: 'TLSv1.2' });
    const wss = new WebSocketServer({ server: https, perMessageDeflate: false });
    wss.on('connection', (s) => s.on('message', (d: RawData, binary: boolean) => s.send(d, { binary })));
    cleanups.push(() => {
      for (const s of wss.clients) s.terminate();
      wss.close();
      https.close();
    });
    https.listen(0, '127.0.0.1');
    await once(https, 'listening');
    const proxy = await recordingProxy((https.address() as { port: number }).port);
    const ws = await ourWssClient(proxy.port);
    ws.text(true);
    await ws.asyncWrite('hello ws over tls');
    expect(await readText(ws)).toBe('hello ws over tls');
    await ws.asyncClose(closeCode.normal);
    expect(ws.isOpen()).toBe(false);
    await proxy.closed;
    expect(proxy.toServer).toContain(ALERT);
  });
});
