import type { AsyncResult, CompletionToken, DefaultToken, ErrorCode } from '@tsio/completion-token';
import type { Executor } from '@tsio/executor';
import { type AsyncStream, type ConstBufferSequence, type DynamicBuffer, isDynamicBuffer } from '@tsio/net';
import { type AcceptInput, startAccept } from './accept.js';
import { startClose } from './close.js';
import { PmdCodec } from './deflate.js';
import { RequestType, ResponseType } from './detail/handshake.js';
import { field, splitList } from './detail/http-fields.js';
import { buildOffer, negotiateServer, type PmdConfig, validateClientResponse } from './detail/pmd.js';
import { type CloseReason, Opcode } from './detail/rfc6455.js';
import { error } from './error.js';
import { startHandshake } from './handshake.js';
import {
  type ControlCallback,
  type HandshakeHooks,
  ownOpts,
  type Refusal,
  type Role,
  StreamImpl,
} from './impl.js';
import {
  Decorator,
  isSharedDefault,
  PermessageDeflate,
  RequestFilter,
  Subprotocols,
  Timeout,
} from './options.js';
import { startPing } from './ping.js';
import { startRead } from './read.js';
import { startWrite } from './write.js';

export { Decorator };

/** Any option `setOption` takes. */
export type StreamOption = Timeout | Decorator | PermessageDeflate | Subprotocols | RequestFilter;

/** A write's payload: one view as it is (the write op keeps it in an array of its own, no array per message), or the sequence. */
function toPayload(b: ConstBufferSequence | string): Uint8Array | readonly Uint8Array[] {
  return typeof b === 'string' ? Buffer.from(b, 'utf8') : b;
}

/**
 * Where a Stream's options plug into the handshake (decorator, subprotocols,
 * permessage-deflate, request filter). Made for each handshake and held only
 * by it: an open stream keeps no hooks (memory per idle connection).
 */
class StreamHooks implements HandshakeHooks {
  constructor(private readonly s: Stream<AsyncStream>) {}

  // Client (Beast's build_request: the extension offer first, then the decorator, which may change anything).
  decorateRequest(req: RequestType): void {
    const s = this.s;
    const opts = s.impl.opts;
    s.setChosenProtocol('');
    const offer = buildOffer(opts.permessageDeflate);
    if (offer !== null) req.set(field.secWebsocketExtensions, offer);
    const protocols = opts.subprotocols?.list ?? [];
    if (protocols.length > 0) req.set(field.secWebsocketProtocol, protocols.join(', '));
    opts.decorator?.fn(req);
  }

  onResponse(req: RequestType, res: ResponseType): ErrorCode | null {
    const s = this.s;
    const impl = s.impl;
    // RFC 6455 §4.1: a protocol the request (as sent, decorator included) did not offer fails the handshake.
    const chosen = res.get(field.secWebsocketProtocol);
    if (chosen !== undefined) {
      const offered = splitList(req.get(field.secWebsocketProtocol) ?? '');
      if (!offered.includes(chosen)) return error.badSecProtocol;
    }
    // RFC 7692 §5.1 / RFC 6455 §9.1: an extension we did not offer, or a bad parameter, fails it too.
    const pmd = validateClientResponse(res.get(field.secWebsocketExtensions), impl.opts.permessageDeflate);
    if (typeof pmd === 'string') return error.badExtension;
    if (pmd !== null) impl.enablePmd(new PmdCodec(pmd, 'client', { ...impl.opts.permessageDeflate }));
    s.setChosenProtocol(chosen ?? '');
    return null;
  }

  // Server: the filter may refuse; then the subprotocol and the extension are negotiated into the 101.
  onRequest(req: RequestType, res: ResponseType): Refusal | null {
    const s = this.s;
    const impl = s.impl;
    s.setChosenProtocol('');
    const refusal = impl.opts.requestFilter?.fn(req) ?? null;
    if (refusal !== null) return refusal;
    const offered = splitList(req.get(field.secWebsocketProtocol) ?? '');
    const subprotocols = impl.opts.subprotocols;
    if (subprotocols !== null && offered.length > 0) {
      const chosen = subprotocols.select(offered, req);
      // Only one of those offered may be named (§4.2.2); anything else means "none".
      if (chosen !== null && offered.includes(chosen)) res.set(field.secWebsocketProtocol, chosen);
    }
    // RFC 7692 §5.1: offers with bad parameters are declined and the next one tried.
    const opts = impl.opts.permessageDeflate;
    const n = negotiateServer(req.get(field.secWebsocketExtensions), opts);
    if (n.accepted !== null) {
      res.set(field.secWebsocketExtensions, n.responseHeader);
      impl.enablePmd(new PmdCodec(n.accepted, 'server', { ...opts }));
    }
    return null;
  }

  decorateResponse(res: ResponseType): void {
    const s = this.s;
    s.impl.opts.decorator?.fn(res);
    // The 101 as sent, decorator included (Beast's way of choosing a subprotocol is a decorator).
    if (res.status === 101) s.setChosenProtocol(res.get(field.secWebsocketProtocol) ?? '');
  }
}

/**
 * Beast's `websocket::stream<NextLayer>`: a WebSocket connection over any
 * stream that offers `readSome` and `writeSome` (a `TcpStream`, an
 * `SslStream`, a `TestStream`, a user's own).
 *
 * Each asynchronous operation takes a completion token as its last
 * argument (a callback, omitted for a promise, `useObservable`,
 * `withAbortSignal(...)`, ...). At most one read and one write may be
 * outstanding; ping, pong and close may be started while either is
 * pending and are queued behind the frame being written.
 */
export class Stream<NextLayer extends AsyncStream = AsyncStream> {
  /** @internal shared state of the composed operations. */
  readonly impl: StreamImpl<NextLayer>;
  /**
   * The subprotocol of the last opening handshake (`Sec-WebSocket-Protocol`
   * of the 101, client: received, server: sent), '' when none. Only this
   * string is kept: holding the whole 101 response for the life of the
   * stream cost ~0.45 KB of heap per idle connection (memory-idle).
   */
  private chosenProtocol = '';

  constructor(next: NextLayer) {
    this.impl = new StreamImpl(next);
  }

  /** @internal set by the handshake hooks. */
  setChosenProtocol(p: string): void {
    this.chosenProtocol = p;
  }

  nextLayer(): NextLayer {
    return this.impl.next;
  }

  getExecutor(): Executor {
    return this.impl.getExecutor();
  }

  /** True once the handshake succeeded and until a close or a failure. */
  isOpen(): boolean {
    return this.impl.isOpen();
  }

  /** The last message read was text. */
  gotText(): boolean {
    return this.impl.rdText;
  }

  gotBinary(): boolean {
    return !this.impl.rdText;
  }

  /** The last read finished a message. */
  isMessageDone(): boolean {
    return this.impl.rdDone;
  }

  /** The close reason the peer sent (Beast's `reason()`), `closeCode.none` if none arrived. */
  reason(): CloseReason {
    return { ...this.impl.cr };
  }

  /** The role taken by the handshake (client) or accept (server); null before. */
  role(): Role | null {
    return this.impl.role;
  }

  /** Messages written from now on are text (`text(true)`) or binary; without an argument, tells. */
  text(): boolean;
  text(v: boolean): void;
  text(v?: boolean): boolean | undefined {
    if (v === undefined) return !this.impl.binary;
    this.impl.binary = !v;
    return undefined;
  }

  binary(): boolean;
  binary(v: boolean): void;
  binary(v?: boolean): boolean | undefined {
    if (v === undefined) return this.impl.binary;
    this.impl.binary = v;
    return undefined;
  }

  /** Split outgoing messages into frames of `writeBufferBytes` (Beast's default: on). */
  autoFragment(): boolean;
  autoFragment(v: boolean): void;
  autoFragment(v?: boolean): boolean | undefined {
    if (v === undefined) return this.impl.autoFragment;
    this.impl.autoFragment = v;
    return undefined;
  }

  /** Largest incoming message; a bigger one fails the connection with 1009 (default 16 MiB). */
  readMessageMax(): number;
  readMessageMax(n: number): void;
  readMessageMax(n?: number): number | undefined {
    if (n === undefined) return this.impl.opts.readMessageMax;
    if (!(n > 0)) throw new RangeError('readMessageMax must be positive');
    ownOpts(this.impl).readMessageMax = n;
    return undefined;
  }

  /** Size of the frames `autoFragment` makes and of a client's masking buffer (default 4096). */
  writeBufferBytes(): number;
  writeBufferBytes(n: number): void;
  writeBufferBytes(n?: number): number | undefined {
    if (n === undefined) return this.impl.opts.writeBufferBytes;
    if (!(n >= 8)) throw new RangeError('writeBufferBytes must be at least 8');
    ownOpts(this.impl).writeBufferBytes = n;
    return undefined;
  }

  /** Called for every received ping, pong and close frame; without an argument, removes it. */
  controlCallback(fn?: ControlCallback): void {
    // Kept with the options (shared until one is changed): most streams never set one.
    ownOpts(this.impl).controlCallback = fn ?? null;
  }

  /**
   * Beast's `set_option`. A `Timeout` applies at once (Beast re-arms the
   * timer the same way); `PermessageDeflate`, `Subprotocols`,
   * `RequestFilter` and `Decorator` apply to the next handshake or accept.
   */
  setOption(opt: StreamOption): void {
    if (opt instanceof Timeout) {
      ownOpts(this.impl).timeout = opt;
      // Re-arm under the new values (Beast's update_timer); the handshake timer stays as armed.
      if (this.impl.status === 'open') this.impl.status = 'open';
    } else if (opt instanceof Decorator) ownOpts(this.impl).decorator = opt;
    else if (opt instanceof PermessageDeflate) ownOpts(this.impl).permessageDeflate = opt;
    else if (opt instanceof Subprotocols) ownOpts(this.impl).subprotocols = opt;
    else if (opt instanceof RequestFilter) ownOpts(this.impl).requestFilter = opt;
  }

  getOption(kind: typeof Timeout): Timeout;
  getOption(kind: typeof PermessageDeflate): PermessageDeflate;
  getOption(kind: typeof Timeout | typeof PermessageDeflate): StreamOption {
    // getOption hands out the stream's own object (a caller may change its
    // fields), so a shared default is copied first.
    const opts = ownOpts(this.impl);
    if (kind === Timeout) {
      if (isSharedDefault(opts.timeout)) {
        const t = opts.timeout;
        opts.timeout = new Timeout(t.handshakeTimeout, t.idleTimeout, t.keepAlivePings);
      }
      return opts.timeout;
    }
    if (kind === PermessageDeflate) {
      if (isSharedDefault(opts.permessageDeflate)) opts.permessageDeflate = new PermessageDeflate();
      return opts.permessageDeflate;
    }
    throw new TypeError('unknown option');
  }

  /** The subprotocol of this connection (`Sec-WebSocket-Protocol` of the 101), '' when none. */
  protocol(): string {
    return this.chosenProtocol;
  }

  /** What permessage-deflate negotiated for this connection (RFC 7692 §7.1), null when it is off. */
  pmdStatus(): PmdConfig | null {
    const pmd = this.impl.pmd;
    return pmd === null ? null : { ...pmd.config };
  }

  /**
   * Beast's `compress(bool)`: whether messages written from now on are
   * compressed, when permessage-deflate was negotiated (default true).
   * Messages below `msgSizeThreshold` never are.
   */
  compress(): boolean;
  compress(v: boolean): void;
  compress(v?: boolean): boolean | undefined {
    if (v === undefined) return this.impl.wrCompress;
    this.impl.wrCompress = v;
    return undefined;
  }

  // ---- handshake ----

  /** Client handshake: sends the upgrade request for `target` on `host` and validates the 101. */
  asyncHandshake<T extends CompletionToken<[]> = DefaultToken<[]>>(
    host: string,
    target: string,
    token?: T,
  ): AsyncResult<T, []>;
  /** As above, and fills `res` with the server's response (also when it is a refusal). */
  asyncHandshake<T extends CompletionToken<[]> = DefaultToken<[]>>(
    host: string,
    target: string,
    res: ResponseType,
    token?: T,
  ): AsyncResult<T, []>;
  asyncHandshake<T extends CompletionToken<[]>>(
    host: string,
    target: string,
    a?: ResponseType | T,
    b?: T,
  ): AsyncResult<T, []> {
    const hooks = new StreamHooks(this);
    if (a instanceof ResponseType) return startHandshake(this.impl, hooks, host, target, a, b);
    return startHandshake(this.impl, hooks, host, target, undefined, a as T | undefined);
  }

  /** Server handshake: reads the upgrade request from the next layer and answers it. */
  asyncAccept<T extends CompletionToken<[]> = DefaultToken<[]>>(token?: T): AsyncResult<T, []>;
  /** Server handshake starting with bytes already read from the next layer. */
  asyncAccept<T extends CompletionToken<[]> = DefaultToken<[]>>(
    alreadyRead: Uint8Array,
    token?: T,
  ): AsyncResult<T, []>;
  /** Server handshake for a request already read and parsed (e.g. by an HTTP server). */
  asyncAccept<T extends CompletionToken<[]> = DefaultToken<[]>>(
    request: RequestType,
    token?: T,
  ): AsyncResult<T, []>;
  asyncAccept<T extends CompletionToken<[]>>(a?: Uint8Array | RequestType | T, b?: T): AsyncResult<T, []> {
    let input: AcceptInput = {};
    let token = a as T | undefined;
    if (a instanceof Uint8Array) {
      input = { bytes: a };
      token = b;
    } else if (a instanceof RequestType) {
      input = { request: a };
      token = b;
    }
    return startAccept(this.impl, new StreamHooks(this), input, token);
  }

  // ---- read ----

  /** Reads one whole message into `buffer` and completes with its size. */
  asyncRead<T extends CompletionToken<[number]> = DefaultToken<[number]>>(
    buffer: DynamicBuffer,
    token?: T,
  ): AsyncResult<T, [number]> {
    return startRead(this.impl, 'dynamic', buffer, Number.POSITIVE_INFINITY, true, token);
  }

  /**
   * Reads some bytes of the current message: into a dynamic buffer (at most
   * `limit` bytes) or into a fixed `Uint8Array` (at most its length).
   * `isMessageDone()` tells whether the message ended.
   */
  asyncReadSome<T extends CompletionToken<[number]> = DefaultToken<[number]>>(
    buffer: DynamicBuffer,
    limit: number,
    token?: T,
  ): AsyncResult<T, [number]>;
  asyncReadSome<T extends CompletionToken<[number]> = DefaultToken<[number]>>(
    buffer: Uint8Array,
    token?: T,
  ): AsyncResult<T, [number]>;
  asyncReadSome<T extends CompletionToken<[number]>>(
    buffer: DynamicBuffer | Uint8Array,
    a?: number | T,
    b?: T,
  ): AsyncResult<T, [number]> {
    if (isDynamicBuffer(buffer)) {
      const limit = typeof a === 'number' && a > 0 ? a : Number.POSITIVE_INFINITY;
      return startRead(this.impl, 'dynamic', buffer, limit, false, b);
    }
    return startRead(this.impl, 'fixed', buffer, buffer.length, false, a as T | undefined);
  }

  // ---- write ----

  /** Writes one whole message (text or binary per `text()`/`binary()`), fragmented per `autoFragment`. */
  asyncWrite<T extends CompletionToken<[number]> = DefaultToken<[number]>>(
    buffers: ConstBufferSequence | string,
    token?: T,
  ): AsyncResult<T, [number]> {
    return startWrite(this.impl, toPayload(buffers), true, token);
  }

  /** Writes one frame of a message; the message ends with the frame written with `fin = true`. */
  asyncWriteSome<T extends CompletionToken<[number]> = DefaultToken<[number]>>(
    fin: boolean,
    buffers: ConstBufferSequence | string,
    token?: T,
  ): AsyncResult<T, [number]> {
    return startWrite(this.impl, toPayload(buffers), fin, token);
  }

  // ---- control ----

  /** Sends a ping with up to 125 bytes of payload. */
  asyncPing<T extends CompletionToken<[]> = DefaultToken<[]>>(
    payload: string | Uint8Array = '',
    token?: T,
  ): AsyncResult<T, []> {
    return startPing(this.impl, Opcode.ping, payload, token);
  }

  /** Sends an unsolicited pong (a heartbeat that needs no answer). */
  asyncPong<T extends CompletionToken<[]> = DefaultToken<[]>>(
    payload: string | Uint8Array = '',
    token?: T,
  ): AsyncResult<T, []> {
    return startPing(this.impl, Opcode.pong, payload, token);
  }

  /**
   * Performs the WebSocket closing handshake (the seed's `async_close`):
   * sends a close frame with `reason`, reads until the peer's close frame
   * (or lets a pending read receive it), then tears the connection down.
   * Success means both close frames crossed.
   */
  asyncClose<T extends CompletionToken<[]> = DefaultToken<[]>>(
    reason?: CloseReason | number,
    token?: T,
  ): AsyncResult<T, []> {
    return startClose(this.impl, reason, token);
  }
}
