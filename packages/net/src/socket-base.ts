/**
 * Asio's `socket_base`: the options and constants Beast examples pass to
 * sockets and acceptors.
 */

/** How `shutdown` closes a connection (Asio's `socket_base::shutdown_type`). */
export type ShutdownType = 'send' | 'receive' | 'both';

/** A socket option value, as `setOption` takes it. */
export interface SocketOption<N extends string = string, V = unknown> {
  readonly name: N;
  readonly value: V;
}

export type ReuseAddress = SocketOption<'reuseAddress', boolean>;
export type KeepAlive = SocketOption<'keepAlive', boolean>;

export const socketBase = {
  /**
   * `SO_REUSEADDR`. Node sets it on every listening socket on Unix, so on an
   * acceptor this is recorded and accepted but changes nothing there.
   */
  reuseAddress(value: boolean): ReuseAddress {
    return { name: 'reuseAddress', value };
  },
  /** `SO_KEEPALIVE`; applied with `socket.setKeepAlive`. */
  keepAlive(value: boolean): KeepAlive {
    return { name: 'keepAlive', value };
  },
  /**
   * The backlog Asio passes by default (`SOMAXCONN`, 4096 on current Linux).
   * The kernel caps it at `net.core.somaxconn`; `Acceptor` also uses it as the
   * bound of its queue of accepted connections nobody has asked for yet.
   */
  maxListenConnections: 4096 as number,
  shutdownSend: 'send' as ShutdownType,
  shutdownReceive: 'receive' as ShutdownType,
  shutdownBoth: 'both' as ShutdownType,
} as const;
