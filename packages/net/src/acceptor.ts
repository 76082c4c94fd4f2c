import { createServer, type Server, type Socket } from 'node:net';
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
  tokenKind,
} from '@tsio/completion-token';
import { defaultExecutor, type Executor, type ExecutorOrContext, toExecutor } from '@tsio/executor';
import { Endpoint, type TcpProtocol } from './endpoint.js';
import { type SocketOption, socketBase } from './socket-base.js';
import { TcpStream } from './tcp-stream.js';

type AcceptSignature = [TcpStream];

interface PendingAccept {
  handler: CompletionHandler<AcceptSignature>;
  executor: Executor;
}

function isExecutorOrContext(x: unknown): x is ExecutorOrContext {
  if (typeof x !== 'object' || x === null || tokenKind in x) return false;
  const o = x as { post?: unknown; getExecutor?: unknown };
  return typeof o.post === 'function' || typeof o.getExecutor === 'function';
}

/**
 * Asio's `ip::tcp::acceptor` over a Node `net.Server`, in the shape Beast's
 * examples use: `open(protocol)`, `setOption(...)`, `bind(endpoint)`,
 * `listen(backlog)`, then `asyncAccept` in a loop.
 *
 * Differences from Asio, because Node's `server.listen` is asynchronous:
 * `listen()` starts listening and returns at once; accepts started before
 * the socket is listening wait for it, and a bind or listen error (such as
 * `addressInUse`) is reported by the next `asyncAccept` (and by
 * `asyncListen`) instead of being thrown by `bind`/`listen`. `localEndpoint()`
 * gives the real port (for port 0) once listening; `await acceptor.asyncListen()`
 * waits for that.
 *
 * Connections that arrive while no accept is pending are queued, paused
 * (nothing is read from them), up to the backlog passed to `listen`; beyond
 * that they are closed at once, as a full kernel backlog would refuse them.
 */
export class Acceptor {
  private readonly executor: Executor;
  private server: Server | null = null;
  private proto: TcpProtocol | null = null;
  private bound: Endpoint | null = null;
  private ready = false;
  private failure: ErrorCode | null = null;
  private backlog: number = socketBase.maxListenConnections;
  private keepAlive = false;
  private readonly accepts: PendingAccept[] = [];
  private readonly queue: Socket[] = [];
  private readonly listenWaiters: ((ec: ErrorCode | null) => void)[] = [];

  /**
   * `new Acceptor(ex)` is closed until `open`; `new Acceptor(ex, endpoint)`
   * opens, sets `reuseAddress`, binds and listens, like Asio's constructor.
   */
  constructor(executorOrContext?: ExecutorOrContext, endpoint?: Endpoint) {
    this.executor = executorOrContext ? toExecutor(executorOrContext) : defaultExecutor();
    if (endpoint) {
      this.open(endpoint.protocol());
      this.setOption(socketBase.reuseAddress(true));
      this.bind(endpoint);
      this.listen();
    }
  }

  getExecutor(): Executor {
    return this.executor;
  }

  /** Throws `alreadyOpen` when already open. */
  open(protocol: TcpProtocol): void {
    if (this.proto) throw new SystemError(error.alreadyOpen, 'Acceptor.open');
    this.proto = protocol;
    this.failure = null;
  }

  isOpen(): boolean {
    return this.proto !== null;
  }

  /**
   * `reuseAddress` is accepted and has no effect (Node always sets
   * `SO_REUSEADDR` on Unix); `keepAlive` is applied to accepted sockets, which
   * inherit it from the listening socket in the kernel as well.
   */
  setOption(option: SocketOption): void {
    this.checkOpen('setOption');
    if (option.name === 'keepAlive') this.keepAlive = option.value === true;
  }

  /** Records the address to listen on; the bind itself happens in `listen` (Node binds and listens in one call). */
  bind(endpoint: Endpoint): void {
    this.checkOpen('bind');
    if (endpoint.protocol() !== this.proto) throw new SystemError(error.invalidArgument, 'Acceptor.bind');
    this.bound = endpoint;
  }

  /** Starts listening; see the class comment for how errors are reported. */
  listen(backlog: number = socketBase.maxListenConnections): void {
    this.checkOpen('listen');
    if (this.server) return;
    this.backlog = backlog;
    const ep = this.bound ?? new Endpoint(this.proto!, 0);
    const server = createServer({ allowHalfOpen: true, pauseOnConnect: true });
    this.server = server;
    server.on('connection', (s) => this.onConnection(server, s));
    server.on('error', (err) => {
      if (this.server !== server) return;
      this.fail(errorFromErrno(err));
    });
    server.listen({ host: ep.address().toString(), port: ep.port(), backlog }, () => {
      if (this.server !== server) return;
      this.ready = true;
      this.settleListenWaiters(null);
    });
  }

  /**
   * Completes once the acceptor is listening (starting `listen()` with the
   * default backlog if needed), or with the bind/listen error. Not in Asio,
   * where `listen` is synchronous; lets code that binds port 0 learn the port.
   */
  asyncListen<T extends CompletionToken<[]> = DefaultToken<[]>>(token?: T): AsyncResult<T, []> {
    return asyncInitiate<[], [], T>(
      {
        executor: this.executor,
        initiate: (handler) => {
          if (!this.proto) return handler(error.badDescriptor);
          if (this.failure) return handler(this.failure);
          this.listen();
          if (this.ready) return handler(null);
          this.executor.onWorkStarted();
          this.listenWaiters.push((ec) => {
            this.executor.onWorkFinished();
            handler(ec);
          });
        },
      },
      token,
    );
  }

  /** The listening address; before listening completes, the address given to `bind`. */
  localEndpoint(): Endpoint {
    this.checkOpen('localEndpoint');
    const address = this.ready ? this.server?.address() : null;
    if (address && typeof address === 'object') return new Endpoint(address.address, address.port);
    return this.bound ?? new Endpoint(this.proto!, 0);
  }

  /**
   * Completes with the next connection as a `TcpStream` on `executor` (a
   * strand, an `IoContext`) or, when omitted, on the acceptor's executor.
   * Any cancellation type removes a pending accept.
   */
  asyncAccept<T extends CompletionToken<AcceptSignature> = DefaultToken<AcceptSignature>>(
    token?: T,
  ): AsyncResult<T, AcceptSignature>;
  asyncAccept<T extends CompletionToken<AcceptSignature> = DefaultToken<AcceptSignature>>(
    executor: ExecutorOrContext,
    token?: T,
  ): AsyncResult<T, AcceptSignature>;
  asyncAccept<T extends CompletionToken<AcceptSignature>>(
    a?: ExecutorOrContext | T,
    b?: T,
  ): AsyncResult<T, AcceptSignature> {
    const hasExecutor = isExecutorOrContext(a);
    const executor = hasExecutor ? toExecutor(a) : this.executor;
    const token = (hasExecutor ? b : a) as T | undefined;
    return asyncInitiate<AcceptSignature, [], T>(
      { executor: this.executor, initiate: (handler) => this.startAccept(handler, executor) },
      token,
    );
  }

  private startAccept(handler: CompletionHandler<AcceptSignature>, executor: Executor): void {
    const none = undefined as unknown as TcpStream;
    if (!this.proto) return handler(error.badDescriptor, none);
    if (this.failure) return handler(this.failure, none);
    if (!this.server) return handler(error.invalidArgument, none);
    this.pruneQueue();
    const queued = this.queue.shift();
    if (queued) return handler(null, this.makeStream(queued, executor));
    const op: PendingAccept = { handler, executor };
    this.accepts.push(op);
    this.executor.onWorkStarted();
    getAssociatedCancellationSlot(handler)?.assign((type) => {
      const i = this.accepts.indexOf(op);
      if ((type & cancellationType.all) === 0 || i < 0) return;
      this.accepts.splice(i, 1);
      this.executor.onWorkFinished();
      handler(error.operationAborted, none);
    });
  }

  private makeStream(s: Socket, executor: Executor): TcpStream {
    s.removeListener('error', ignore);
    if (this.keepAlive) s.setKeepAlive(true);
    return new TcpStream(s, executor);
  }

  private onConnection(server: Server, s: Socket): void {
    if (this.server !== server) {
      s.destroy();
      return;
    }
    const op = this.accepts.shift();
    if (op) {
      this.executor.onWorkFinished();
      op.handler(null, this.makeStream(s, op.executor));
      return;
    }
    this.pruneQueue();
    if (this.queue.length >= this.backlog) {
      s.destroy();
      return;
    }
    // A queued connection may be reset before anyone accepts it; such ones are skipped.
    s.on('error', ignore);
    this.queue.push(s);
  }

  private pruneQueue(): void {
    if (this.queue.some((s) => s.destroyed)) {
      const alive = this.queue.filter((s) => !s.destroyed);
      this.queue.length = 0;
      this.queue.push(...alive);
    }
  }

  private fail(ec: ErrorCode): void {
    this.failure = ec;
    const accepts = this.accepts.splice(0);
    for (const op of accepts) {
      this.executor.onWorkFinished();
      op.handler(ec, undefined as unknown as TcpStream);
    }
    this.settleListenWaiters(ec);
  }

  private settleListenWaiters(ec: ErrorCode | null): void {
    for (const w of this.listenWaiters.splice(0)) w(ec);
  }

  /** Pending accepts complete with `operationAborted`; the acceptor keeps listening. */
  cancel(): void {
    const accepts = this.accepts.splice(0);
    for (const op of accepts) {
      this.executor.onWorkFinished();
      op.handler(error.operationAborted, undefined as unknown as TcpStream);
    }
  }

  /** Stops listening; pending accepts complete with `operationAborted`, queued connections are closed. */
  close(): void {
    this.cancel();
    this.settleListenWaiters(error.operationAborted);
    for (const s of this.queue.splice(0)) s.destroy();
    this.server?.close();
    this.server = null;
    this.proto = null;
    this.bound = null;
    this.ready = false;
    this.failure = null;
  }

  private checkOpen(what: string): void {
    if (!this.proto) throw new SystemError(error.badDescriptor, `Acceptor.${what}`);
  }
}

function ignore(): void {}
