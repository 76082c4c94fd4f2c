/*
 * Meeting Node's `http` server: its `'upgrade'` event hands over a request
 * it has already parsed, the socket, and the bytes it read past the head.
 * Beast's equivalent is `ws.async_accept(req)` with a request read by
 * `http::async_read`; here the request comes from `IncomingMessage`.
 */
import type { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  type AsyncResult,
  asyncCompose,
  type CompletionToken,
  type DefaultToken,
  error as netError,
} from '@tsio/completion-token';
import type { ExecutorOrContext } from '@tsio/executor';
import { TcpStream } from '@tsio/net';
import { RequestType } from './detail/handshake.js';
import { field, listHasToken } from './detail/http-fields.js';
import { Stream } from './stream.js';

/** Beast's `http::request` for a request Node's HTTP parser has read. */
export function requestFromIncoming(req: IncomingMessage): RequestType {
  const out = new RequestType();
  out.method = req.method ?? 'GET';
  out.target = req.url ?? '/';
  out.version = req.httpVersionMajor * 10 + req.httpVersionMinor;
  // rawHeaders keeps every field as sent (names, order, repeats), unlike req.headers.
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    out.fields.insert(req.rawHeaders[i] as string, req.rawHeaders[i + 1] as string);
  }
  return out;
}

/**
 * Beast's `websocket::is_upgrade(req)`: whether a request asks for a
 * WebSocket upgrade — HTTP/1.1 or later, `GET`, `Connection` listing
 * `upgrade` and `Upgrade` listing `websocket` (RFC 6455 §4.2.1). Like
 * Beast's, it does not check the rest of the handshake (key, version):
 * `asyncAccept` does, and answers a bad one with 400 or 426. Takes our
 * `RequestType` or Node's `IncomingMessage` (an `http` server's `'request'`
 * or `'upgrade'` event).
 */
export function isUpgrade(req: RequestType | IncomingMessage): boolean {
  const r = req instanceof RequestType ? req : requestFromIncoming(req);
  if (r.version < 11) return false;
  if (r.method !== 'GET') return false;
  if (!listHasToken(r.fields.get(field.connection), 'upgrade')) return false;
  return listHasToken(r.fields.get(field.upgrade), 'websocket');
}

/**
 * A websocket stream over the socket of an `'upgrade'` event, not yet
 * accepted: set its options, then `asyncAccept(requestFromIncoming(req))`.
 * `head` (bytes the HTTP parser read past the request) becomes the start of
 * the websocket's input.
 */
export function streamFromUpgrade(
  socket: Duplex,
  head: Uint8Array,
  ex?: ExecutorOrContext,
): Stream<TcpStream> {
  if (!(socket instanceof Socket))
    throw new TypeError('the upgrade socket must be a net.Socket (or tls.TLSSocket)');
  const ws = new Stream(new TcpStream(socket, ex));
  ws.impl.appendRead(head);
  return ws;
}

/**
 * The whole upgrade in one operation: `server.on('upgrade', (req, socket, head) =>
 * acceptUpgrade(req, socket, head, (ec, ws) => ...))`. Completes with the
 * accepted stream; on a refused or failed handshake the socket is closed.
 * `configure` runs before the handshake (options, decorators, subprotocols).
 */
export function acceptUpgrade<
  T extends CompletionToken<[Stream<TcpStream>]> = DefaultToken<[Stream<TcpStream>]>,
>(
  req: IncomingMessage,
  socket: Duplex,
  head: Uint8Array,
  token?: T,
  configure?: (ws: Stream<TcpStream>) => void,
): AsyncResult<T, [Stream<TcpStream>]> {
  return asyncCompose<[Stream<TcpStream>], T>((self) => {
    let ws: Stream<TcpStream>;
    try {
      ws = streamFromUpgrade(socket, head);
      configure?.(ws);
    } catch {
      socket.destroy();
      return self.complete(netError.invalidArgument, undefined as unknown as Stream<TcpStream>);
    }
    ws.asyncAccept(
      requestFromIncoming(req),
      self.bind((ec) => {
        if (ec) ws.nextLayer().close();
        self.complete(ec, ws);
      }),
    );
  }, token);
}
