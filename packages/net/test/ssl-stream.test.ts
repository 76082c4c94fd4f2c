import { asTuple, type ErrorCode, error, useObservable } from '@tsio/completion-token';
import { firstValueFrom } from 'rxjs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Acceptor } from '../src/acceptor.js';
import { Endpoint } from '../src/endpoint.js';
import { beastError } from '../src/error.js';
import { SslContext, SslStream } from '../src/ssl-stream.js';
import { TcpStream } from '../src/tcp-stream.js';
import { makeTestCertificate, type TestCertificate } from './test-certificate.js';

let key = '';
let cert = '';
let certificate: TestCertificate | undefined;

beforeAll(() => {
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

/** A loopback TCP pair: the client's and the server's `TcpStream`. */
async function tcpPair(): Promise<[TcpStream, TcpStream]> {
  const acceptor = new Acceptor(undefined, new Endpoint('127.0.0.1', 0));
  cleanups.push(() => acceptor.close());
  await acceptor.asyncListen();
  const client = new TcpStream();
  const [server] = await Promise.all([
    acceptor.asyncAccept(),
    client.asyncConnect(new Endpoint('127.0.0.1', acceptor.localEndpoint().port())),
  ]);
  cleanups.push(
    () => client.close(),
    () => server.close(),
  );
  return [client, server];
}

async function readString(s: SslStream, bytes: number): Promise<string> {
  const buf = Buffer.alloc(bytes);
  let off = 0;
  while (off < bytes) off += await s.readSome(buf.subarray(off));
  return buf.toString();
}

describe('SslStream', () => {
  it('round trip on loopback: handshake, read, write, shutdown, with every token', async () => {
    const [c, s] = await tcpPair();
    const clientCtx = new SslContext().addCertificateAuthority(cert).setVerifyMode('peer');
    const client = new SslStream(c, clientCtx);
    client.setServerName('localhost');
    const server = new SslStream(s, serverContext());
    expect(client.nextLayer()).toBe(c);
    const serverDone = new Promise<ErrorCode | null>((resolve) => server.asyncHandshake('server', resolve));
    await firstValueFrom(client.asyncHandshake('client', useObservable), { defaultValue: undefined });
    expect(await serverDone).toBeNull();
    expect(client.tlsSocket()?.authorized).toBe(true);

    expect(await client.writeSome(Buffer.from('hello over tls'))).toBe(14);
    expect(await readString(server, 14)).toBe('hello over tls');
    const big = Buffer.alloc(300_000);
    for (let i = 0; i < big.length; i++) big[i] = i % 253;
    const sent = new Promise<number>((resolve, reject) =>
      server.writeSome(big, (ec, n) => (ec ? reject(ec) : resolve(n))),
    );
    const got = Buffer.alloc(big.length);
    let off = 0;
    while (off < got.length) off += await client.readSome(got.subarray(off));
    expect(await sent).toBe(big.length);
    expect(got.equals(big)).toBe(true);

    // Beast's TLS teardown: close_notify both ways, then the TCP close.
    const serverShut = server.asyncShutdown(asTuple());
    const [cec] = await client.asyncShutdown(asTuple());
    expect(cec).toBeNull();
    expect((await serverShut)[0]).toBeNull();
    c.close();
    s.close();
    expect(c.isOpen()).toBe(false);
  });

  it('a client rejects an untrusted self-signed certificate with an error code', async () => {
    const [c, s] = await tcpPair();
    const client = new SslStream(c, new SslContext());
    client.setServerName('localhost');
    const server = new SslStream(s, serverContext());
    const serverResult = server.asyncHandshake('server', asTuple());
    const [ec] = await client.asyncHandshake('client', asTuple());
    expect(ec).not.toBeNull();
    expect(ec?.name).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
    // The server learns it from the client's alert, or from the connection ending.
    const [sec] = await serverResult;
    expect(sec).not.toBeNull();
  });

  it('verify mode none accepts it', async () => {
    const [c, s] = await tcpPair();
    const client = new SslStream(c, new SslContext().setVerifyMode('none'));
    const server = new SslStream(s, serverContext());
    const [[cec], [sec]] = await Promise.all([
      client.asyncHandshake('client', asTuple()),
      server.asyncHandshake('server', asTuple()),
    ]);
    expect(cec).toBeNull();
    expect(sec).toBeNull();
  });

  it("the TcpStream's expiry bounds a TLS handshake and read", async () => {
    const [c, s] = await tcpPair();
    // The server never answers: the client's handshake times out.
    c.expiresAfter(50);
    const client = new SslStream(c, new SslContext().setVerifyMode('none'));
    const [ec] = await client.asyncHandshake('client', asTuple());
    expect(ec).toBe(beastError.timeout);
    expect(c.isOpen()).toBe(false);
    s.close();
  });

  it('cancel() on the TcpStream aborts a pending TLS read', async () => {
    const [c, s] = await tcpPair();
    const client = new SslStream(c, new SslContext().setVerifyMode('none'));
    const server = new SslStream(s, serverContext());
    await Promise.all([client.asyncHandshake('client'), server.asyncHandshake('server')]);
    const p = client.readSome(Buffer.alloc(10), asTuple());
    c.cancel();
    expect((await p)[0]).toBe(error.operationAborted);
    await server.writeSome(Buffer.from('still works'));
    expect(await readString(client, 11)).toBe('still works');
  });

  it('reads before the handshake fail with notConnected', async () => {
    const [c] = await tcpPair();
    const client = new SslStream(c, new SslContext());
    const [ec] = await client.readSome(Buffer.alloc(1), asTuple());
    expect(ec).toBe(error.notConnected);
  });
});
