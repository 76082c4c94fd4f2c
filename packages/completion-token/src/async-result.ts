import { defaultExecutor, type Executor, type Runnable, systemContext } from '@tsio/executor';
import type { Observable } from 'rxjs';
import {
  type Associated,
  associatedExecutorKey,
  associatedSlotKey,
  getAssociatedCancellationSlot,
  getAssociatedExecutor,
  isPromiseSettler,
} from './associated.js';
import type { CancellationSlot } from './cancellation.js';
import type { ErrorCode } from './error.js';

/**
 * The completion signature of an operation is `(ec, ...values)`: `ec` is null
 * on success. `V` is the tuple of values after the error code, e.g. `[number]`
 * for `readSome`'s bytes transferred.
 */
export type CompletionHandler<V extends unknown[]> = (ec: ErrorCode | null, ...values: V) => void;

/** What the promise and observable tokens produce for a signature: nothing, the value, or the tuple. */
export type ValueOf<V extends unknown[]> = V extends [] ? void : V extends [infer A] ? A : V;

/** Starts the operation with a concrete handler; tokens call it (Asio's initiation, bound to its arguments). */
export type Start = (handler: CompletionHandler<unknown[]>) => void;

/** Key of a token object's `async_result` implementation. */
export const asyncResult: unique symbol = Symbol.for('tsio.asyncResult');
/** Key of a token object's kind, which selects its result type in `TokenResults`. */
export const tokenKind: unique symbol = Symbol.for('tsio.tokenKind');

/**
 * A completion token other than a plain function. This is the open form of
 * Asio's `async_result` specialisation: any object with these two members is
 * a token, and `TokenResults` (augmentable with `declare module`) tells the
 * type system what an operation returns for it.
 */
export interface TokenObject {
  readonly [tokenKind]: string;
  [asyncResult](start: Start): unknown;
}

/** The last argument of every `async*` function. */
export type CompletionToken<V extends unknown[]> = CompletionHandler<V> | TokenObject;

/**
 * What an initiating function returns for token `T` and signature `V`, by the
 * token's kind. A user adding a token type adds a member here:
 * `declare module '@tsio/completion-token' { interface TokenResults<V, T> { myKind: ... } }`.
 */
export interface TokenResults<V extends unknown[], T> {
  promise: Promise<ValueOf<V>>;
  observable: Observable<ValueOf<V>>;
  detached: void;
  deferred: DeferredOperation<V>;
  passThrough: T extends { readonly inner: infer I } ? AsyncResult<I, V> : never;
  asTuple: T extends { readonly inner: infer I } ? AsyncResult<I, [[ErrorCode | null, ...V]]> : never;
  append: T extends { readonly inner: infer I; readonly extra: infer X extends unknown[] }
    ? AsyncResult<I, [...V, ...X]>
    : never;
  prepend: T extends { readonly inner: infer I; readonly extra: infer X extends unknown[] }
    ? AsyncResult<I, [...X, ...V]>
    : never;
}

export type AsyncResult<T, V extends unknown[]> =
  CompletionToken<V> extends T
    ? Promise<ValueOf<V>> // no token given: the promise token
    : T extends (...args: never[]) => unknown
      ? void
      : T extends { readonly [tokenKind]: infer K }
        ? K extends keyof TokenResults<V, T>
          ? TokenResults<V, T>[K]
          : unknown
        : unknown;

/**
 * The default of an operation's token type parameter. It is the whole token
 * union rather than `UsePromise` so that a callback's parameters are typed
 * from the signature; `AsyncResult` maps it (the token was omitted) to a promise.
 */
export type DefaultToken<V extends unknown[]> = CompletionToken<V>;

/** An operation started later with a token of the caller's choice (Asio's `deferred`), chainable. */
export interface DeferredOperation<V extends unknown[]> {
  <T extends CompletionToken<V> = DefaultToken<V>>(token?: T): AsyncResult<T, V>;
  /** Runs `next` with this operation's result and continues with the operation it returns. */
  chain<W extends unknown[]>(
    next: (ec: ErrorCode | null, ...values: V) => DeferredOperation<W>,
  ): DeferredOperation<W>;
}

export interface UsePromise extends TokenObject {
  readonly [tokenKind]: 'promise';
}

/** Hands `start` to whatever `token` is: a function is called back, a token object decides the result. */
export function launch(start: Start, token: CompletionToken<unknown[]> | undefined): unknown {
  if (token === undefined) return (usePromiseRef as TokenObject)[asyncResult](start);
  if (typeof token === 'function') {
    start(token as CompletionHandler<unknown[]>);
    return undefined;
  }
  return token[asyncResult](start);
}

// Set by tokens.ts; kept as a late binding to avoid an import cycle.
let usePromiseRef: TokenObject | undefined;
/** @internal */
export function setDefaultToken(t: TokenObject): void {
  usePromiseRef = t;
}

/** An initiation with the I/O object's executor, the fallback for handlers that have no associated executor. */
export interface InitiationObject<V extends unknown[], A extends unknown[]> {
  readonly executor?: Executor;
  initiate(handler: CompletionHandler<V>, ...args: A): void;
}

export type Initiation<V extends unknown[], A extends unknown[]> =
  | ((handler: CompletionHandler<V>, ...args: A) => void)
  | InitiationObject<V, A>;

/**
 * Asio's `async_initiate`: starts `initiation` with a handler made from
 * `token` and returns what the token says the operation returns.
 *
 * The handler the initiation receives carries the never-inline guarantee
 * (DESIGN.md, contract 1): called while the initiating function is still on
 * the stack it is posted to the handler's associated executor; called later
 * it is dispatched there, so a continuation already running on that executor
 * proceeds without a queue round trip, as Asio's composed operations do. It
 * must be called exactly once; it clears the associated cancellation slot.
 */
export function asyncInitiate<
  V extends unknown[],
  A extends unknown[],
  T extends CompletionToken<V> = DefaultToken<V>,
>(initiation: Initiation<V, A>, token: T | undefined, ...args: A): AsyncResult<T, V> {
  const ioExecutor = (typeof initiation !== 'function' && initiation.executor) || defaultExecutor();
  // A callback token (the common, fastest case) starts at once: no `start` closure.
  if (typeof token === 'function') {
    initiate(initiation, ioExecutor, token as CompletionHandler<unknown[]>, args);
    return undefined as AsyncResult<T, V>;
  }
  return launchInitiation(initiation, ioExecutor, token, args) as AsyncResult<T, V>;
}

/**
 * `asyncInitiate` for token objects. Apart because V8 makes the context a
 * closure captures on entry to the function that creates it, whichever
 * branch runs: the callback path then makes none.
 */
function launchInitiation<V extends unknown[], A extends unknown[]>(
  initiation: Initiation<V, A>,
  ioExecutor: Executor,
  token: CompletionToken<V> | undefined,
  args: A,
): unknown {
  return launch(
    (handler) => initiate(initiation, ioExecutor, handler, args),
    token as CompletionToken<unknown[]> | undefined,
  );
}

const systemExecutor = systemContext.getExecutor();

/**
 * @internal The never-inline rule (DESIGN.md, contract 1), shared by every
 * completion: `r` runs the handler. While the operation is still initiating
 * it is posted to the handler's executor, later it is dispatched there; the
 * default executor queues `r` itself (no closure), and calls a promise
 * settler at once (`settlesPromise`: its caller resumes in a microtask anyway).
 */
export function deliver(r: Runnable, ex: Executor, initiating: boolean, handler: unknown): void {
  if (ex === systemExecutor) {
    if (isPromiseSettler(handler as object)) r.run();
    else if (initiating) systemContext.enqueue(r);
    else systemContext.dispatchRunnable(r);
  } else if (initiating) ex.post(() => r.run());
  else ex.dispatch(() => r.run());
}

/**
 * One operation's completion state. It is what the executor queues when the
 * handler's executor is the default one (a `Runnable`), so a completion
 * costs one closure (the handler the initiation receives) and this object,
 * instead of also a `() => handler(ec, ...values)` closure and a rest array.
 *
 * An I/O object may also use it directly, as its operation record: a
 * subclass carrying the operation's own state (net's socket operations do)
 * is then the only object an operation allocates. `initiating` must be true
 * while the initiating function runs and false after it; `complete` then
 * applies the never-inline rule.
 */
export class Completion implements Runnable {
  initiating = true;
  done = false;
  ec: ErrorCode | null = null;
  /** The one value most signatures have (`[number]`), or the values array when there are several. */
  value: unknown = undefined;
  /** Arguments the handler is called with: 1 (ec), 2 (ec, value) or more (ec, ...value). */
  argc = 0;

  constructor(
    /** Not readonly: an I/O object may reuse a completed record for its next operation (net's socket operations, `SocketOp.reuse`). */
    public handler: CompletionHandler<unknown[]>,
    /** The handler's associated executor. */
    public ex: Executor,
    public slot: CancellationSlot | undefined,
  ) {}

  /** Completes with `(ec, value)`: posted while initiating, else dispatched; exactly once. */
  complete(ec: ErrorCode | null, value: unknown): void {
    this.settle(ec, value, 2);
  }

  /** @internal */
  settle(ec: ErrorCode | null, value: unknown, argc: number): void {
    if (this.done) throw new Error('tsio: a completion handler was invoked twice');
    this.done = true;
    this.slot?.clear();
    this.ec = ec;
    this.argc = argc;
    this.value = value;
    deliver(this, this.ex, this.initiating, this.handler);
  }

  run(): void {
    const h = this.handler;
    const ec = this.ec;
    const v = this.value;
    // Drop references before the handler runs, so what it closes over is not kept by us.
    this.value = undefined;
    if (this.argc === 2) h(ec, v);
    else if (this.argc < 2) h(ec);
    else h(ec, ...(v as unknown[]));
  }
}

function initiate<V extends unknown[], A extends unknown[]>(
  initiation: Initiation<V, A>,
  ioExecutor: Executor,
  handler: CompletionHandler<unknown[]>,
  args: A,
): void {
  const ex = getAssociatedExecutor(handler, ioExecutor);
  const slot = getAssociatedCancellationSlot(handler);
  const c = new Completion(handler, ex, slot);
  // `function` + `arguments` rather than `(ec, ...values)`: no rest array for the common arities.
  const complete = function complete(ec: ErrorCode | null, value?: unknown): void {
    // `function` + `arguments` rather than `(ec, ...values)`: no rest array for the common arities.
    // biome-ignore lint/complexity/noArguments: the arity decides the call, without a rest array
    const argc = arguments.length;
    // biome-ignore lint/complexity/noArguments: several values are rare; avoid a rest array for one
    c.settle(ec, argc <= 2 ? value : Array.prototype.slice.call(arguments, 1), argc);
  } as unknown as CompletionHandler<V> & Associated;
  // Associations are copied only when present: adding properties to a fresh
  // function on every operation is the costliest part of this path.
  if (ex !== ioExecutor) complete[associatedExecutorKey] = ex;
  if (slot) complete[associatedSlotKey] = slot;
  try {
    // Most initiations take no extra arguments: skip the spread then.
    if (typeof initiation === 'function') {
      if (args.length === 0) (initiation as unknown as (h: CompletionHandler<V>) => void)(complete);
      else initiation(complete, ...args);
    } else if (args.length === 0) {
      (initiation as unknown as { initiate(h: CompletionHandler<V>): void }).initiate(complete);
    } else initiation.initiate(complete, ...args);
  } finally {
    c.initiating = false;
  }
}
