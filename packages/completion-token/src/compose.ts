import {
  defaultExecutor,
  type Executor,
  type ExecutorOrContext,
  type Runnable,
  toExecutor,
} from '@tsio/executor';
import {
  type Associated,
  associatedExecutorKey,
  associatedSlotKey,
  getAssociatedCancellationSlot,
  getAssociatedExecutor,
} from './associated.js';
import {
  type AsyncResult,
  type CompletionHandler,
  type CompletionToken,
  type DefaultToken,
  deliver,
  launch,
} from './async-result.js';
import {
  type CancellationSlot,
  CancellationState,
  type CancellationType,
  cancellationType,
} from './cancellation.js';
import type { ErrorCode } from './error.js';

/**
 * The `self` of a composed operation (Asio's `async_compose`). Passed as the
 * handler of an intermediate operation it re-enters the implementation with
 * that operation's results; `complete` finishes the composed operation.
 */
export interface ComposeSelf<V extends unknown[]> {
  (ec: ErrorCode | null, ...results: unknown[]): void;
  /** Completes the operation: posted if still inside the initiating call, else dispatched. */
  complete(ec: ErrorCode | null, ...values: V): void;
  /** A handler for an intermediate step that runs `fn`, with this operation's executor and cancellation slot. */
  bind<A extends unknown[]>(fn: (ec: ErrorCode | null, ...results: A) => void): CompletionHandler<A>;
  /** The executor intermediate steps complete on (the final handler's associated executor). */
  getExecutor(): Executor;
  /** The cancellation types requested so far, filtered by what the operation supports. */
  cancelled(): CancellationType;
  /** Changes which cancellation types the operation honours from now on (default terminal). */
  resetCancellationState(filter?: CancellationType): void;
  /** The slot intermediate operations attach to. */
  cancellationSlot(): CancellationSlot;
}

export type ComposeImpl<V extends unknown[]> = (
  self: ComposeSelf<V>,
  ec?: ErrorCode | null,
  ...results: unknown[]
) => void;

/** Something whose executor counts the operation's work: an executor, a context or an I/O object. */
export type IoObject = ExecutorOrContext | { getExecutor(): Executor };

function executorOf(io: IoObject): Executor {
  if ('getExecutor' in io && typeof io.getExecutor === 'function' && !('post' in io)) return io.getExecutor();
  return toExecutor(io as ExecutorOrContext);
}

/** Key of the operation state behind a `self` function. */
const opKey: unique symbol = Symbol('tsio.composedOp');

type SelfFn<V extends unknown[]> = ComposeSelf<V> & { [opKey]: ComposedOp<V> };

/**
 * The state of one composed operation. It is also what the executor queues
 * for the final completion (a `Runnable`), so finishing costs no closure.
 *
 * Cheaper than the first version, which gave every operation six method
 * closures on `self`, a `CancellationState` (three objects and a closure)
 * and a second wrapper from `asyncInitiate` (measured: a composed operation
 * of two steps went from ~570 to ~330 ns of CPU, see docs/performance.md):
 * - `self`'s methods are shared functions (`selfMethods`) that find this
 *   object through one symbol property;
 * - the `CancellationState` is made only when the final handler has a
 *   cancellation slot (else nothing can ever emit to the children) or when
 *   the implementation asks for it;
 * - the never-inline rule (post while initiating, else dispatch) is applied
 *   here instead of by an extra `asyncInitiate` wrapper.
 */
class ComposedOp<V extends unknown[]> implements Runnable {
  initiating = true;
  completed = false;
  state: CancellationState | null = null;
  ec: ErrorCode | null = null;
  values: unknown[] | null = null;
  value: unknown = undefined;
  argc = 0;
  readonly self: SelfFn<V>;

  constructor(
    readonly impl: ComposeImpl<V>,
    readonly handler: CompletionHandler<unknown[]>,
    readonly executor: Executor,
    /** The executors that count this operation's work: one, or several. */
    readonly work: Executor | readonly Executor[],
    readonly parentSlot: CancellationSlot | undefined,
  ) {
    if (parentSlot) this.state = new CancellationState(parentSlot, cancellationType.terminal);
    const self = function self(ec?: ErrorCode | null, a?: unknown): void {
      // biome-ignore lint/complexity/noArguments: the arity decides the call, without a rest array
      const n = arguments.length;
      if (n === 2) impl(self as ComposeSelf<V>, ec, a);
      else if (n === 1) impl(self as ComposeSelf<V>, ec);
      else if (n === 0) impl(self as ComposeSelf<V>);
      // biome-ignore lint/complexity/noArguments: forwarding more than one result is rare
      else impl(self as ComposeSelf<V>, ...(Array.prototype.slice.call(arguments) as [ErrorCode | null]));
    } as unknown as SelfFn<V>;
    // Always the same properties in the same order, so every `self` shares one hidden class.
    self[opKey] = this;
    self.complete = selfMethods.complete as unknown as ComposeSelf<V>['complete'];
    self.bind = selfMethods.bind;
    self.getExecutor = selfMethods.getExecutor;
    self.cancelled = selfMethods.cancelled;
    self.resetCancellationState = selfMethods.resetCancellationState;
    self.cancellationSlot = selfMethods.cancellationSlot;
    (self as Associated)[associatedExecutorKey] = executor;
    if (this.state) (self as Associated)[associatedSlotKey] = this.state.slot();
    this.self = self;
  }

  cancellation(): CancellationState {
    this.state ??= new CancellationState(undefined, cancellationType.terminal);
    return this.state;
  }

  finish(ec: ErrorCode | null, args: IArguments): void {
    if (this.completed) throw new Error('tsio: a composed operation completed twice');
    this.completed = true;
    // Release the work before the handler runs (Asio's rule), so a chain
    // of the same operation does not keep an IoContext alive twice.
    const w = this.work;
    if (Array.isArray(w)) for (const ex of w as Executor[]) ex.onWorkFinished();
    else (w as Executor).onWorkFinished();
    this.parentSlot?.clear();
    this.ec = ec;
    const argc = args.length;
    this.argc = argc;
    if (argc === 2) this.value = args[1];
    else if (argc > 2) this.values = Array.prototype.slice.call(args, 1);
    deliver(this, this.executor, this.initiating, this.handler);
  }

  run(): void {
    const h = this.handler;
    if (this.argc === 2) h(this.ec, this.value);
    else if (this.argc < 2) h(this.ec);
    else h(this.ec, ...(this.values as unknown[]));
  }
}

function opOf<V extends unknown[]>(self: ComposeSelf<V>): ComposedOp<V> {
  return (self as SelfFn<V>)[opKey];
}

/**
 * The methods every `self` shares: plain functions that find the operation
 * through `this`, assigned to each `self` rather than created per operation.
 * (A shared prototype via `Object.setPrototypeOf` was measured too: it made
 * constructing an operation slower than six property stores.)
 */
const selfMethods = {
  complete(this: ComposeSelf<unknown[]>, ec: ErrorCode | null): void {
    // biome-ignore lint/complexity/noArguments: the values are forwarded without a rest array
    opOf(this).finish(ec, arguments);
  },
  bind<A extends unknown[]>(
    this: ComposeSelf<unknown[]>,
    fn: (ec: ErrorCode | null, ...results: A) => void,
  ): CompletionHandler<A> {
    const op = opOf(this);
    return bindAssociated(fn, op.executor, op.state?.slot());
  },
  getExecutor(this: ComposeSelf<unknown[]>): Executor {
    return opOf(this).executor;
  },
  cancelled(this: ComposeSelf<unknown[]>): CancellationType {
    return opOf(this).state?.cancelled() ?? cancellationType.none;
  },
  resetCancellationState(this: ComposeSelf<unknown[]>, filter?: CancellationType): void {
    opOf(this).cancellation().reset(filter);
  },
  cancellationSlot(this: ComposeSelf<unknown[]>): CancellationSlot {
    return opOf(this).cancellation().slot();
  },
};

/**
 * @internal An intermediate handler of a composed operation: calls `fn` and
 * carries the operation's executor and (when it has one) cancellation slot,
 * so the next layer completes it there and cancels it through that slot.
 */
export function bindAssociated<A extends unknown[]>(
  fn: (ec: ErrorCode | null, ...results: A) => void,
  ex: Executor,
  slot: CancellationSlot | undefined,
): CompletionHandler<A> {
  const f = fn as unknown as (ec: ErrorCode | null, a?: unknown) => void;
  const bound = function bound(ec: ErrorCode | null, a?: unknown): void {
    // biome-ignore lint/complexity/noArguments: the arity decides the call, without a rest array
    const n = arguments.length;
    if (n === 2) f(ec, a);
    else if (n <= 1) f(ec);
    // biome-ignore lint/complexity/noArguments: forwarding more than one result is rare
    else (fn as (...r: unknown[]) => void)(...Array.prototype.slice.call(arguments));
  } as unknown as CompletionHandler<A> & Associated;
  bound[associatedExecutorKey] = ex;
  if (slot) bound[associatedSlotKey] = slot;
  return bound;
}

function startComposed<V extends unknown[]>(
  impl: ComposeImpl<V>,
  handler: CompletionHandler<unknown[]>,
  ioExecutor: Executor,
  work: Executor | readonly Executor[],
): void {
  if (Array.isArray(work)) for (const ex of work as Executor[]) ex.onWorkStarted();
  else (work as Executor).onWorkStarted();
  const op = new ComposedOp<V>(
    impl,
    handler,
    getAssociatedExecutor(handler, ioExecutor),
    work,
    getAssociatedCancellationSlot(handler),
  );
  try {
    impl(op.self);
  } finally {
    op.initiating = false;
  }
}

/**
 * Asio's `async_compose`: builds an operation that works with every token
 * from an implementation that is called once with `self` and again with
 * each intermediate result when `self` is used as a handler. Work is counted
 * on the I/O objects' executors while the operation is outstanding.
 *
 * The final handler is never invoked inline: completing while the
 * implementation's first call is still on the stack posts it to the
 * handler's associated executor; completing later dispatches it there.
 */
export function asyncCompose<V extends unknown[], T extends CompletionToken<V> = DefaultToken<V>>(
  impl: ComposeImpl<V>,
  token: T | undefined,
  ...ioObjects: IoObject[]
): AsyncResult<T, V> {
  let ioExecutor: Executor;
  let work: Executor | Executor[];
  if (ioObjects.length === 1) {
    ioExecutor = executorOf(ioObjects[0] as IoObject);
    work = ioExecutor;
  } else {
    work = ioObjects.map(executorOf);
    ioExecutor = work[0] ?? defaultExecutor();
  }
  if (typeof token === 'function') {
    startComposed(impl, token as CompletionHandler<unknown[]>, ioExecutor, work);
    return undefined as AsyncResult<T, V>;
  }
  return launchComposed(impl, ioExecutor, work, token) as AsyncResult<T, V>;
}

/**
 * `asyncCompose` for token objects. A function of its own because V8 makes
 * the context a closure captures on entry to the function that creates it,
 * whichever branch runs: here, the callback path makes none.
 */
function launchComposed<V extends unknown[]>(
  impl: ComposeImpl<V>,
  ioExecutor: Executor,
  work: Executor | Executor[],
  token: CompletionToken<V> | undefined,
): unknown {
  return launch(
    (handler) => startComposed(impl, handler, ioExecutor, work),
    token as CompletionToken<unknown[]> | undefined,
  );
}
