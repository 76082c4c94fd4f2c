import type { Socket } from 'node:net';
import { connect, createSecureContext, type SecureContext, TLSSocket } from 'node:tls';
import {
  type AsyncResult,
  asyncInitiate,
  type CompletionHandler,
  type CompletionToken,
  cancellationType,
  type DefaultToken,
  type ErrorCode,
  error,
  errorFromErrno,
  getAssociatedCancellationSlot,
} from '@tsio/completion-token';
import type { Executor } from '@tsio/executor';
import type { ConstBufferSequence, MutableBufferSequence } from './buffer.js';
import { initiateSocketOp, lendThrough, type SocketIo, startSocketOp } from './socket-io.js';
import { type LendHandler, type LendReceiver, lendSome, writeNow } from './stream-extensions.js';
import type { TcpStream } from './tcp-stream.js';

/** Asio's `ssl::verify_none` / `ssl::verify_peer`. */
export type VerifyMode = 'none' | 'peer';

/** Asio's `ssl::stream_base::handshake_type`. */
export type HandshakeType = 'client' | 'server';

type Pem = string | Buffer;

/**
 * Asio's `ssl::context`, reduced to what a Node TLS socket needs: the
 * certificate chain and key a server (or a client with a certificate)
 * presents, the authorities it trusts, and whether the peer is verified.
 *
 * One deliberate difference: Asio defaults to `verify_none`; here a client
 * handshake verifies the server unless `setVerifyMode('none')` was called,
 * because an unverified TLS client is the mistake that default invites. A
 * server requests and verifies a client certificate only with `'peer'`.
 */
export class SslContext {
  key: Pem | undefined;
  cert: Pem | undefined;
  /** Trusted authorities; empty means Node's bundled root certificates. */
  ca: Pem[] = [];
  verifyMode: VerifyMode | undefined;
  /** The server name a client sends (SNI) and verifies the certificate against, unless a stream sets its own. */
  servername: string | undefined;
  private cached: SecureContext | null = null;

  useCertificateChain(pem: Pem): this {
    this.cert = pem;
    this.cached = null;
    return this;
  }

  usePrivateKey(pem: Pem): this {
    this.key = pem;
    this.cached = null;
    return this;
  }

  addCertificateAuthority(pem: Pem): this {
    this.ca.push(pem);
    this.cached = null;
    return this;
  }

  setVerifyMode(mode: VerifyMode): this {
    this.verifyMode = mode;
    return this;
  }

  /** Whether a handshake in `role` rejects a peer that fails verification. */
  rejectUnauthorized(role: HandshakeType): boolean {
    return (this.verifyMode ?? (role === 'client' ? 'peer' : 'none')) === 'peer';
  }

  /** @internal the Node secure context, built once per configuration. */
  secureContext(): SecureContext {
    this.cached ??= createSecureContext({
      key: this.key,
      cert: this.cert,
      ca: this.ca.length > 0 ? this.ca : undefined,
    });
    return this.cached;
  }
}

/**
 * Asio's `ssl::stream<beast::tcp_stream>` over Node's TLS. At the handshake
 * the `TcpStream` hands its socket (and any bytes it read ahead) to a Node
 * `TLSSocket`; from then on reads and writes go through this stream, with
 * the same pull-based reading and batched writing, and the `TcpStream`'s
 * expiry, `cancel()` and `close()` still apply to them, as in Beast.
 */
export class SslStream<Next extends TcpStream = TcpStream> {
  private io: SocketIo | null = null;
  private tls: TLSSocket | null = null;
  private serverName: string | undefined;

  constructor(
    private readonly next: Next,
    private readonly context: SslContext,
  ) {}

  nextLayer(): Next {
    return this.next;
  }

  getExecutor(): Executor {
    return this.next.getExecutor();
  }

  /** Beast's `SSL_set_tlsext_host_name`: the name sent with SNI and checked against the server's certificate. */
  setServerName(name: string): void {
    this.serverName = name;
  }

  /** The Node TLS socket, once the handshake has started. */
  tlsSocket(): TLSSocket | null {
    return this.tls;
  }

  /**
   * Performs the TLS handshake in `type`'s role. A failure completes with
   * the code from Node's error (e.g. `DEPTH_ZERO_SELF_SIGNED_CERT` in the
   * system category for an untrusted certificate, `net.error.tlsError` for
   * protocol errors). Terminal cancellation destroys the connection.
   */
  asyncHandshake<T extends CompletionToken<[]> = DefaultToken<[]>>(
    type: HandshakeType,
    token?: T,
  ): AsyncResult<T, []> {
    return asyncInitiate<[], [], T>(
      { executor: this.getExecutor(), initiate: (handler) => this.startHandshake(type, handler) },
      token,
    );
  }

  private startHandshake(type: HandshakeType, handler: CompletionHandler<[]>): void {
    if (this.tls) {
      handler(error.alreadyOpen);
      return;
    }
    if (this.next.owner.expired()) {
      this.next.owner.timeOut();
      handler(this.next.owner.timeoutError);
      return;
    }
    const ctx = this.context;
    let tls = null as TLSSocket | null;
    const io = this.next.handOver((raw: Socket) => {
      tls =
        type === 'client'
          ? connect({
              socket: raw,
              secureContext: ctx.secureContext(),
              servername: this.serverName ?? ctx.servername,
              rejectUnauthorized: ctx.rejectUnauthorized('client'),
            })
          : new TLSSocket(raw, {
              isServer: true,
              secureContext: ctx.secureContext(),
              requestCert: ctx.verifyMode === 'peer',
              rejectUnauthorized: ctx.rejectUnauthorized('server'),
            });
      return tls;
    });
    if (!io || !tls) {
      handler(error.notConnected);
      return;
    }
    const sock: TLSSocket = tls;
    this.io = io;
    this.tls = sock;
    let done = false;
    const finish = (ec: ErrorCode | null) => {
      if (done) return;
      done = true;
      untrack();
      sock.off(type === 'client' ? 'secureConnect' : 'secure', onSecure);
      sock.off('error', onError);
      sock.off('close', onClose);
      sock.off('end', onEnd);
      handler(ec);
    };
    const abort = (ec: ErrorCode) => {
      sock.destroy();
      finish(ec);
    };
    const untrack = this.next.trackOperation(abort);
    const onSecure = () => finish(null);
    const onError = (err: Error) => finish(errorFromErrno(err));
    const onClose = () => finish(error.connectionAborted);
    // The peer gave up (e.g. it rejected our certificate); the socket is half-open, so no 'close' comes.
    const onEnd = () => finish(error.eof);
    sock.once(type === 'client' ? 'secureConnect' : 'secure', onSecure);
    sock.once('error', onError);
    sock.once('close', onClose);
    sock.once('end', onEnd);
    getAssociatedCancellationSlot(handler)?.assign((t) => {
      if (t & cancellationType.terminal) abort(error.operationAborted);
    });
  }

  /** A speculative write (`SpeculativeWriter`): all `bytes` taken now, or 0 and nothing taken. */
  [writeNow](buffers: ConstBufferSequence, bytes: number): number {
    return this.io === null ? 0 : this.io.trySend(buffers, bytes);
  }

  /**
   * Lends the next bytes received instead of copying them (`ChunkLender`):
   * a `readSome` whose completion carries Node's own buffer.
   */
  [lendSome](handler: LendHandler | LendReceiver): void {
    lendThrough(this, handler);
  }

  /**
   * @internal Starts a readSome (`write` false; `buffers` null: a lending
   * read) or writeSome on the socket; never completes inline (`SocketOp`).
   */
  startIo(
    write: boolean,
    buffers: ConstBufferSequence | MutableBufferSequence | null,
    handler: CompletionHandler<[number]> | LendReceiver,
  ): void {
    startSocketOp(this.io, write, buffers, handler, this.getExecutor(), error.notConnected);
  }

  /** `readSome` over TLS: decrypted bytes, pull-based like `TcpStream`'s. */
  readSome<T extends CompletionToken<[number]> = DefaultToken<[number]>>(
    buffers: MutableBufferSequence,
    token?: T,
  ): AsyncResult<T, [number]> {
    return initiateSocketOp(this, false, buffers, token);
  }

  /** `writeSome` over TLS, batched like `TcpStream`'s. */
  writeSome<T extends CompletionToken<[number]> = DefaultToken<[number]>>(
    buffers: ConstBufferSequence,
    token?: T,
  ): AsyncResult<T, [number]> {
    return initiateSocketOp(this, true, buffers, token);
  }

  /**
   * Asio's `async_shutdown`: sends close_notify (after every byte already
   * written), then waits for the peer to finish — its close_notify or FIN —
   * discarding application data that arrives first. Completes with `null`
   * then; the TCP connection is left for `nextLayer().close()`.
   */
  asyncShutdown<T extends CompletionToken<[]> = DefaultToken<[]>>(token?: T): AsyncResult<T, []> {
    return asyncInitiate<[], [], T>(
      {
        executor: this.getExecutor(),
        initiate: (handler) => {
          const io = this.io;
          if (!io) return handler(error.notConnected);
          if (this.next.owner.expired()) {
            this.next.owner.timeOut();
            return handler(this.next.owner.timeoutError);
          }
          let done = false;
          const finish = (ec: ErrorCode | null) => {
            if (done) return;
            done = true;
            untrack();
            handler(ec);
          };
          const untrack = this.next.trackOperation((ec) => {
            this.tls?.destroy();
            finish(ec);
          });
          getAssociatedCancellationSlot(handler)?.assign((t) => {
            if (!(t & cancellationType.terminal)) return;
            this.tls?.destroy();
            finish(error.operationAborted);
          });
          const ec = io.shutdown('send');
          if (ec) return finish(ec);
          io.waitEof(finish);
        },
      },
      token,
    );
  }

  /**
   * The websocket teardown customization point (Beast websocket/ssl.hpp):
   * after the closing handshake, a TLS stream says close_notify and waits
   * for the peer's (or its FIN) whatever the role — both sides send before
   * they wait, so neither waits on the other — then closes TCP. EOF is
   * success, as for plain TCP.
   */
  asyncTeardown(_role: 'client' | 'server', handler: (ec: ErrorCode | null) => void): void {
    this.asyncShutdown((ec) => {
      this.next.close();
      handler(ec === error.eof ? null : ec);
    });
  }
}
