import { error, SystemError } from '@tsio/completion-token';
import { describe, expect, it } from 'vitest';
import { Address, addressV4, addressV6, Endpoint, makeAddress, tcp } from '../src/endpoint.js';
import { ip } from '../src/ip.js';
import { socketBase } from '../src/socket-base.js';

describe('makeAddress', () => {
  it('parses IPv4 and IPv6 and rejects anything else with invalidArgument', () => {
    expect(makeAddress('127.0.0.1').isV4()).toBe(true);
    expect(makeAddress('::1').isV6()).toBe(true);
    expect(makeAddress('::1').isLoopback()).toBe(true);
    expect(makeAddress('0.0.0.0').isUnspecified()).toBe(true);
    for (const bad of ['localhost', '256.0.0.1', '', '[::1]', '1.2.3']) {
      let thrown: unknown;
      try {
        makeAddress(bad);
      } catch (e) {
        thrown = e;
      }
      expect(thrown).toBeInstanceOf(SystemError);
      expect((thrown as SystemError).code).toBe(error.invalidArgument);
    }
    expect(addressV4.loopback().toString()).toBe('127.0.0.1');
    expect(addressV6.any().toString()).toBe('::');
    expect(new Address('10.0.0.1').equals(makeAddress('10.0.0.1'))).toBe(true);
  });
});

describe('Endpoint', () => {
  it('has address, port and protocol, compared by identity as in Asio', () => {
    const ep = new Endpoint(makeAddress('127.0.0.1'), 8080);
    expect(ep.address().toString()).toBe('127.0.0.1');
    expect(ep.port()).toBe(8080);
    expect(ep.protocol()).toBe(tcp.v4());
    expect(ep.protocol().family()).toBe('v4');
    expect(new Endpoint('::1', 1).protocol()).toBe(tcp.v6());
    expect(new Endpoint('::1', 1).toString()).toBe('[::1]:1');
    expect(ep.toString()).toBe('127.0.0.1:8080');
    expect(ep.equals(new Endpoint('127.0.0.1', 8080))).toBe(true);
  });

  it('built from a protocol is the wildcard address', () => {
    expect(new Endpoint(tcp.v4(), 80).address().toString()).toBe('0.0.0.0');
    expect(new Endpoint(tcp.v6(), 80).address().toString()).toBe('::');
  });

  it('rejects bad ports', () => {
    expect(() => new Endpoint('127.0.0.1', 70000)).toThrow(SystemError);
    expect(() => new Endpoint('127.0.0.1', 1.5)).toThrow(SystemError);
  });
});

describe('ip namespace and socketBase', () => {
  it('exposes Asio paths', () => {
    expect(ip.tcp.v4()).toBe(tcp.v4());
    const ep: ip.tcp.Endpoint = new ip.tcp.Endpoint(ip.makeAddress('127.0.0.1'), 1);
    expect(ep.port()).toBe(1);
    expect(typeof ip.tcp.Acceptor).toBe('function');
    expect(typeof ip.tcp.Resolver).toBe('function');
    expect(socketBase.reuseAddress(true)).toEqual({ name: 'reuseAddress', value: true });
    expect(socketBase.maxListenConnections).toBeGreaterThan(0);
    expect([socketBase.shutdownSend, socketBase.shutdownReceive, socketBase.shutdownBoth]).toEqual([
      'send',
      'receive',
      'both',
    ]);
  });
});
