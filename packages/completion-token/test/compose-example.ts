import {
  type AsyncResult,
  asyncCompose,
  asyncInitiate,
  type CompletionToken,
  cancellationType,
  type DefaultToken,
  error,
  getAssociatedCancellationSlot,
} from '@tsio/completion-token';

/** A primitive operation: waits `ms` milliseconds; terminal cancellation completes it with operationAborted. */
export function asyncWait<T extends CompletionToken<[]> = DefaultToken<[]>>(
  ms: number,
  token?: T,
): AsyncResult<T, []> {
  return asyncInitiate<[], [], T>((handler) => {
    const timer = setTimeout(() => handler(null), ms);
    getAssociatedCancellationSlot(handler)?.assign((type) => {
      if (type & cancellationType.terminal) {
        clearTimeout(timer);
        handler(error.operationAborted);
      }
    });
  }, token);
}

/**
 * A composed operation: waits `times` times, then completes with how many
 * waits finished. Written once, it works with every token.
 */
export function asyncWaitTimes<T extends CompletionToken<[number]> = DefaultToken<[number]>>(
  ms: number,
  times: number,
  token?: T,
): AsyncResult<T, [number]> {
  let done = 0;
  return asyncCompose<[number], T>((self, ec) => {
    if (ec) return self.complete(ec, done); // a step failed or was cancelled
    if (self.cancelled()) return self.complete(error.operationAborted, done);
    if (ec === null) done++; // re-entered after a wait: count it
    if (done === times) return self.complete(null, done);
    asyncWait(ms, self); // `self` is the handler of the next step
  }, token);
}
