import { isIP } from 'node:net';
import { error, SystemError } from '@tsio/completion-token';

export type ProtocolFamily = 'v4' | 'v6';

/**
 * Asio's `ip::tcp` protocol object. There are exactly two instances, so
 * `endpoint.protocol() === tcp.v4()` holds as `==` does in Asio.
 */
export class TcpProtocol {
  /** @internal */
  static readonly V4: TcpProtocol = new TcpProtocol('v4');
  /** @internal */
  static readonly V6: TcpProtocol = new TcpProtocol('v6');

  private constructor(private readonly fam: ProtocolFamily) {}

  /** `'v4'` or `'v6'`; Asio's `family()` returns `AF_INET`/`AF_INET6`, which Node has no use for. */
  family(): ProtocolFamily {
    return this.fam;
  }

  /** The family number Node's `net` and `dns` APIs take (4 or 6). */
  familyNumber(): 4 | 6 {
    return this.fam === 'v4' ? 4 : 6;
  }

  toString(): string {
    return `tcp.${this.fam}`;
  }
}

/** The protocol factories of Asio's `ip::tcp`. */
export const tcp = {
  v4(): TcpProtocol {
    return TcpProtocol.V4;
  },
  v6(): TcpProtocol {
    return TcpProtocol.V6;
  },
} as const;

/** Asio's `ip::address`: a validated IPv4 or IPv6 address. */
export class Address {
  private readonly fam: ProtocolFamily;

  /** Throws a `SystemError` (`invalidArgument`) when `text` is not an IP address; see `makeAddress`. */
  constructor(private readonly text: string) {
    const kind = isIP(text);
    if (kind === 0) throw new SystemError(error.invalidArgument, `not an IP address: '${text}'`);
    this.fam = kind === 4 ? 'v4' : 'v6';
  }

  isV4(): boolean {
    return this.fam === 'v4';
  }

  isV6(): boolean {
    return this.fam === 'v6';
  }

  family(): ProtocolFamily {
    return this.fam;
  }

  isLoopback(): boolean {
    return this.fam === 'v4' ? this.text.startsWith('127.') : this.text === '::1';
  }

  isUnspecified(): boolean {
    return this.text === '0.0.0.0' || this.text === '::';
  }

  equals(other: Address): boolean {
    return other.text === this.text;
  }

  /** Asio's `to_string()`. */
  toString(): string {
    return this.text;
  }
}

/**
 * Asio's `ip::make_address`: parses an IPv4 or IPv6 address, throwing a
 * `SystemError` with `invalidArgument` when it is neither (Asio's throwing
 * overload; pass a string straight to `Endpoint` to get the same check).
 */
export function makeAddress(text: string): Address {
  return new Address(text);
}

/** Asio's `ip::address_v4` static constructors. */
export const addressV4 = {
  any: (): Address => new Address('0.0.0.0'),
  loopback: (): Address => new Address('127.0.0.1'),
  broadcast: (): Address => new Address('255.255.255.255'),
} as const;

/** Asio's `ip::address_v6` static constructors. */
export const addressV6 = {
  any: (): Address => new Address('::'),
  loopback: (): Address => new Address('::1'),
} as const;

function checkPort(port: number): number {
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new SystemError(error.invalidArgument, `not a port number: ${String(port)}`);
  }
  return port;
}

/**
 * Asio's `ip::tcp::endpoint`: an address and a port. `new Endpoint(tcp.v4(), port)`
 * is the wildcard address of that protocol, as in Asio.
 */
export class Endpoint {
  private readonly addr: Address;
  private readonly portNumber: number;

  constructor(address: Address | string | TcpProtocol, port: number) {
    if (address instanceof TcpProtocol) {
      this.addr = address === TcpProtocol.V4 ? addressV4.any() : addressV6.any();
    } else {
      this.addr = typeof address === 'string' ? new Address(address) : address;
    }
    this.portNumber = checkPort(port);
  }

  address(): Address {
    return this.addr;
  }

  port(): number {
    return this.portNumber;
  }

  protocol(): TcpProtocol {
    return this.addr.isV4() ? TcpProtocol.V4 : TcpProtocol.V6;
  }

  equals(other: Endpoint): boolean {
    return other.portNumber === this.portNumber && other.addr.equals(this.addr);
  }

  /** `127.0.0.1:80` or `[::1]:80`, as Asio prints endpoints. */
  toString(): string {
    return this.addr.isV6() ? `[${this.addr}]:${this.portNumber}` : `${this.addr}:${this.portNumber}`;
  }
}
