import { beast, http, net, websocket } from 'tsio';
import { describe, expect, it } from 'vitest';

describe('beast.bindFrontHandler', () => {
  it('calls the method on self with the bound arguments first, then the completion arguments', () => {
    class Session {
      seen: unknown[] = [];
      onRead(tag: string, ec: net.ErrorCode | null, n: number): void {
        this.seen.push(this, tag, ec, n);
      }
    }
    const s = new Session();
    const h = beast.bindFrontHandler(s.onRead, s, 'tag');
    h(null, 5);
    expect(s.seen).toEqual([s, 'tag', null, 5]);
  });

  it('keeps the executor bound to the handler, so it still completes on the strand', async () => {
    const strand = net.makeStrand(net.defaultExecutor());
    const inStrand = await new Promise<boolean>((resolve) => {
      const onDone = net.bindExecutor(strand, () => resolve(strand.runningInThisThread()));
      net.asyncInitiate<[], []>((handler) => handler(null), beast.bindFrontHandler(onDone, undefined));
    });
    expect(inStrand).toBe(true);
  });
});

describe('net.coSpawn', () => {
  it('keeps IoContext.run() going across the awaits of a coroutine', async () => {
    const ioc = new net.IoContext();
    const steps: string[] = [];
    const result = net.coSpawn(ioc, async () => {
      for (let i = 0; i < 3; i++) {
        // Each await resumes in a microtask after the handler returned: with
        // nothing pending in between, run() would otherwise stop here.
        await net.asyncInitiate<[], []>({ executor: ioc.getExecutor(), initiate: (h) => h(null) }, undefined);
        steps.push(`step ${i}`);
      }
      return 42;
    });
    await ioc.run();
    expect(steps).toEqual(['step 0', 'step 1', 'step 2']);
    await expect(result).resolves.toBe(42);
  });

  it('does not start the coroutine before the context runs, and rejects with its error', async () => {
    const ioc = new net.IoContext();
    let started = false;
    const result = net.coSpawn(ioc, async () => {
      started = true;
      throw new net.SystemError(websocket.error.closed);
    });
    expect(started).toBe(false);
    // Observe the rejection before running, as a caller of co_spawn's token would.
    const rejected = expect(result).rejects.toMatchObject({ code: websocket.error.closed });
    await ioc.run();
    expect(started).toBe(true);
    await rejected;
  });
});

describe('Beast names', () => {
  it('streamBase.timeout.suggested takes beast.roleType', () => {
    const t = websocket.streamBase.timeout.suggested(beast.roleType.server);
    expect(t).toBeInstanceOf(websocket.Timeout);
    expect(t.keepAlivePings).toBe(true);
    expect(websocket.streamBase.timeout.suggested(beast.roleType.client).idleTimeout).toBe(Infinity);
  });

  it('http request and response heads have set(field, value)', () => {
    const req = new http.Request().set(http.field.userAgent, 'x');
    expect(req.get('user-agent')).toBe('x');
    expect(new websocket.responseType().set(http.field.server, 'y').get(http.field.server)).toBe('y');
  });

  it('net.ip.tcp has the acceptor, resolver and endpoint, and the errors compare by identity', () => {
    const ep = new net.ip.tcp.Endpoint(net.ip.makeAddress('127.0.0.1'), 80);
    expect(ep.protocol()).toBe(net.ip.tcp.v4());
    expect(typeof net.ip.tcp.Acceptor.prototype.asyncAccept).toBe('function');
    expect(typeof net.ip.tcp.Resolver.prototype.asyncResolve).toBe('function');
    expect(net.error.operationAborted).toBe(net.error.operationAborted);
    expect(beast.error.timeout.category.name).toBe('beast');
    expect(new beast.test.Stream()).toBeInstanceOf(net.TestStream);
  });
});
