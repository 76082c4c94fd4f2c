import { Socket } from 'node:net';
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
  SystemError,
} from '@tsio/completion-token';
import { defaultExecutor, type Executor, type ExecutorOrContext, toExecutor } from '@tsio/executor';
import type { ConstBufferSequence, MutableBufferSequence } from './buffer.js';
import { Endpoint } from './endpoint.js';
import { beastError } from './error.js';
import type { ShutdownType } from './socket-base.js';
import { type IoOwner, initiateSocketOp, lendThrough, SocketIo, startSocketOp } from './socket-io.js';
import { type LendHandler, type LendReceiver, lendSome, writeNow } from './stream-extensions.js';

function onTimer(s: TcpStream): void {
  s.onTimer();
}

/** A `performance.now()` timestamp, the clock `expiresAt` takes (steady, like `std::chrono::steady_clock`). */
export type TimePoint = number;

function endpointOf(address: string | undefined, port: number | undefined): Endpoint {
  if (address === undefined || port === undefined) throw new SystemError(error.notConnected);
  // Node reports IPv4-mapped peers of a dual-stack listener as '::ffff:a.b.c.d'; Asio does too.
  return new Endpoint(address, port);
}

/**
 * What a `TcpStream` needs only for `asyncConnect`, expiries and the TLS
 * layer's other operations: made on first use, so a stream adopted from an
 * acceptor and used without timeouts keeps three fields fewer.
 */
class TcpAux {
  connecting: ((ec: ErrorCode) => void) | null = null;
  /** Operations of upper layers that are not reads or writes (a TLS handshake or shutdown); made on first use. */
  others: Set<(ec: ErrorCode) => void> | null = null;
  /** `null`: no expiry (not `Infinity`, which would be a boxed number). */
  expiry: TimePoint | null = null;
  /**
   * The expiry the timer has fired for. The timer may fire up to a
   * millisecond before the clock reaches the expiry; an operation started
   * in that window must still find the stream expired.
   */
  fired: TimePoint | null = null;
  timer: NodeJS.Timeout | null = null;

  /** Completes the connect in progress and the upper layers' operations with `ec`. */
  abortAll(ec: ErrorCode): void {
    this.connecting?.(ec);
    if (this.others) for (const abort of [...this.others]) abort(ec);
  }
}

/**
 * Beast's `tcp_stream` (`basic_stream<tcp>`) over a Node `net.Socket`.
 *
 * Reading is pull-based and writing is batched (see `SocketIo`). Beast's
 * timeouts: after `expiresAfter(ms)` every operation still pending when the
 * expiry passes — a connect, a `readSome`, a `writeSome`, or one of the TLS
 * layer's operations over this stream — completes with `beastError.timeout`
 * and the socket is closed; an operation started after the expiry fails the
 * same way. The expiry stays until changed, as in Beast.
 */
export class TcpStream implements IoOwner {
  private readonly executor: Executor;
  private sock: Socket | null = null;
  /**
   * The socket's I/O; once an `SslStream` has taken the socket over, the TLS
   * layer's (`handedOver`), which cancel, close and timeouts reach too.
   */
  private io: SocketIo | null = null;
  /** Connect and expiry state, made on first use (`TcpAux`). */
  private aux: TcpAux | null = null;
  private pending = 0;

  /**
   * `new TcpStream()` uses the default executor; `new TcpStream(ioc)`,
   * `new TcpStream(strand)` use that executor; `new TcpStream(socket, ex?)`
   * adopts a connected Node socket (an accepted one, or one from an HTTP
   * `'upgrade'` event).
   */
  constructor(executorOrContext?: ExecutorOrContext);
  constructor(socket: Socket, executorOrContext?: ExecutorOrContext);
  constructor(a?: ExecutorOrContext | Socket, b?: ExecutorOrContext) {
    if (a instanceof Socket) {
      this.executor = b ? toExecutor(b) : defaultExecutor();
      this.adopt(a);
    } else {
      this.executor = a ? toExecutor(a) : defaultExecutor();
    }
  }

  getExecutor(): Executor {
    return this.executor;
  }

  /** The Node socket; throws `badDescriptor` when the stream has none (never connected, or closed). */
  socket(): Socket {
    if (!this.sock) throw new SystemError(error.badDescriptor, 'TcpStream.socket()');
    return this.sock;
  }

  isOpen(): boolean {
    if (this.sock === null || this.sock.destroyed || this.io === null) return false;
    return this.handedOver() || this.io.isOpen();
  }

  /** The TLS layer drives the socket now: `io` runs over the TLS socket, not over `sock`. */
  private handedOver(): boolean {
    return this.io !== null && this.io.socket !== this.sock;
  }

  setNoDelay(noDelay = true): void {
    this.socket().setNoDelay(noDelay);
  }

  localEndpoint(): Endpoint {
    const s = this.socket();
    return endpointOf(s.localAddress, s.localPort);
  }

  remoteEndpoint(): Endpoint {
    const s = this.socket();
    return endpointOf(s.remoteAddress, s.remotePort);
  }

  // ---- timeouts -------------------------------------------------------------

  /** Operations pending at, or started after, `ms` milliseconds from now fail with `timeout`. */
  expiresAfter(ms: number): void {
    this.expiresAt(performance.now() + ms);
  }

  /** Like `expiresAfter`, with a `performance.now()` time point. */
  expiresAt(t: TimePoint): void {
    this.auxState().expiry = t === Number.POSITIVE_INFINITY ? null : t;
    this.armTimer();
  }

  /** Removes the expiry. */
  expiresNever(): void {
    if (this.aux !== null) this.aux.expiry = null;
    this.armTimer();
  }

  /** The current expiry as a `performance.now()` time point (`Infinity` for never). */
  expiresAtTime(): TimePoint {
    return this.aux?.expiry ?? Number.POSITIVE_INFINITY;
  }

  private auxState(): TcpAux {
    this.aux ??= new TcpAux();
    return this.aux;
  }

  private armTimer(): void {
    const aux = this.aux;
    if (aux === null) return;
    if (aux.timer) {
      clearTimeout(aux.timer);
      aux.timer = null;
    }
    if (this.pending === 0 || aux.expiry === null) return;
    aux.timer = setTimeout(onTimer, Math.max(0, Math.ceil(aux.expiry - performance.now())), this);
  }

  /** @internal the expiry timer fired (through the shared `onTimer`, no closure per stream). */
  onTimer(): void {
    const aux = this.auxState();
    aux.timer = null;
    if (this.pending === 0) return;
    // Timers may fire a fraction of a millisecond before performance.now() reaches the expiry.
    if (aux.expiry !== null && performance.now() + 1 >= aux.expiry) {
      aux.fired = aux.expiry;
      this.timeOut();
    } else this.armTimer();
  }

  /**
   * @internal the hooks a `SocketIo` (ours or the TLS layer's) calls. The
   * stream is its own `IoOwner` (prototype methods): an object with five
   * closures per stream cost ~0.4 KB per idle connection.
   */
  get owner(): IoOwner {
    return this;
  }

  /** @internal Checked by every readSome/writeSome: skip the clock when there is no expiry. */
  expired(): boolean {
    const aux = this.aux;
    return (
      aux !== null && aux.expiry !== null && (aux.fired === aux.expiry || performance.now() >= aux.expiry)
    );
  }

  /** @internal */
  opStarted(): void {
    this.executor.onWorkStarted();
    if (this.pending++ === 0 && this.aux !== null && this.aux.expiry !== null) this.armTimer();
  }

  /** @internal */
  opFinished(): void {
    this.executor.onWorkFinished();
    if (--this.pending === 0 && this.aux?.timer) {
      clearTimeout(this.aux.timer);
      this.aux.timer = null;
    }
  }

  /** @internal */
  get timeoutError(): ErrorCode {
    return beastError.timeout;
  }

  /** @internal The expiry passed: every pending operation completes with `timeout` and the socket closes. */
  timeOut(): void {
    this.aux?.abortAll(beastError.timeout);
    this.io?.close(beastError.timeout, true);
    this.sock?.destroy();
  }

  // ---- connect --------------------------------------------------------------

  /**
   * Beast's `async_connect` with an endpoint or a range of them (a resolver's
   * results): tries each in turn until one connects, and completes with it.
   * A failure of all gives the last attempt's error. Any cancellation type
   * aborts the attempt in progress.
   */
  asyncConnect<T extends CompletionToken<[Endpoint]> = DefaultToken<[Endpoint]>>(
    endpoints: Endpoint | readonly Endpoint[],
    token?: T,
  ): AsyncResult<T, [Endpoint]> {
    const list = endpoints instanceof Endpoint ? [endpoints] : [...endpoints];
    return asyncInitiate<[Endpoint], [], T>(
      { executor: this.executor, initiate: (handler) => this.startConnect(list, handler) },
      token,
    );
  }

  private startConnect(list: Endpoint[], handler: CompletionHandler<[Endpoint]>): void {
    if (this.owner.expired()) {
      this.timeOut();
      handler(beastError.timeout, undefined as unknown as Endpoint);
      return;
    }
    if (list.length === 0) {
      handler(error.hostNotFound, undefined as unknown as Endpoint);
      return;
    }
    if (this.aux?.connecting) {
      handler(error.inProgress, undefined as unknown as Endpoint);
      return;
    }
    this.closeSocket(error.operationAborted);
    this.owner.opStarted();
    let index = 0;
    let attempt: Socket | null = null;
    let lastError: ErrorCode = error.hostNotFound;
    const done = (ec: ErrorCode | null, ep?: Endpoint) => {
      this.auxState().connecting = null;
      this.owner.opFinished();
      handler(ec, ep as Endpoint);
    };
    const abort = (ec: ErrorCode) => {
      attempt?.destroy();
      attempt = null;
      done(ec);
    };
    const aux = this.auxState();
    aux.connecting = abort;
    getAssociatedCancellationSlot(handler)?.assign((type) => {
      if (type & cancellationType.all && aux.connecting === abort) abort(error.operationAborted);
    });
    const next = () => {
      if (index >= list.length) {
        done(lastError);
        return;
      }
      const ep = list[index++]!;
      const s = new Socket({ allowHalfOpen: true });
      attempt = s;
      const onError = (err: Error) => {
        s.off('connect', onConnect);
        s.destroy();
        if (attempt !== s) return;
        attempt = null;
        lastError = errorFromErrno(err);
        next();
      };
      const onConnect = () => {
        s.off('error', onError);
        if (attempt !== s) return;
        attempt = null;
        this.adopt(s);
        done(null, ep);
      };
      s.once('error', onError);
      s.once('connect', onConnect);
      s.connect({ host: ep.address().toString(), port: ep.port(), family: ep.protocol().familyNumber() });
    };
    next();
  }

  private adopt(s: Socket): void {
    // Beast's teardown reads to eof after sending FIN and may send after
    // receiving one: Node must not end our side when the peer ends theirs.
    s.allowHalfOpen = true;
    this.sock = s;
    this.io = new SocketIo(s, this.owner);
  }

  // ---- reading and writing ------------------------------------------------

  /** A speculative write (`SpeculativeWriter`): all `bytes` taken now, or 0 and nothing taken. */
  [writeNow](buffers: ConstBufferSequence, bytes: number): number {
    return this.io === null || this.handedOver() ? 0 : this.io.trySend(buffers, bytes);
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
    const upper = this.handedOver();
    startSocketOp(
      upper ? null : this.io,
      write,
      buffers,
      handler,
      this.executor,
      upper ? error.operationNotSupported : error.notConnected,
    );
  }

  /**
   * Reads at least one byte into `buffers` (Asio's `async_read_some`);
   * completes with `eof` once the peer has finished sending and every byte
   * before it was read. Terminal, partial and total cancellation all apply:
   * a pending read has transferred nothing.
   */
  readSome<T extends CompletionToken<[number]> = DefaultToken<[number]>>(
    buffers: MutableBufferSequence,
    token?: T,
  ): AsyncResult<T, [number]> {
    return initiateSocketOp(this, false, buffers, token);
  }

  /**
   * Writes all of `buffers` (Asio's `async_write_some`; TCP takes them
   * whole). Up to 16 KiB completes as soon as the bytes are copied into the
   * socket's queue, while that queue is below its high-water mark; larger
   * buffers are not copied and complete once Node has written them. Bytes
   * written during one turn go to the socket in one `write`/`writev`.
   * Cancellation: any type while waiting for room, terminal once sent.
   */
  writeSome<T extends CompletionToken<[number]> = DefaultToken<[number]>>(
    buffers: ConstBufferSequence,
    token?: T,
  ): AsyncResult<T, [number]> {
    return initiateSocketOp(this, true, buffers, token);
  }

  // ---- cancel, shutdown, close ----------------------------------------------

  /** Pending operations (connect, reads, writes, and the TLS layer's) complete with `operationAborted`. */
  cancel(): void {
    this.aux?.abortAll(error.operationAborted);
    this.io?.abortAll(error.operationAborted);
  }

  /**
   * Asio's `shutdown(what)`, returning the error instead of throwing
   * (`null` on success). `'send'` sends FIN after every byte already
   * written; `'receive'` makes reads report `eof`.
   */
  shutdown(what: ShutdownType): ErrorCode | null {
    if (this.handedOver()) return error.operationNotSupported;
    return this.io ? this.io.shutdown(what) : error.notConnected;
  }

  /**
   * Closes the socket; pending operations complete with `operationAborted`.
   * Bytes already accepted by `writeSome` are still sent, as the kernel
   * sends a closed socket's queue — for at most 10 s when the peer does not
   * read them, after which the socket is destroyed and the rest dropped.
   */
  close(): void {
    this.cancel();
    this.closeSocket(error.operationAborted);
  }

  private closeSocket(ec: ErrorCode): void {
    this.io?.close(ec);
    if (this.io === null) this.sock?.destroy();
    this.io = null;
    this.sock = null;
  }

  /**
   * @internal For `SslStream`: registers an operation that `cancel()` and a
   * timeout complete through `abort`; counts it as outstanding (work, expiry)
   * until the returned function is called.
   */
  trackOperation(abort: (ec: ErrorCode) => void): () => void {
    const aux = this.auxState();
    aux.others ??= new Set();
    aux.others.add(abort);
    this.owner.opStarted();
    let tracked = true;
    return () => {
      if (!tracked) return;
      tracked = false;
      aux.others?.delete(abort);
      this.owner.opFinished();
    };
  }

  /**
   * @internal For `SslStream`: hands the connected socket over (with any
   * bytes read ahead pushed back into it). `makeUpper` builds the TLS
   * socket; its I/O is driven by a `SocketIo` that shares this stream's
   * expiry, cancel and close.
   */
  handOver(makeUpper: (raw: Socket) => Socket): SocketIo | null {
    if (!this.io || !this.sock || this.handedOver()) return null;
    const raw = this.io.detach();
    this.io = null;
    const upper = makeUpper(raw);
    this.io = new SocketIo(upper, this.owner);
    return this.io;
  }
}
