import { lookup } from 'node:dns';
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
import { defaultExecutor, type Executor, type ExecutorOrContext, toExecutor } from '@tsio/executor';
import { Endpoint } from './endpoint.js';

/** Service names Beast examples pass as the port; anything else must be numeric. */
const services: Readonly<Record<string, number>> = { http: 80, https: 443, ws: 80, wss: 443 };

function parseService(service: string | number): number | null {
  if (typeof service === 'number')
    return Number.isInteger(service) && service >= 0 && service <= 65535 ? service : null;
  if (/^\d{1,5}$/.test(service)) return parseService(Number(service));
  return services[service.toLowerCase()] ?? null;
}

/**
 * Asio's `ip::tcp::resolver` over `dns.lookup` (the system resolver, as
 * `getaddrinfo` is for Asio). Results are an array of endpoints, which
 * `TcpStream.asyncConnect` takes as a range.
 */
export class Resolver {
  private readonly executor: Executor;
  private readonly pending = new Set<(ec: ErrorCode) => void>();

  constructor(executorOrContext?: ExecutorOrContext) {
    this.executor = executorOrContext ? toExecutor(executorOrContext) : defaultExecutor();
  }

  getExecutor(): Executor {
    return this.executor;
  }

  /**
   * Resolves `host` (a name or an address literal) and `service` (a port,
   * numeric string, or one of `http`, `https`, `ws`, `wss`). Completes with
   * `hostNotFound` for an unknown name, `invalidArgument` for an unknown
   * service. Any cancellation type completes it with `operationAborted`
   * (the lookup itself runs to its end, and its result is dropped).
   */
  asyncResolve<T extends CompletionToken<[Endpoint[]]> = DefaultToken<[Endpoint[]]>>(
    host: string,
    service: string | number,
    token?: T,
  ): AsyncResult<T, [Endpoint[]]> {
    return asyncInitiate<[Endpoint[]], [], T>(
      { executor: this.executor, initiate: (handler) => this.start(host, service, handler) },
      token,
    );
  }

  /** Pending resolves complete with `operationAborted`. */
  cancel(): void {
    for (const abort of [...this.pending]) abort(error.operationAborted);
  }

  private start(host: string, service: string | number, handler: CompletionHandler<[Endpoint[]]>): void {
    const port = parseService(service);
    if (port === null) {
      handler(error.invalidArgument, []);
      return;
    }
    let done = false;
    const finish = (ec: ErrorCode | null, endpoints: Endpoint[]) => {
      if (done) return;
      done = true;
      this.pending.delete(abort);
      this.executor.onWorkFinished();
      handler(ec, endpoints);
    };
    const abort = (ec: ErrorCode) => finish(ec, []);
    this.pending.add(abort);
    this.executor.onWorkStarted();
    getAssociatedCancellationSlot(handler)?.assign((type) => {
      if (type & cancellationType.all) abort(error.operationAborted);
    });
    lookup(host, { all: true }, (err, addresses) => {
      if (err) finish(errorFromErrno(err), []);
      else
        finish(
          null,
          addresses.map((a) => new Endpoint(a.address, port)),
        );
    });
  }
}
