/**
 * `net::` in Beast's examples is `boost::asio`: executors and contexts,
 * post/dispatch/defer, strands, completion tokens, error codes, buffers,
 * composed read/write, and `ip::tcp`.
 *
 * The lower packages are re-exported whole, so an export they add (a timer,
 * the TLS stream) appears here without a change to this file.
 */
export * from '@tsio/completion-token';
export * from '@tsio/executor';
export * from '@tsio/net';

import { SslContext, SslStream, type TcpStream, type VerifyMode } from '@tsio/net';

/**
 * Asio's `ssl` namespace: `new net.ssl.Context()`, `net.ssl.Stream`
 * (`ssl::stream<beast::tcp_stream>`), `net.ssl.streamBase.client|server`
 * for `async_handshake`, `net.ssl.verifyPeer|verifyNone`. Asio's context
 * takes a method (`ssl::context::tlsv12_client`); Node negotiates the
 * version itself, so the constructor takes none.
 */
export namespace ssl {
  export type Context = SslContext;
  export const Context = SslContext;
  export type Stream<Next extends TcpStream = TcpStream> = SslStream<Next>;
  export const Stream = SslStream;
  export const streamBase = { client: 'client', server: 'server' } as const;
  export const verifyPeer: VerifyMode = 'peer';
  export const verifyNone: VerifyMode = 'none';
}
export { coSpawn } from './co-spawn.js';
