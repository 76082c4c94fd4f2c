/**
 * Errors are values (DESIGN.md, contract 4): an operation reports an
 * `ErrorCode` from a named category, compared with `===` against canonical
 * instances exactly as Beast code compares `ec == websocket::error::closed`,
 * or by condition (`ec.is(condition.handshakeFailed)`).
 */
export class ErrorCategory {
  private readonly byValue = new Map<number, ErrorCode>();

  constructor(readonly name: string) {}

  /** The canonical code for `value`, created on first use so `===` holds for every lookup. */
  code(value: number, name = `error ${value}`, message = name): ErrorCode {
    let ec = this.byValue.get(value);
    if (!ec) {
      ec = new ErrorCode(value, this, name, message);
      this.byValue.set(value, ec);
    }
    return ec;
  }

  /** Every code defined in this category so far. */
  codes(): ErrorCode[] {
    return [...this.byValue.values()];
  }
}

export class ErrorCode {
  /** @internal construct through `ErrorCategory.code` or `defineErrors`, which keep codes canonical. */
  constructor(
    readonly value: number,
    readonly category: ErrorCategory,
    readonly name: string,
    private readonly text: string,
  ) {}

  message(): string {
    return this.text;
  }

  /** Asio's `ec.failed()`; every code here is a failure, success is `null`. */
  failed(): boolean {
    return this.value !== 0;
  }

  /** True for the same canonical code, or when `other` is a condition that groups this code. */
  is(other: ErrorCode | ErrorCondition): boolean {
    return other instanceof ErrorCondition ? other.matches(this) : other === this;
  }

  toString(): string {
    return `${this.category.name}.${this.name}`;
  }
}

/** Asio's `error_condition`: a named group of codes, possibly from several categories. */
export class ErrorCondition {
  constructor(
    readonly name: string,
    private readonly test: (ec: ErrorCode) => boolean,
  ) {}

  matches(ec: ErrorCode | null | undefined): boolean {
    return ec != null && this.test(ec);
  }

  toString(): string {
    return `condition.${this.name}`;
  }
}

/**
 * Defines the canonical codes of a category from `{ name: message }`, numbered
 * from `first` in declaration order (Beast's enums start at 1).
 */
export function defineErrors<const K extends string>(
  category: ErrorCategory,
  messages: Record<K, string>,
  first = 1,
): { readonly [P in K]: ErrorCode } {
  const out = {} as { [P in K]: ErrorCode };
  let value = first;
  for (const key of Object.keys(messages) as K[]) {
    out[key] = category.code(value++, key, messages[key]);
  }
  return Object.freeze(out);
}

/**
 * The exception form of an `ErrorCode`, as `boost::system::system_error`:
 * what the promise token rejects with and what `for await` throws.
 */
export class SystemError extends Error {
  constructor(
    readonly code: ErrorCode,
    what?: string,
  ) {
    super(what ? `${what}: ${code.message()}` : code.message());
    this.name = 'SystemError';
  }
}

/** The category of Asio's `net::error` basics (system and misc errors folded into one). */
export const netCategory: ErrorCategory = new ErrorCategory('net');

/** Asio's basic errors that every layer reports. */
export const error = defineErrors(netCategory, {
  operationAborted: 'Operation canceled',
  eof: 'End of file',
  timedOut: 'Connection timed out',
  connectionReset: 'Connection reset by peer',
  connectionRefused: 'Connection refused',
  connectionAborted: 'Software caused connection abort',
  brokenPipe: 'Broken pipe',
  invalidArgument: 'Invalid argument',
  notConnected: 'Transport endpoint is not connected',
  alreadyOpen: 'Already open',
  badDescriptor: 'Bad file descriptor',
  addressInUse: 'Address already in use',
  addressNotAvailable: 'Cannot assign requested address',
  hostNotFound: 'Host not found (authoritative)',
  hostUnreachable: 'No route to host',
  networkUnreachable: 'Network is unreachable',
  accessDenied: 'Permission denied',
  messageSize: 'Message too long',
  noBufferSpace: 'No buffer space available',
  operationNotSupported: 'Operation not supported',
  inProgress: 'Operation now in progress',
  tryAgain: 'Resource temporarily unavailable',
  shutDown: 'Cannot send after transport endpoint shutdown',
  tlsError: 'TLS error',
});

const byErrno: Readonly<Record<string, ErrorCode>> = {
  ECANCELED: error.operationAborted,
  ABORT_ERR: error.operationAborted,
  ETIMEDOUT: error.timedOut,
  ECONNRESET: error.connectionReset,
  ECONNREFUSED: error.connectionRefused,
  ECONNABORTED: error.connectionAborted,
  EPIPE: error.brokenPipe,
  ERR_STREAM_DESTROYED: error.brokenPipe,
  ERR_STREAM_WRITE_AFTER_END: error.shutDown,
  EINVAL: error.invalidArgument,
  ENOTCONN: error.notConnected,
  EBADF: error.badDescriptor,
  EADDRINUSE: error.addressInUse,
  EADDRNOTAVAIL: error.addressNotAvailable,
  ENOTFOUND: error.hostNotFound,
  EAI_NONAME: error.hostNotFound,
  EHOSTUNREACH: error.hostUnreachable,
  ENETUNREACH: error.networkUnreachable,
  EACCES: error.accessDenied,
  EPERM: error.accessDenied,
  EMSGSIZE: error.messageSize,
  ENOBUFS: error.noBufferSpace,
  EOPNOTSUPP: error.operationNotSupported,
  EINPROGRESS: error.inProgress,
  EAGAIN: error.tryAgain,
  ESHUTDOWN: error.shutDown,
};

/** Codes for Node errno strings that have no name above, kept canonical per string. */
export const systemCategory: ErrorCategory = new ErrorCategory('system');
const unnamed = new Map<string, ErrorCode>();

/**
 * Maps a Node error (`err.code` such as `'ECONNRESET'`) to a canonical code.
 * Unknown errno strings get a stable code of their own in `systemCategory`.
 */
export function errorFromErrno(err: unknown): ErrorCode {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  if (typeof code === 'string') {
    if (Object.hasOwn(byErrno, code)) return byErrno[code] as ErrorCode;
    if (code.startsWith('ERR_SSL') || code.startsWith('ERR_TLS')) return error.tlsError;
    let ec = unnamed.get(code);
    if (!ec) {
      const message = err instanceof Error ? err.message : code;
      ec = systemCategory.code(unnamed.size + 1, code, message);
      unnamed.set(code, ec);
    }
    return ec;
  }
  if (err instanceof Error && /tls|ssl/i.test(err.message)) return error.tlsError;
  return error.invalidArgument;
}

/** Conditions grouping the basic codes, for `ec.is(...)`. */
export const condition = {
  /** The peer went away: reset, broken pipe, aborted or eof. */
  connectionLost: new ErrorCondition('connectionLost', (ec) =>
    [error.connectionReset, error.brokenPipe, error.connectionAborted, error.eof].includes(ec),
  ),
  /** Cancelled by the user or by a deadline. */
  cancelled: new ErrorCondition('cancelled', (ec) => ec === error.operationAborted),
};
