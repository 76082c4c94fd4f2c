import { IoContext, makeStrand } from '@tsio/executor';
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  append,
  asTuple,
  asyncInitiate,
  bindCancellationSlot,
  bindExecutor,
  CancellationSignal,
  type CompletionToken,
  cancelAfter,
  cancellationType,
  consign,
  type DefaultToken,
  deferred,
  type ErrorCode,
  type ErrorRef,
  error,
  getAssociatedCancellationSlot,
  prepend,
  redirectError,
  SystemError,
  useObservable,
  usePromise,
  withAbortSignal,
} from '../src/index.js';

type Mode = 'immediate' | 'later' | 'fail' | 'failLater' | 'pending';

/** A trivial operation: completes with 42 at once or later, fails, or waits for cancellation. */
function asyncOp<T extends CompletionToken<[number]> = DefaultToken<[number]>>(mode: Mode, token?: T) {
  return asyncInitiate<[number], [], T>((handler) => {
    const slot = getAssociatedCancellationSlot(handler);
    let timer: NodeJS.Timeout | undefined;
    slot?.assign((type) => {
      if (type & cancellationType.terminal) {
        clearTimeout(timer);
        handler(error.operationAborted, 0);
      }
    });
    switch (mode) {
      case 'immediate':
        return handler(null, 42);
      case 'fail':
        return handler(error.invalidArgument, 0);
      case 'later':
        timer = setTimeout(() => handler(null, 42), 2);
        return;
      case 'failLater':
        timer = setTimeout(() => handler(error.eof, 0), 2);
        return;
      case 'pending':
        timer = setTimeout(() => handler(null, 42), 60_000);
    }
  }, token);
}

interface Outcome {
  ec: ErrorCode | null;
  value: unknown;
  calls: number;
  inline: boolean;
}

/** Starts the op with a token, reports the outcome; `cancel` is what cancellation means for that token. */
interface TokenCase {
  name: string;
  start(mode: Mode, done: (ec: ErrorCode | null, value: unknown) => void): { cancel?: () => void };
  cancellable: boolean;
}

const cases: TokenCase[] = [
  {
    name: 'callback',
    cancellable: true,
    start(mode, done) {
      const sig = new CancellationSignal();
      asyncOp(
        mode,
        bindCancellationSlot(sig.slot(), (ec: ErrorCode | null, n: number) => done(ec, n)),
      );
      return { cancel: () => sig.emit(cancellationType.terminal) };
    },
  },
  {
    name: 'usePromise',
    cancellable: false,
    start(mode, done) {
      asyncOp(mode, usePromise).then(
        (n) => done(null, n),
        (e: SystemError) => done(e.code, undefined),
      );
      return {};
    },
  },
  {
    name: 'useObservable',
    cancellable: true,
    start(mode, done) {
      let v: unknown;
      const sub = asyncOp(mode, useObservable).subscribe({
        next: (n) => {
          v = n;
        },
        complete: () => done(null, v),
        error: (e: SystemError) => done(e.code, undefined),
      });
      // Unsubscribing is the observable's cancellation; rxjs drops the error after it, so report it from the op.
      return {
        cancel: () => {
          sub.unsubscribe();
          done(error.operationAborted, undefined);
        },
      };
    },
  },
  {
    name: 'withAbortSignal',
    cancellable: true,
    start(mode, done) {
      const ctrl = new AbortController();
      asyncOp(mode, withAbortSignal(ctrl.signal)).then(
        (n) => done(null, n),
        (e: SystemError) => done(e.code, undefined),
      );
      return { cancel: () => ctrl.abort() };
    },
  },
  {
    name: 'withAbortSignal(asTuple(useObservable))',
    cancellable: true,
    start(mode, done) {
      const ctrl = new AbortController();
      asyncOp(mode, withAbortSignal(ctrl.signal, asTuple(useObservable))).subscribe({
        next: ([ec, n]) => done(ec, ec ? undefined : n),
        error: () => done(error.invalidArgument, 'asTuple must not throw'),
      });
      return { cancel: () => ctrl.abort() };
    },
  },
  {
    name: 'cancelAfter',
    cancellable: false,
    start(mode, done) {
      asyncOp(mode, cancelAfter(30_000)).then(
        (n) => done(null, n),
        (e: SystemError) => done(e.code, undefined),
      );
      return {};
    },
  },
  {
    name: 'deferred',
    cancellable: false,
    start(mode, done) {
      const op = asyncOp(mode, deferred);
      op((ec, n) => done(ec, ec ? undefined : n));
      return {};
    },
  },
  {
    name: 'asTuple',
    cancellable: false,
    start(mode, done) {
      asyncOp(mode, asTuple()).then(
        ([ec, n]) => done(ec, ec ? undefined : n),
        () => done(error.invalidArgument, 'asTuple must not reject'),
      );
      return {};
    },
  },
  {
    name: 'redirectError',
    cancellable: false,
    start(mode, done) {
      const ref: ErrorRef = {};
      asyncOp(
        mode,
        redirectError((ec: ErrorCode | null, n: number) => {
          expect(ec).toBeNull();
          done(ref.ec ?? null, ref.ec ? undefined : n);
        }, ref),
      );
      return {};
    },
  },
  {
    name: 'consign',
    cancellable: false,
    start(mode, done) {
      asyncOp(
        mode,
        consign((ec: ErrorCode | null, n: number) => done(ec, ec ? undefined : n), { keepAlive: true }),
      );
      return {};
    },
  },
  {
    name: 'append',
    cancellable: false,
    start(mode, done) {
      asyncOp(
        mode,
        append((ec: ErrorCode | null, n: number, extra: string) => {
          expect(extra).toBe('x');
          done(ec, ec ? undefined : n);
        }, 'x'),
      );
      return {};
    },
  },
  {
    name: 'prepend',
    cancellable: false,
    start(mode, done) {
      asyncOp(
        mode,
        prepend((ec: ErrorCode | null, extra: string, n: number) => {
          expect(extra).toBe('p');
          done(ec, ec ? undefined : n);
        }, 'p'),
      );
      return {};
    },
  },
];

function run(c: TokenCase, mode: Mode, cancel?: 'before' | 'after' | 'during'): Promise<Outcome> {
  return new Promise((resolve) => {
    const out: Outcome = { ec: null, value: undefined, calls: 0, inline: false };
    let returned = false;
    let settled = false;
    const done = (ec: ErrorCode | null, value: unknown) => {
      out.calls++;
      if (!returned) out.inline = true;
      out.ec = ec;
      out.value = value;
      if (!settled) {
        settled = true;
        // Wait a little to catch a second invocation.
        setTimeout(() => resolve(out), 10);
      }
    };
    const h = c.start(mode, done);
    returned = true;
    if (cancel === 'during') h.cancel?.();
    if (cancel === 'after') setTimeout(() => h.cancel?.(), 20);
  });
}

describe.each(cases)('token $name', (c) => {
  it.each<Mode>(['immediate', 'later'])(
    'completes (%s): once, never inline, with the value',
    async (mode) => {
      const out = await run(c, mode);
      expect(out).toEqual({ ec: null, value: 42, calls: 1, inline: false });
    },
  );

  it.each<Mode>(['fail', 'failLater'])(
    'fails (%s): once, never inline, with the error code',
    async (mode) => {
      const out = await run(c, mode);
      expect(out.calls).toBe(1);
      expect(out.inline).toBe(false);
      expect(out.ec).toBe(mode === 'fail' ? error.invalidArgument : error.eof);
    },
  );
});

describe.each(cases.filter((c) => c.cancellable))('cancellable token $name', (c) => {
  it('is cancelled while pending: completes once with operationAborted', async () => {
    const out = await run(c, 'pending', 'during');
    expect(out.calls).toBe(1);
    expect(out.inline).toBe(false);
    expect(out.ec).toBe(error.operationAborted);
  });

  it('a cancellation after completion is a no-op', async () => {
    const out = await new Promise<Outcome>((resolve) => {
      const o: Outcome = { ec: null, value: undefined, calls: 0, inline: false };
      const h = c.start('immediate', (ec, v) => {
        o.calls++;
        o.ec = ec;
        o.value = v;
        setTimeout(() => {
          if (c.name !== 'useObservable') h.cancel?.();
          setTimeout(() => resolve(o), 20);
        }, 1);
      });
    });
    expect(out).toMatchObject({ ec: null, value: 42, calls: 1 });
  });
});

describe('cancellation specifics', () => {
  it('an already-aborted signal completes with operationAborted without starting, never inline', async () => {
    const ctrl = new AbortController();
    ctrl.abort();
    let started = false;
    let returned = false;
    let inline = false;
    const p = asyncInitiate<[], [], ReturnType<typeof withAbortSignal>>(() => {
      started = true;
    }, withAbortSignal(ctrl.signal));
    const r = (p as Promise<void>).catch((e: SystemError) => {
      inline = !returned;
      return e.code;
    });
    returned = true;
    expect(await r).toBe(error.operationAborted);
    expect(started).toBe(false);
    expect(inline).toBe(false);
  });

  it('one signal for many concurrent operations: no listener-leak warning, abort cancels them all, completed ones are forgotten', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on('warning', onWarning);
    try {
      const ctrl = new AbortController();
      // Twenty that complete on their own, then twenty left pending and aborted together.
      const done = await Promise.all(
        Array.from({ length: 20 }, () => asyncOp('later', withAbortSignal(ctrl.signal))),
      );
      expect(done).toEqual(Array(20).fill(42));
      const pending = Array.from({ length: 20 }, () =>
        asyncOp('pending', withAbortSignal(ctrl.signal)).catch((e: SystemError) => e.code),
      );
      ctrl.abort();
      expect(await Promise.all(pending)).toEqual(Array(20).fill(error.operationAborted));
      await new Promise((r) => setImmediate(r));
      expect(warnings.filter((n) => n === 'MaxListenersExceededWarning')).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('cancelAfter cancels a pending operation and clears its timer on completion', async () => {
    await expect(asyncOp('pending', cancelAfter(5))).rejects.toMatchObject({ code: error.operationAborted });
    await expect(asyncOp('later', cancelAfter(1000))).resolves.toBe(42);
  });

  it('an Observable with no subscriber starts nothing; each subscription starts a new operation', async () => {
    let starts = 0;
    const obs = asyncInitiate<[number], [], typeof useObservable>((h) => {
      starts++;
      h(null, starts);
    }, useObservable);
    await new Promise((r) => setTimeout(r, 5));
    expect(starts).toBe(0);
    const got: number[] = [];
    await new Promise<void>((r) => obs.subscribe({ next: (v) => got.push(v), complete: r }));
    await new Promise<void>((r) => obs.subscribe({ next: (v) => got.push(v), complete: r }));
    expect(got).toEqual([1, 2]);
  });

  it('unsubscribing before completion emits a terminal cancellation', async () => {
    let seen = 0;
    const obs = asyncInitiate<[], [], typeof useObservable>((h) => {
      getAssociatedCancellationSlot(h)?.assign((t) => {
        seen = t;
        h(error.operationAborted);
      });
    }, useObservable);
    obs.subscribe().unsubscribe();
    expect(seen).toBe(cancellationType.terminal);
  });
});

describe('associated executor', () => {
  it('a handler bound to a strand runs inside the strand', async () => {
    const ioc = new IoContext();
    const strand = makeStrand(ioc);
    let inside = false;
    asyncOp(
      'immediate',
      bindExecutor(strand, (_ec: ErrorCode | null) => {
        inside = strand.runningInThisThread();
      }),
    );
    asyncOp(
      'immediate',
      bindExecutor(strand, (_ec: ErrorCode | null) => {
        inside &&= strand.runningInThisThread();
      }),
    );
    await ioc.run();
    expect(inside).toBe(true);
  });

  it('bindExecutor wraps token objects too', async () => {
    const ioc = new IoContext();
    const p = asyncOp('later', bindExecutor(ioc.getExecutor(), usePromise));
    let resolved = false;
    p.then(() => {
      resolved = true;
    });
    await new Promise((r) => setTimeout(r, 20));
    expect(resolved).toBe(false); // the completion waits in the context's queue
    expect(ioc.poll()).toBe(1);
    expect(await p).toBe(42);
  });
});

describe('the promise token settles without a queue trip on the default executor', () => {
  it('resolves during the completion, yet the awaiting code still resumes only after the initiating call returned', async () => {
    const log: string[] = [];
    const p = asyncOp('immediate').then((v) => log.push(`resumed ${v}`));
    log.push('after initiation');
    await p;
    expect(log).toEqual(['after initiation', 'resumed 42']);
  });

  it('with an IoContext executor it is posted as before: nothing resolves until the context runs', async () => {
    const ioc = new IoContext();
    let resolved = false;
    const p = asyncInitiate<[number], []>(
      { executor: ioc.getExecutor(), initiate: (h) => h(null, 7) },
      usePromise,
    ).then((v) => {
      resolved = true;
      return v;
    });
    for (let i = 0; i < 5; i++) await Promise.resolve();
    await new Promise((r) => setImmediate(r));
    expect(resolved).toBe(false);
    ioc.poll();
    expect(await p).toBe(7);
    expect(resolved).toBe(true);
  });
});

describe('deferred chaining', () => {
  it('chains operations and starts only when given a token', async () => {
    let started = 0;
    const op = (n: number) =>
      asyncInitiate<[number], [], typeof deferred>((h) => {
        started++;
        h(null, n + 1);
      }, deferred);
    const chained = op(1)
      .chain((_ec, n) => op(n))
      .chain((_ec, n) => op(n));
    expect(started).toBe(0);
    expect(await chained()).toBe(4);
    expect(started).toBe(3);
  });
});

describe('type inference', () => {
  it('gives Promise<T> and Observable<T> without annotations', () => {
    expectTypeOf(asyncOp('immediate')).toEqualTypeOf<Promise<number>>();
    expectTypeOf(asyncOp('immediate', usePromise)).toEqualTypeOf<Promise<number>>();
    expectTypeOf(asyncOp('immediate', useObservable)).toMatchTypeOf<{ subscribe: unknown }>();
    expectTypeOf(asyncOp('immediate', asTuple())).toEqualTypeOf<Promise<[ErrorCode | null, number]>>();
    expectTypeOf(
      asyncOp('immediate', (_ec, n) => expectTypeOf(n).toEqualTypeOf<number>()),
    ).toEqualTypeOf<void>();
    expectTypeOf(asyncOp('immediate', withAbortSignal(new AbortController().signal))).toEqualTypeOf<
      Promise<number>
    >();
    // The promise token rejects with a SystemError carrying the code.
    return asyncOp('fail').catch((e: unknown) => {
      expect(e).toBeInstanceOf(SystemError);
      expect((e as SystemError).code).toBe(error.invalidArgument);
    });
  });
});
