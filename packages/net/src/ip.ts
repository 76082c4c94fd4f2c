import { Acceptor as AcceptorClass } from './acceptor.js';
import {
  Address as AddressClass,
  addressV4 as addressV4Object,
  addressV6 as addressV6Object,
  Endpoint as EndpointClass,
  makeAddress as makeAddressFunction,
  tcp as tcpProtocols,
} from './endpoint.js';
import { Resolver as ResolverClass } from './resolver.js';
import { TcpStream } from './tcp-stream.js';

/**
 * Asio's `ip` namespace, so a port keeps Beast's paths:
 * `new net.ip.tcp.Acceptor(ioc)`, `net.ip.tcp.v4()`, `net.ip.makeAddress(s)`.
 * A TypeScript namespace rather than an object, so that `ip.tcp.Endpoint`
 * is usable as a type as well as a value.
 */
export namespace ip {
  export const makeAddress = makeAddressFunction;
  export type Address = AddressClass;
  export const Address = AddressClass;
  export const addressV4 = addressV4Object;
  export const addressV6 = addressV6Object;

  export namespace tcp {
    export const v4 = tcpProtocols.v4;
    export const v6 = tcpProtocols.v6;
    export type Endpoint = EndpointClass;
    export const Endpoint = EndpointClass;
    export type Acceptor = AcceptorClass;
    export const Acceptor = AcceptorClass;
    export type Resolver = ResolverClass;
    export const Resolver = ResolverClass;
    /** Asio's `tcp::socket`; here the Beast stream plays that role. */
    export type Socket = TcpStream;
    export const Socket = TcpStream;
  }
}
