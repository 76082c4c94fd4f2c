import type { Role } from './impl.js';

/**
 * Beast's `stream_base::timeout` (stream_base.hpp). Durations in
 * milliseconds; `Infinity` is Beast's `none()`.
 */
export class Timeout {
  constructor(
    /** Bounds the opening handshake and, while closing, the closing handshake. */
    public handshakeTimeout = Number.POSITIVE_INFINITY,
    /** Time without any received data before the connection is considered dead. */
    public idleTimeout = Number.POSITIVE_INFINITY,
    /** Send a ping after half the idle time; time out only if the second half passes too. */
    public keepAlivePings = false,
  ) {}

  /** Beast's `timeout::none()`. */
  static none(): number {
    return Number.POSITIVE_INFINITY;
  }

  /** Beast's `timeout::suggested(role)`: client 30 s handshake; server 30 s, 300 s idle, keep-alive. */
  static suggested(role: Role): Timeout {
    return role === 'client'
      ? new Timeout(30_000, Number.POSITIVE_INFINITY, false)
      : new Timeout(30_000, 300_000, true);
  }
}

/** The per-stream settings behind Beast's setters (`auto_fragment`, `binary`, `read_message_max`, ...). */
export interface StreamOptions {
  autoFragment: boolean;
  binary: boolean;
  readMessageMax: number;
  writeBufferBytes: number;
  /** Size of the buffer frames are read into from the next layer. */
  readBufferBytes: number;
  /** Largest HTTP head accepted during the handshake (request on a server, response on a client). */
  handshakeHeadLimit: number;
  timeout: Timeout;
}

export function defaultOptions(): StreamOptions {
  return {
    // Beast's defaults (stream.hpp): fragment at 4096 bytes, text, 16 MiB messages.
    autoFragment: true,
    binary: false,
    readMessageMax: 16 * 1024 * 1024,
    writeBufferBytes: 4096,
    readBufferBytes: 16 * 1024,
    handshakeHeadLimit: 8192,
    timeout: new Timeout(),
  };
}
