import { Socket } from 'node:net';
import {
  asTuple,
  bindCancellationSlot,
  CancellationSignal,
  cancellationType,
  type ErrorCode,
  error,
  useObservable,
} from '@tsio/completion-token';
import { IoContext, makeStrand } from '@tsio/executor';
import { firstValueFrom } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { Acceptor } from '../src/acceptor.js';
import { Endpoint, makeAddress, tcp } from '../src/endpoint.js';
import { socketBase } from '../src/socket-base.js';
import { TcpStream } from '../src/tcp-stream.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function client(port: number): Socket {
  const s = new Socket();
  cleanups.push(() => s.destroy());
  s.on('error', () => undefined);
  s.connect(port, '127.0.0.1');
  return s;
}

async function listening(): Promise<Acceptor> {
  // The Beast examples' sequence, on port 0 so tests never collide.
  const acceptor = new Acceptor();
  cleanups.push(() => acceptor.close());
  acceptor.open(tcp.v4());
  acceptor.setOption(socketBase.reuseAddress(true));
  acceptor.bind(new Endpoint(makeAddress('127.0.0.1'), 0));
  acceptor.listen(socketBase.maxListenConnections);
  await acceptor.asyncListen();
  return acceptor;
}

describe('Acceptor', () => {
  it('accepts with a callback, giving a TcpStream that reads and writes', async () => {
    const acceptor = await listening();
    const port = acceptor.localEndpoint().port();
    expect(port).toBeGreaterThan(0);
    const c = client(port);
    const [ec, stream] = await new Promise<[ErrorCode | null, TcpStream]>((resolve) => {
      let inline = true;
      acceptor.asyncAccept((e, s) => {
        expect(inline).toBe(false);
        resolve([e, s]);
      });
      inline = false;
    });
    cleanups.push(() => stream.close());
    expect(ec).toBeNull();
    expect(stream).toBeInstanceOf(TcpStream);
    expect(stream.remoteEndpoint().port()).toBe(c.localPort);
    c.write('hello');
    const buf = Buffer.alloc(16);
    const n = await stream.readSome(buf);
    expect(buf.subarray(0, n).toString()).toBe('hello');
    const echoed = new Promise<string>((resolve) => c.once('data', (d) => resolve(d.toString())));
    await stream.writeSome(buf.subarray(0, n));
    expect(await echoed).toBe('hello');
  });

  it('accepts with a promise and an observable; queues connections that arrive first', async () => {
    const acceptor = await listening();
    const port = acceptor.localEndpoint().port();
    client(port).write('a');
    client(port).write('b');
    await new Promise((r) => setTimeout(r, 50));
    const s1 = await acceptor.asyncAccept();
    const s2 = await firstValueFrom(acceptor.asyncAccept(useObservable));
    cleanups.push(
      () => s1.close(),
      () => s2.close(),
    );
    const got: string[] = [];
    for (const s of [s1, s2]) {
      const b = Buffer.alloc(4);
      const n = await s.readSome(b);
      got.push(b.subarray(0, n).toString());
    }
    expect(got.sort()).toEqual(['a', 'b']);
  });

  it('gives the accepted stream the executor passed to asyncAccept', async () => {
    const acceptor = await listening();
    const strand = makeStrand(acceptor.getExecutor());
    client(acceptor.localEndpoint().port());
    const s = await acceptor.asyncAccept(strand);
    cleanups.push(() => s.close());
    expect(s.getExecutor()).toBe(strand);
  });

  it('runs on an IoContext: run() returns once listen, accept and read completed', async () => {
    const ioc = new IoContext();
    const acceptor = new Acceptor(ioc, new Endpoint('127.0.0.1', 0));
    cleanups.push(() => acceptor.close());
    const log: string[] = [];
    acceptor.asyncListen((ec) => {
      log.push(`listen ${ec}`);
      acceptor.asyncAccept((ec2, s) => {
        log.push(`accept ${ec2}`);
        cleanups.push(() => s.close());
        const buf = Buffer.alloc(8);
        s.readSome(buf, (ec3, n) => log.push(`read ${ec3} ${buf.subarray(0, n)}`));
      });
      client(acceptor.localEndpoint().port()).write('x');
    });
    await ioc.run();
    expect(log).toEqual(['listen null', 'accept null', 'read null x']);
  });

  it('the convenience constructor opens, binds and listens', async () => {
    const acceptor = new Acceptor(undefined, new Endpoint('127.0.0.1', 0));
    cleanups.push(() => acceptor.close());
    await acceptor.asyncListen();
    expect(acceptor.isOpen()).toBe(true);
    client(acceptor.localEndpoint().port());
    const s = await acceptor.asyncAccept();
    s.close();
  });

  it('reports addressInUse on the next asyncAccept', async () => {
    const first = await listening();
    const second = new Acceptor();
    cleanups.push(() => second.close());
    second.open(tcp.v4());
    second.bind(first.localEndpoint());
    second.listen();
    const [ec] = await second.asyncAccept(asTuple());
    expect(ec).toBe(error.addressInUse);
    const [ec2] = await second.asyncListen(asTuple());
    expect(ec2).toBe(error.addressInUse);
  });

  it('close() completes pending accepts with operationAborted', async () => {
    const acceptor = await listening();
    const p = acceptor.asyncAccept(asTuple());
    acceptor.close();
    expect((await p)[0]).toBe(error.operationAborted);
    expect(acceptor.isOpen()).toBe(false);
    const [ec] = await acceptor.asyncAccept(asTuple());
    expect(ec).toBe(error.badDescriptor);
  });

  it('per-operation cancellation removes a pending accept', async () => {
    const acceptor = await listening();
    const signal = new CancellationSignal();
    const p = acceptor.asyncAccept(bindCancellationSlot(signal.slot(), asTuple()));
    signal.emit(cancellationType.terminal);
    expect((await p)[0]).toBe(error.operationAborted);
    // The next connection goes to the next accept.
    client(acceptor.localEndpoint().port());
    const s = await acceptor.asyncAccept();
    s.close();
  });

  it('open twice throws alreadyOpen; bind before open throws badDescriptor', () => {
    const a = new Acceptor();
    expect(() => a.bind(new Endpoint('127.0.0.1', 0))).toThrow(/descriptor/i);
    a.open(tcp.v4());
    expect(() => a.open(tcp.v4())).toThrow(/open/i);
    a.close();
  });
});
