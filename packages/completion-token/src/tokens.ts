import { createRequire } from 'node:module';
import { defaultExecutor, type Executor } from '@tsio/executor';
import type { Observable } from 'rxjs';
import {
  type Associated,
  associatedExecutorKey,
  associatedSlotKey,
  copyAssociations,
  getAssociatedCancellationSlot,
  getAssociatedExecutor,
  settlesPromise,
} from './associated.js';
import {
  asyncResult,
  type CompletionHandler,
  type CompletionToken,
  type DeferredOperation,
  launch,
  type Start,
  setDefaultToken,
  type TokenObject,
  tokenKind,
  type UsePromise,
} from './async-result.js';
import {
  CancellationSignal,
  type CancellationSlot,
  type CancellationType,
  cancellationType,
} from './cancellation.js';
import { type ErrorCode, error, SystemError } from './error.js';

type AnyHandler = CompletionHandler<unknown[]>;

function resultValue(values: unknown[]): unknown {
  return values.length <= 1 ? values[0] : values;
}

/** The promise token (the default): resolves with the value, rejects with a `SystemError`. */
export const usePromise: UsePromise = {
  [tokenKind]: 'promise',
  [asyncResult](start: Start): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const settle = function settle(ec: ErrorCode | null, value?: unknown): void {
        if (ec) reject(new SystemError(ec));
        // biome-ignore lint/complexity/noArguments: one value (the usual case) without a rest array
        else resolve(arguments.length <= 2 ? value : Array.prototype.slice.call(arguments, 1));
      } as CompletionHandler<unknown[]> & { [settlesPromise]?: true };
      settle[settlesPromise] = true;
      start(settle);
    });
  },
};
setDefaultToken(usePromise);

export interface UseObservable extends TokenObject {
  readonly [tokenKind]: 'observable';
}

type RxjsModule = { Observable: typeof Observable };
let rxjs: RxjsModule | undefined;
function loadRxjs(): RxjsModule {
  // rxjs is an optional peer dependency, loaded on first use so that users
  // who never ask for an Observable need not install it.
  rxjs ??= createRequire(import.meta.url)('rxjs') as RxjsModule;
  return rxjs;
}

/**
 * The rxjs token: a cold `Observable` that starts a new operation for each
 * subscription, emits the value then completes (or errors with a
 * `SystemError`), and emits a terminal cancellation when unsubscribed first.
 */
export const useObservable: UseObservable = {
  [tokenKind]: 'observable',
  [asyncResult](start: Start): Observable<unknown> {
    const { Observable: Obs } = loadRxjs();
    return new Obs<unknown>((subscriber) => {
      const signal = new CancellationSignal();
      let done = false;
      const handler = ((ec: ErrorCode | null, ...values: unknown[]) => {
        done = true;
        if (ec) subscriber.error(new SystemError(ec));
        else {
          subscriber.next(resultValue(values));
          subscriber.complete();
        }
      }) as AnyHandler & Associated;
      handler[associatedSlotKey] = signal.slot();
      start(handler);
      return () => {
        if (!done) {
          done = true;
          signal.emit(cancellationType.terminal);
        }
      };
    });
  },
};

export interface Detached extends TokenObject {
  readonly [tokenKind]: 'detached';
}

/** Asio's `detached`: start the operation and ignore its result. */
export const detached: Detached = {
  [tokenKind]: 'detached',
  [asyncResult](start: Start): void {
    start(() => undefined);
  },
};

export interface Deferred extends TokenObject {
  readonly [tokenKind]: 'deferred';
}

function makeDeferred(start: Start): DeferredOperation<unknown[]> {
  const op = ((token?: CompletionToken<unknown[]>) => launch(start, token)) as DeferredOperation<unknown[]>;
  op.chain = (next) =>
    makeDeferred((handler) =>
      start((ec, ...values) => {
        next(ec, ...values)(handler);
      }),
    ) as never;
  return op;
}

/** Asio's `deferred`: the operation is returned unstarted; call it with a token to start it. */
export const deferred: Deferred = {
  [tokenKind]: 'deferred',
  [asyncResult](start: Start): DeferredOperation<unknown[]> {
    return makeDeferred(start);
  },
};

// ---- adapters ---------------------------------------------------------------

/** A token that wraps another and keeps its signature. */
export interface PassThroughToken<I> extends TokenObject {
  readonly [tokenKind]: 'passThrough';
  readonly inner: I;
}

/**
 * An adapter token: the inner token, and how the handler it makes is
 * wrapped. A class rather than an object literal per call: a literal with
 * computed symbol keys and a method is built property by property, with a
 * fresh method closure (~0.3 µs of the AbortSignal token's ~1 µs).
 */
class AdapterToken implements TokenObject {
  readonly [tokenKind]: string;

  constructor(
    kind: string,
    readonly inner: CompletionToken<unknown[]>,
    private readonly wrap: (handler: AnyHandler) => AnyHandler,
  ) {
    this[tokenKind] = kind;
  }

  [asyncResult](start: Start): unknown {
    const wrap = this.wrap;
    return launch((handler) => start(wrap(handler)), this.inner);
  }
}

/** Builds an adapter token from a handler transformation. */
function adapter<K extends string, I extends CompletionToken<never>, E extends object = object>(
  kind: K,
  inner: I | undefined,
  wrap: (handler: AnyHandler) => AnyHandler,
  extra?: E,
): TokenObject & { readonly [tokenKind]: K; readonly inner: I } & E {
  const token = new AdapterToken(kind, (inner ?? usePromise) as CompletionToken<unknown[]>, wrap);
  if (extra !== undefined) Object.assign(token, extra);
  return token as unknown as TokenObject & { readonly [tokenKind]: K; readonly inner: I } & E;
}

/** Runs `onComplete` and then `handler`, keeping the handler's associations. */
function around(handler: AnyHandler, onComplete: () => void): AnyHandler & Associated {
  return copyAssociations((ec: ErrorCode | null, ...values: unknown[]) => {
    onComplete();
    handler(ec, ...values);
  }, handler) as AnyHandler & Associated;
}

/**
 * Attaches a cancellation source to a handler: a fresh signal whose slot the
 * operation sees, fed both by the source and by any slot the inner token had
 * (so `withAbortSignal(s, useObservable)` cancels on abort and on unsubscribe).
 */
function withSource(
  handler: AnyHandler,
  subscribe: (emit: (t: CancellationType) => void) => () => void,
): AnyHandler {
  const signal = new CancellationSignal();
  const outer = getAssociatedCancellationSlot(handler);
  outer?.assign((t) => signal.emit(t));
  const unsubscribe = subscribe((t) => signal.emit(t));
  const wrapped = around(handler, () => {
    unsubscribe();
    outer?.clear();
  });
  wrapped[associatedSlotKey] = signal.slot();
  return wrapped;
}

/** Completes `handler` with `operationAborted` without starting the operation, never inline. */
function abortNow(handler: AnyHandler): void {
  const ex = getAssociatedExecutor(handler, defaultExecutor());
  ex.post(() => handler(error.operationAborted));
}

/** The operations waiting on each signal: one 'abort' listener per signal, however many operations. */
const abortWaiters = new WeakMap<AbortSignal, Set<() => void>>();

/**
 * Calls `fire` when `signal` aborts; returns the unsubscribe. One listener
 * per signal serves all its operations: adding and removing an EventTarget
 * listener per operation cost ~1 µs, and past ten concurrent operations on
 * one signal Node warned of a listener leak.
 */
function whenAborted(signal: AbortSignal, fire: () => void): () => void {
  let waiters = abortWaiters.get(signal);
  if (waiters === undefined) {
    const created = new Set<() => void>();
    waiters = created;
    abortWaiters.set(signal, created);
    signal.addEventListener(
      'abort',
      () => {
        const all = [...created];
        created.clear();
        for (const f of all) f();
      },
      { once: true },
    );
  }
  const set = waiters;
  set.add(fire);
  return () => {
    set.delete(fire);
  };
}

/**
 * Cancels the operation when `signal` aborts (terminal by default). An
 * already-aborted signal completes the operation with `operationAborted`
 * without starting it, still through the executor, never inline.
 */
export function withAbortSignal<I extends CompletionToken<never> = UsePromise>(
  signal: AbortSignal,
  inner?: I,
  type: CancellationType = cancellationType.terminal,
): PassThroughToken<I> {
  return new AbortSignalToken(
    signal,
    (inner ?? usePromise) as CompletionToken<unknown[]>,
    type,
  ) as unknown as PassThroughToken<I>;
}

/** `withAbortSignal`'s token (a class, as `AdapterToken`: no literal with computed keys per call). */
class AbortSignalToken implements TokenObject {
  readonly [tokenKind] = 'passThrough';

  constructor(
    private readonly signal: AbortSignal,
    readonly inner: CompletionToken<unknown[]>,
    private readonly type: CancellationType,
  ) {}

  [asyncResult](start: Start): unknown {
    const { signal, type } = this;
    return launch((handler) => {
      if (signal.aborted) {
        abortNow(handler);
        return;
      }
      start(withSource(handler, (emit) => whenAborted(signal, () => emit(type))));
    }, this.inner);
  }
}

/** Asio's `cancel_after`: cancels the operation if it has not completed after `ms` milliseconds. */
export function cancelAfter<I extends CompletionToken<never> = UsePromise>(
  ms: number,
  inner?: I,
  type: CancellationType = cancellationType.terminal,
): PassThroughToken<I> {
  return adapter(
    'passThrough',
    inner,
    (handler) =>
      withSource(handler, (emit) => {
        const timer = setTimeout(() => emit(type), ms);
        return () => clearTimeout(timer);
      }) as AnyHandler,
  );
}

/** Asio's `bind_cancellation_slot`: the operation attaches to `slot`. */
export function bindCancellationSlot<I extends CompletionToken<never> = UsePromise>(
  slot: CancellationSlot,
  inner?: I,
): PassThroughToken<I> {
  return adapter('passThrough', inner, (handler) => {
    const wrapped = around(handler, () => undefined);
    wrapped[associatedSlotKey] = slot;
    return wrapped;
  });
}

/** Asio's `bind_executor`: the handler runs on `ex`. Binding a function returns a function. */
export function bindExecutor<F extends (...args: never[]) => void>(ex: Executor, handler: F): F;
export function bindExecutor<I extends TokenObject>(ex: Executor, inner: I): PassThroughToken<I>;
export function bindExecutor(ex: Executor, token: TokenObject | ((...args: never[]) => void)): unknown {
  if (typeof token === 'function') {
    const bound = copyAssociations((...args: never[]) => token(...args), token) as Associated;
    bound[associatedExecutorKey] = ex;
    return bound;
  }
  return adapter('passThrough', token, (handler) => {
    const wrapped = around(handler, () => undefined);
    wrapped[associatedExecutorKey] = ex;
    return wrapped;
  });
}

/** The token types that change the signature. */
export interface AsTupleToken<I> extends TokenObject {
  readonly [tokenKind]: 'asTuple';
  readonly inner: I;
}

/** Asio's `as_tuple`: the result is `[ec, ...values]` and an error is never thrown. */
export function asTuple<I extends CompletionToken<never> = UsePromise>(inner?: I): AsTupleToken<I> {
  return adapter('asTuple', inner, (handler) =>
    copyAssociations((ec: ErrorCode | null, ...values: unknown[]) => handler(null, [ec, ...values]), handler),
  );
}

/** Where `redirectError` stores the error code; `null` after a success. */
export interface ErrorRef {
  ec?: ErrorCode | null;
}

/** Asio's `redirect_error`: the error goes into `ref.ec` and the inner token sees success. */
export function redirectError<I extends CompletionToken<never>>(
  inner: I,
  ref: ErrorRef,
): PassThroughToken<I> {
  return adapter('passThrough', inner, (handler) =>
    copyAssociations((ec: ErrorCode | null, ...values: unknown[]) => {
      ref.ec = ec;
      handler(null, ...values);
    }, handler),
  );
}

/** Asio's `consign`: keeps `values` alive until the handler has run, without passing them. */
export function consign<I extends CompletionToken<never>>(
  inner: I,
  ...values: unknown[]
): PassThroughToken<I> {
  return adapter('passThrough', inner, (handler) =>
    copyAssociations((ec: ErrorCode | null, ...results: unknown[]) => {
      handler(ec, ...results);
      values.length = 0;
    }, handler),
  );
}

export interface AppendToken<I, X extends unknown[]> extends TokenObject {
  readonly [tokenKind]: 'append';
  readonly inner: I;
  readonly extra: X;
}

/** Asio's `append`: the handler receives `values` after the operation's own. */
export function append<I extends CompletionToken<never>, const X extends unknown[]>(
  inner: I,
  ...values: X
): AppendToken<I, X> {
  return adapter(
    'append',
    inner,
    (handler) =>
      copyAssociations(
        (ec: ErrorCode | null, ...results: unknown[]) => handler(ec, ...results, ...values),
        handler,
      ),
    { extra: values },
  );
}

export interface PrependToken<I, X extends unknown[]> extends TokenObject {
  readonly [tokenKind]: 'prepend';
  readonly inner: I;
  readonly extra: X;
}

/**
 * Asio's `prepend`, with one difference: the error code stays first, and
 * `values` come right after it, because every tsio handler starts with `ec`.
 */
export function prepend<I extends CompletionToken<never>, const X extends unknown[]>(
  inner: I,
  ...values: X
): PrependToken<I, X> {
  return adapter(
    'prepend',
    inner,
    (handler) =>
      copyAssociations(
        (ec: ErrorCode | null, ...results: unknown[]) => handler(ec, ...values, ...results),
        handler,
      ),
    { extra: values },
  );
}
