import { execFileSync } from 'node:child_process';
import { type AddressInfo, connect, createServer } from 'node:net';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  DRAIN_BUDGET,
  defaultExecutor,
  defer,
  dispatch,
  IoContext,
  makeStrand,
  makeWorkGuard,
  post,
  systemContext,
} from '../src/index.js';

const tick = () => new Promise<void>((r) => setImmediate(r));

describe('default executor', () => {
  it('post never runs the handler before it returns', async () => {
    const ex = defaultExecutor();
    let ran = false;
    ex.post(() => {
      ran = true;
    });
    expect(ran).toBe(false);
    await tick();
    expect(ran).toBe(true);
  });

  it('keeps FIFO order across post, defer and free functions', async () => {
    const ex = defaultExecutor();
    const order: number[] = [];
    for (let i = 0; i < 5000; i++) {
      if (i % 3 === 0) ex.post(() => order.push(i));
      else if (i % 3 === 1) defer(ex, () => order.push(i));
      else post(() => order.push(i));
    }
    // FIFO: a handler posted last runs after all of them, across drain budgets.
    await new Promise<void>((r) => ex.post(r));
    expect(order).toEqual(Array.from({ length: 5000 }, (_, i) => i));
  });

  it('dispatch runs inline exactly when running inside the executor', async () => {
    const ex = defaultExecutor();
    const log: string[] = [];
    expect(ex.runningInThisThread()).toBe(false);
    ex.dispatch(() => log.push('outside'));
    expect(log).toEqual([]); // not inside: behaves like post
    await new Promise<void>((done) => {
      ex.post(() => {
        expect(ex.runningInThisThread()).toBe(true);
        dispatch(ex, () => log.push('inline'));
        log.push('after');
        done();
      });
    });
    expect(log).toEqual(['outside', 'inline', 'after']);
  });

  it('yields to I/O: a chain of posts does not block an incoming TCP message beyond the budget', async () => {
    const server = createServer((s) => s.end('x'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const ex = defaultExecutor();
    let handlersRun = 0;
    let handlersWhenDataArrived = -1;
    let stop = false;
    const chain = () => {
      handlersRun++;
      if (!stop && handlersRun < 20_000_000) ex.post(chain);
    };
    const client = connect(port, '127.0.0.1');
    const got = new Promise<void>((resolve) =>
      client.on('data', () => {
        handlersWhenDataArrived = handlersRun;
        stop = true;
        resolve();
      }),
    );
    await new Promise<void>((r) => client.on('connect', () => r()));
    const before = handlersRun;
    const yieldsBefore = systemContext.yields;
    ex.post(chain);
    await got;
    client.destroy();
    server.close();
    // The data event was delivered while the chain was still running (it never stops on its own
    // for 20M handlers), and the executor yielded to the event loop at most every DRAIN_BUDGET handlers.
    expect(handlersWhenDataArrived).toBeGreaterThanOrEqual(before);
    expect(handlersWhenDataArrived).toBeLessThan(20_000_000);
    const yields = systemContext.yields - yieldsBefore;
    expect(handlersWhenDataArrived - before).toBeLessThanOrEqual((yields + 1) * DRAIN_BUDGET);
  });

  it('a throwing handler is an uncaught exception (not a rejection), and the queue goes on', () => {
    // In a child process: an uncaught exception is the behaviour under test,
    // and vitest would report one in its own process as a failure.
    const dist = pathToFileURL(fileURLToPath(new URL('../dist/index.js', import.meta.url))).href;
    const script = `
      const { defaultExecutor } = await import(${JSON.stringify(dist)});
      const log = [];
      process.on('uncaughtException', (e) => log.push('uncaught:' + e.message));
      process.on('unhandledRejection', (e) => log.push('rejection:' + e.message));
      const ex = defaultExecutor();
      ex.post(() => log.push('a'));
      ex.post(() => { throw new Error('boom'); });
      ex.post(() => log.push('b'));
      setTimeout(() => { ex.post(() => log.push('c')); setTimeout(() => console.log(JSON.stringify(log)), 20); }, 20);
    `;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual(['a', 'uncaught:boom', 'b', 'c']);
  });
});

describe('IoContext', () => {
  it('post queues until run; run resolves with the count once out of work', async () => {
    const ioc = new IoContext();
    const log: number[] = [];
    post(ioc, () => log.push(1));
    ioc.getExecutor().post(() => {
      log.push(2);
      post(ioc, () => log.push(3));
    });
    await tick();
    expect(log).toEqual([]);
    expect(await ioc.run()).toBe(3);
    expect(log).toEqual([1, 2, 3]);
    expect(ioc.stopped()).toBe(true);
  });

  it('run does not resolve while a work guard or outstanding work exists', async () => {
    const ioc = new IoContext();
    const guard = makeWorkGuard(ioc);
    let resolved = false;
    const running = ioc.run().then((n) => {
      resolved = true;
      return n;
    });
    for (let i = 0; i < 5; i++) await tick();
    expect(resolved).toBe(false);
    // Outstanding work counted by an operation in progress keeps it too.
    const ex = ioc.getExecutor();
    ex.onWorkStarted();
    guard.reset();
    for (let i = 0; i < 5; i++) await tick();
    expect(resolved).toBe(false);
    setTimeout(() => {
      ex.post(() => undefined);
      ex.onWorkFinished();
    }, 5);
    expect(await running).toBe(1);
    expect(resolved).toBe(true);
  });

  it('stop makes run return early, queued handlers are kept, restart allows running again', async () => {
    const ioc = new IoContext();
    const log: number[] = [];
    post(ioc, () => {
      log.push(1);
      ioc.stop();
    });
    post(ioc, () => log.push(2));
    expect(await ioc.run()).toBe(1);
    expect(log).toEqual([1]);
    expect(ioc.stopped()).toBe(true);
    post(ioc, () => log.push(3));
    expect(await ioc.run()).toBe(0); // still stopped
    expect(ioc.poll()).toBe(0);
    ioc.restart();
    expect(await ioc.run()).toBe(2);
    expect(log).toEqual([1, 2, 3]);
  });

  it('poll, pollOne and runOne run ready handlers synchronously', () => {
    const ioc = new IoContext();
    const log: number[] = [];
    for (let i = 0; i < 4; i++) post(ioc, () => log.push(i));
    expect(ioc.pollOne()).toBe(1);
    expect(log).toEqual([0]);
    expect(ioc.runOne()).toBe(1);
    expect(ioc.poll()).toBe(2);
    expect(log).toEqual([0, 1, 2, 3]);
    expect(ioc.poll()).toBe(0);
  });

  it('a throwing handler rejects run(); run() again continues with the rest', async () => {
    const ioc = new IoContext();
    const log: number[] = [];
    post(ioc, () => log.push(1));
    post(ioc, () => {
      throw new Error('boom');
    });
    post(ioc, () => log.push(3));
    await expect(ioc.run()).rejects.toThrow('boom');
    expect(log).toEqual([1]);
    expect(await ioc.run()).toBe(1);
    expect(log).toEqual([1, 3]);
  });

  it('dispatch is inline only inside a handler of this context', async () => {
    const ioc = new IoContext();
    const other = new IoContext();
    const log: string[] = [];
    dispatch(ioc, () => log.push('queued'));
    expect(log).toEqual([]);
    post(ioc, () => {
      dispatch(ioc, () => log.push('inline'));
      dispatch(other, () => log.push('other'));
      log.push('end');
    });
    await ioc.run();
    expect(log).toEqual(['queued', 'inline', 'end']);
    expect(other.poll()).toBe(1);
  });

  it('executors compare equal when they target the same context', () => {
    const a = new IoContext();
    const b = new IoContext();
    expect(a.getExecutor().equals(a.getExecutor())).toBe(true);
    expect(a.getExecutor().equals(b.getExecutor())).toBe(false);
    expect(a.getExecutor().context()).toBe(a);
    expect(defaultExecutor().equals(defaultExecutor())).toBe(true);
    expect(defaultExecutor().equals(a.getExecutor())).toBe(false);
  });
});

describe('Strand', () => {
  it('runs handlers FIFO and one at a time; a handler posted while another runs waits', async () => {
    const ioc = new IoContext();
    const strand = makeStrand(ioc);
    const log: string[] = [];
    strand.post(() => {
      log.push('a-start');
      strand.post(() => log.push('c'));
      expect(strand.runningInThisThread()).toBe(true);
      log.push('a-end');
    });
    strand.post(() => log.push('b'));
    expect(strand.runningInThisThread()).toBe(false);
    await ioc.run();
    expect(log).toEqual(['a-start', 'a-end', 'b', 'c']);
  });

  it('dispatch runs inline only when already inside that strand', async () => {
    const ioc = new IoContext();
    const s1 = makeStrand(ioc);
    const s2 = makeStrand(ioc);
    const log: string[] = [];
    post(ioc, () => {
      // inside the context but not inside s1: queued
      s1.dispatch(() => log.push('s1-from-ioc'));
      log.push('ioc');
    });
    s2.post(() => {
      s2.dispatch(() => log.push('s2-inline'));
      s1.dispatch(() => log.push('s1-from-s2'));
      log.push('s2-end');
    });
    await ioc.run();
    expect(log).toEqual(['ioc', 's2-inline', 's2-end', 's1-from-ioc', 's1-from-s2']);
  });

  it('keeps an IoContext running while it has handlers queued and compares by identity', async () => {
    const ioc = new IoContext();
    const strand = makeStrand(ioc.getExecutor());
    let n = 0;
    const step = () => {
      if (++n < 100) strand.post(step);
    };
    strand.post(step);
    await ioc.run();
    expect(n).toBe(100);
    expect(strand.equals(strand)).toBe(true);
    expect(strand.equals(makeStrand(ioc))).toBe(false);
    expect(strand.context()).toBe(ioc);
  });
});

describe('IoContext with async functions', () => {
  it('run() does not end between two awaited steps of an async function', async () => {
    const ioc = new IoContext();
    const ex = ioc.getExecutor();
    // An operation that counts work while pending and completes through the context's queue.
    const op = () =>
      new Promise<void>((resolve) => {
        ex.onWorkStarted();
        setTimeout(() => {
          ex.post(() => resolve());
          ex.onWorkFinished();
        }, 1);
      });
    let steps = 0;
    post(ioc, async () => {
      for (let i = 0; i < 5; i++) {
        await op();
        steps++;
      }
    });
    await ioc.run();
    expect(steps).toBe(5);
  });
});
