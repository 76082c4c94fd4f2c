/*
 * The WebSocket echo client used as a conformance program (issue 5).
 *
 *   npm run echo-client -- --url ws://127.0.0.1:P/path
 *
 * Connects, echoes every message it receives with its opcode (text stays
 * text, binary stays binary) until the connection closes, and exits 0
 * after a clean close (the closing handshake completed: the read reported
 * `websocket.error.closed`) and 1 otherwise (connect or handshake failure,
 * protocol violation, connection lost).
 */
import { parseArgs } from 'node:util';
import type { ErrorCode } from '@tsio/completion-token';
import { type Endpoint, FlatBuffer, Resolver, TcpStream } from '@tsio/net';
import { Stream, error as wsError } from '@tsio/websocket';

const { values } = parseArgs({ options: { url: { type: 'string' } }, strict: false });
if (typeof values.url !== 'string') {
  process.stderr.write('usage: echo-client --url ws://host:port/path\n');
  process.exit(2);
}
const url = new URL(values.url);
if (url.protocol !== 'ws:') {
  process.stderr.write(`echo-client: only ws:// URLs are supported, got ${url.protocol}\n`);
  process.exit(2);
}
// URL keeps IPv6 literals bracketed; the resolver wants them bare.
const hostname = url.hostname.replace(/^\[(.*)\]$/, '$1');
const port = url.port === '' ? 80 : Number(url.port);
const target = `${url.pathname}${url.search}`;

function fail(what: string, ec: ErrorCode): void {
  process.stderr.write(`echo-client: ${what}: ${ec.message()}\n`);
  process.exit(1);
}

const ws = new Stream(new TcpStream());
const buffer = new FlatBuffer();

const onRead = (ec: ErrorCode | null): void => {
  if (ec === wsError.closed) {
    const { code, reason } = ws.reason();
    process.stdout.write(`closed ${code}${reason ? ` ${reason}` : ''}\n`);
    process.exit(0);
  }
  if (ec) return fail('read', ec);
  ws.text(ws.gotText());
  ws.asyncWrite(buffer.data(), onWrite);
};

const onWrite = (ec: ErrorCode | null): void => {
  if (ec) return fail('write', ec);
  buffer.consume(buffer.size());
  ws.asyncRead(buffer, onRead);
};

new Resolver().asyncResolve(hostname, port, (ec: ErrorCode | null, endpoints: Endpoint[]) => {
  if (ec) return fail('resolve', ec);
  ws.nextLayer().asyncConnect(endpoints, (ec2: ErrorCode | null) => {
    if (ec2) return fail('connect', ec2);
    ws.nextLayer().setNoDelay(true);
    ws.asyncHandshake(url.host, target || '/', (ec3: ErrorCode | null) => {
      if (ec3) return fail('handshake', ec3);
      ws.asyncRead(buffer, onRead);
    });
  });
});
