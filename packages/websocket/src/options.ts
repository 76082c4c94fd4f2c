import type { RequestType, ResponseType } from './detail/handshake.js';
import { isToken } from './detail/http-fields.js';
import { defaultPmdOptions, type PmdOptions } from './detail/pmd.js';
import type { ControlCallback, Refusal, Role } from './impl.js';

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

/** Beast's `stream_base::decorator`: called on the request (client) or the response (server) before it is sent. */
export class Decorator {
  constructor(readonly fn: (message: RequestType | ResponseType) => void) {}
}

/** The per-stream settings behind Beast's setters (`auto_fragment`, `binary`, `read_message_max`, ...). */
export interface StreamOptions {
  readMessageMax: number;
  writeBufferBytes: number;
  /** Size of the buffer frames are read into from the next layer. */
  readBufferBytes: number;
  /** Largest HTTP head accepted during the handshake (request on a server, response on a client). */
  handshakeHeadLimit: number;
  timeout: Timeout;
  permessageDeflate: PermessageDeflate;
  // The handshake options below are null unless set: kept here rather than in
  // fields of every Stream, since most streams never set them (the options
  // object is shared until one is changed).
  decorator: Decorator | null;
  subprotocols: Subprotocols | null;
  requestFilter: RequestFilter | null;
  /** Beast's `control_callback`: told of every ping, pong and close frame received. */
  controlCallback: ControlCallback | null;
}

export function defaultOptions(): StreamOptions {
  return {
    // Beast's defaults (stream.hpp): 16 MiB messages, 4096-byte frames
    // (text and autoFragment are StreamImpl flags).
    readMessageMax: 16 * 1024 * 1024,
    writeBufferBytes: 4096,
    readBufferBytes: 16 * 1024,
    handshakeHeadLimit: 8192,
    // Shared until the stream's own copy is asked for (Stream.getOption) or
    // replaced (setOption): two objects fewer per connection.
    timeout: sharedDefaultTimeout,
    permessageDeflate: sharedDefaultPmd,
    decorator: null,
    subprotocols: null,
    requestFilter: null,
    controlCallback: null,
  };
}

let shared: Readonly<StreamOptions> | null = null;

/** The options of every stream that has not changed one: frozen, so a missed copy throws instead of leaking. */
export function sharedOptions(): StreamOptions {
  shared ??= Object.freeze(defaultOptions());
  return shared as StreamOptions;
}

let sharedDefaultTimeout: Timeout;
let sharedDefaultPmd: PermessageDeflate;

/** True for the default option objects every stream shares until it needs its own. */
export function isSharedDefault(o: object): boolean {
  return o === sharedDefaultTimeout || o === sharedDefaultPmd;
}

/**
 * Beast's `permessage_deflate` option (websocket/option.hpp), RFC 7692:
 * `client` offers compression in the handshake, `server` accepts a
 * client's offer. Same names and defaults as Beast (both off; windows of
 * 15 bits; context takeover allowed; compLevel 8, memLevel 4; no size
 * threshold). Takes effect at the next handshake or accept.
 */
export class PermessageDeflate implements PmdOptions {
  client: boolean;
  server: boolean;
  serverMaxWindowBits: number;
  clientMaxWindowBits: number;
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  compLevel: number;
  memLevel: number;
  msgSizeThreshold: number;

  constructor(o: Partial<PmdOptions> = {}) {
    const v = { ...defaultPmdOptions, ...o };
    for (const b of [v.serverMaxWindowBits, v.clientMaxWindowBits]) {
      if (!Number.isInteger(b) || b < 8 || b > 15) throw new RangeError(`window bits ${b} not in 8..15`);
    }
    if (!Number.isInteger(v.compLevel) || v.compLevel < 0 || v.compLevel > 9) {
      throw new RangeError('compLevel must be 0..9');
    }
    if (!Number.isInteger(v.memLevel) || v.memLevel < 1 || v.memLevel > 9) {
      throw new RangeError('memLevel must be 1..9');
    }
    if (!(v.msgSizeThreshold >= 0)) throw new RangeError('msgSizeThreshold must be >= 0');
    this.client = v.client;
    this.server = v.server;
    this.serverMaxWindowBits = v.serverMaxWindowBits;
    this.clientMaxWindowBits = v.clientMaxWindowBits;
    this.serverNoContextTakeover = v.serverNoContextTakeover;
    this.clientNoContextTakeover = v.clientNoContextTakeover;
    this.compLevel = v.compLevel;
    this.memLevel = v.memLevel;
    this.msgSizeThreshold = v.msgSizeThreshold;
  }
}

/** A server's choice among the subprotocols a client offered (in the client's order); null for none. */
export type SubprotocolSelector = (offered: string[], req: RequestType) => string | null;

/**
 * `Sec-WebSocket-Protocol` negotiation (RFC 6455 §1.9, §4.1, §4.2.2).
 * tsio's convenience; Beast users set the field with a decorator and read
 * it from the response, which works here too.
 *
 * - Client, `new Subprotocols(['a', 'b'])`: offers them in that order; a
 *   server answer naming anything else fails the handshake with
 *   `error.badSecProtocol`.
 * - Server, `new Subprotocols(['b', 'a'])`: picks the first protocol *the
 *   client* offered that is in the list; `new Subprotocols(fn)`: `fn` picks.
 *   Offering nothing acceptable is not an error: the 101 names no protocol.
 *
 * `stream.protocol()` tells the result on either side.
 */
export class Subprotocols {
  readonly list: readonly string[];
  readonly select: SubprotocolSelector;

  constructor(protocols: readonly string[] | SubprotocolSelector) {
    if (typeof protocols === 'function') {
      this.list = [];
      this.select = protocols;
      return;
    }
    const seen = new Set<string>();
    for (const p of protocols) {
      // §4.1: each element is a token, and they are unique.
      if (!isToken(p)) throw new TypeError(`subprotocol ${JSON.stringify(p)} is not a token`);
      if (seen.has(p)) throw new TypeError(`subprotocol ${p} listed twice`);
      seen.add(p);
    }
    this.list = [...protocols];
    this.select = (offered) => offered.find((p) => seen.has(p)) ?? null;
  }
}

/**
 * A server's say over an upgrade request before it is answered: return
 * null to go on, or a `Refusal` (status, reason, optional body) to answer
 * with that instead of 101 — e.g. 403 for an unexpected `Origin` (RFC 6455
 * §10.2), 401 without credentials. The accept then completes with
 * `error.upgradeDeclined` (the upgrade did not happen) and the connection
 * is left open for the caller to close or reuse, as after any refusal.
 */
export class RequestFilter {
  constructor(readonly fn: (req: RequestType) => Refusal | null) {}
}

sharedDefaultTimeout = new Timeout();
sharedDefaultPmd = new PermessageDeflate();
