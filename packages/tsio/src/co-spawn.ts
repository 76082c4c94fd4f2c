import { type ExecutorOrContext, makeWorkGuard, toExecutor } from '@tsio/executor';

/**
 * Asio's `co_spawn(ex, coroutine, token)` for an `async` function.
 *
 * `fn` is started from a handler posted to `ex` (so, as in Asio, a
 * coroutine spawned on an `IoContext` starts inside `ioc.run()`), and the
 * executor counts the coroutine as outstanding work until it settles.
 *
 * Why it is needed: an `await` continues in a microtask after the handler
 * that resolved the promise has returned, so between two operations of a
 * coroutine no operation is pending and nothing is queued. Without the
 * work counted here, `ioc.run()` would conclude it ran out of work right
 * there and return, leaving the coroutine stranded. (Callbacks do not have
 * the problem: the next operation starts inside the handler.)
 *
 * The completion token of Asio's form becomes the returned promise:
 * `co_spawn(ioc, f(), [](std::exception_ptr e) {...})` is
 * `net.coSpawn(ioc, f).catch((e) => {...})`.
 */
export function coSpawn<R>(ex: ExecutorOrContext, fn: () => Promise<R>): Promise<R> {
  const executor = toExecutor(ex);
  const guard = makeWorkGuard(executor);
  return new Promise<R>((resolve, reject) => {
    executor.post(() => {
      let started: Promise<R>;
      try {
        started = fn();
      } catch (e) {
        guard.reset();
        reject(e);
        return;
      }
      started.then(
        (value) => {
          resolve(value);
          guard.reset();
        },
        (e: unknown) => {
          reject(e);
          guard.reset();
        },
      );
    });
  });
}
