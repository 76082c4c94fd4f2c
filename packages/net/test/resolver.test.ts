import {
  asTuple,
  bindCancellationSlot,
  CancellationSignal,
  cancellationType,
  type ErrorCode,
  error,
  useObservable,
} from '@tsio/completion-token';
import { firstValueFrom } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { Endpoint } from '../src/endpoint.js';
import { Resolver } from '../src/resolver.js';

describe('Resolver', () => {
  it('resolves localhost with a promise', async () => {
    const r = new Resolver();
    const eps = await r.asyncResolve('localhost', 8080);
    expect(eps.length).toBeGreaterThan(0);
    for (const ep of eps) {
      expect(ep.port()).toBe(8080);
      expect(ep.address().isLoopback()).toBe(true);
    }
  });

  it('resolves an address literal and a service name with a callback, never inline', async () => {
    const r = new Resolver();
    let inline = true;
    const [ec, eps] = await new Promise<[ErrorCode | null, Endpoint[]]>((resolve) => {
      r.asyncResolve('127.0.0.1', 'http', (e, x) => resolve([e, x]));
      inline = false;
    });
    expect(inline).toBe(false);
    expect(ec).toBeNull();
    expect(eps.map(String)).toEqual(['127.0.0.1:80']);
  });

  it('resolves with an observable, numeric string ports included', async () => {
    const eps = await firstValueFrom(new Resolver().asyncResolve('::1', '443', useObservable));
    expect(eps.map(String)).toEqual(['[::1]:443']);
  });

  it('reports an unknown service and an unknown host', async () => {
    const r = new Resolver();
    expect((await r.asyncResolve('127.0.0.1', 'no-such-service', asTuple()))[0]).toBe(error.invalidArgument);
    // The .invalid TLD never resolves (RFC 2606); the system resolver answers without the network.
    const [ec] = await r.asyncResolve('nothing.invalid', 80, asTuple());
    expect(ec).not.toBeNull();
  });

  it('cancel() and per-operation cancellation complete with operationAborted', async () => {
    const r = new Resolver();
    const p = r.asyncResolve('localhost', 80, asTuple());
    r.cancel();
    expect((await p)[0]).toBe(error.operationAborted);
    const signal = new CancellationSignal();
    const q = r.asyncResolve('localhost', 80, bindCancellationSlot(signal.slot(), asTuple()));
    signal.emit(cancellationType.total);
    expect((await q)[0]).toBe(error.operationAborted);
  });
});
