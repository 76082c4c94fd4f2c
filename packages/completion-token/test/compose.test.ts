import { readFileSync } from 'node:fs';
import { IoContext } from '@tsio/executor';
import { firstValueFrom } from 'rxjs';
import { describe, expect, it } from 'vitest';
import {
  asTuple,
  asyncCompose,
  type ErrorCode,
  error,
  type SystemError,
  useObservable,
  withAbortSignal,
} from '../src/index.js';
import { asyncWaitTimes } from './compose-example.js';

describe('asyncCompose', () => {
  it('the docs example works unchanged with every token', async () => {
    // callback
    const viaCallback = await new Promise<[ErrorCode | null, number]>((resolve) => {
      asyncWaitTimes(1, 3, (ec, n) => resolve([ec, n]));
    });
    expect(viaCallback).toEqual([null, 3]);
    // promise (default)
    expect(await asyncWaitTimes(1, 3)).toBe(3);
    // observable
    expect(await firstValueFrom(asyncWaitTimes(1, 2, useObservable))).toBe(2);
    // AbortSignal: cancel during the second wait
    const ctrl = new AbortController();
    const p = asyncWaitTimes(30, 5, withAbortSignal(ctrl.signal, asTuple()));
    setTimeout(() => ctrl.abort(), 45);
    const [ec, n] = await p;
    expect(ec).toBe(error.operationAborted);
    expect(n).toBe(1);
  });

  it('the example in docs/tokens.md is the tested file', () => {
    const doc = readFileSync(new URL('../../../docs/tokens.md', import.meta.url), 'utf8');
    const code = readFileSync(new URL('./compose-example.ts', import.meta.url), 'utf8');
    expect(doc).toContain(code.trim());
  });

  it('completion inside the initiating call is posted, later completion is dispatched', async () => {
    const ioc = new IoContext();
    const ex = ioc.getExecutor();
    const log: string[] = [];
    asyncCompose<[]>(
      (self) => {
        self.complete(null);
        log.push('after complete');
      },
      () => log.push('handler'),
      ex,
    );
    expect(log).toEqual(['after complete']);
    ex.post(() => {
      // Completing from inside the executor after initiation: the handler runs inline (dispatch).
      let stage = 0;
      asyncCompose<[]>(
        (self, ec) => {
          if (stage++ === 0) {
            ex.post(() => self(ec ?? null));
            return;
          }
          self.complete(null);
          log.push('after late complete');
        },
        () => log.push('late handler'),
        ex,
      );
    });
    await ioc.run();
    expect(log).toEqual(['after complete', 'handler', 'late handler', 'after late complete']);
  });

  it('counts work on the io objects: IoContext.run waits for the composed operation', async () => {
    const ioc = new IoContext();
    let completed = false;
    asyncCompose<[]>(
      (self) => {
        setTimeout(() => self.complete(null), 20);
      },
      () => {
        completed = true;
      },
      ioc,
    );
    expect(ioc.getExecutor().context()).toBe(ioc);
    expect(ioc.outstandingWork()).toBe(1);
    await ioc.run();
    expect(completed).toBe(true);
    expect(ioc.outstandingWork()).toBe(0);
  });

  it('rejects with a SystemError for the promise token', async () => {
    await expect(asyncCompose<[]>((self) => self.complete(error.eof), undefined)).rejects.toSatisfy(
      (e: SystemError) => e.code === error.eof,
    );
  });
});
