/*
 * The read operation (Beast impl/read.hpp, RFC 6455 §5–§7).
 *
 * One `ReadOp` reads frames from the next layer into the stream's read
 * buffer, unmasks data payloads straight into the caller's buffer, and
 * handles control frames on the way:
 *
 *   - ping: the control callback sees it and, unless we already sent a
 *     close, a pong goes out; it takes the write block like any writer, so
 *     it slips in between the fragments of an outgoing message;
 *   - pong: the control callback sees it;
 *   - close: validated; if we did not close first the close frame is echoed
 *     with the peer's code and the connection torn down; the read completes
 *     with `websocket.error.closed` — a successful closure (the seed's rule).
 *
 * A frame that breaks the protocol fails the connection: a close frame with
 * the RFC's code (1002, 1007 or 1009) is sent, the connection is torn down,
 * and the read completes with the matching `websocket.error`.
 *
 * The same op, in "discard" mode, is what `asyncClose` runs to read until
 * the peer's close frame.
 */
import {
  type AsyncResult,
  type CompletionHandler,
  type CompletionToken,
  ComposedOperation,
  type DefaultToken,
  type ErrorCode,
  launch,
  error as netError,
} from '@tsio/completion-token';
import type { AsyncStream, DynamicBuffer, MutableBufferSequence } from '@tsio/net';
import { BufferOverflowError, type ChunkLender, type LendReceiver, lendSome, lent } from '@tsio/net';
import { DEFLATE_TAIL, type Inflater, type PmdCodec } from './deflate.js';
import type { WsErrorName } from './detail/error-names.js';
import { closeCodeFor, ParseStatus, parseClosePayload } from './detail/frame.js';
import { closeCode, Opcode } from './detail/rfc6455.js';
import { error, errorFromName } from './error.js';
import { closingTimeoutOf, type StreamImpl } from './impl.js';
import { asyncTeardown } from './teardown.js';

/** Where a read puts payload bytes: a `DynamicBuffer`, a fixed `Uint8Array`, or nowhere (close's drain). */
export type ReadTargetKind = 'dynamic' | 'fixed' | 'discard';

/**
 * A compressed message up to this size, in one frame and all buffered, is
 * inflated by one synchronous call when the peer resets its window per
 * message; up to SYNC_INFLATE_OUTPUT_MAX inflated bytes, so that the event
 * loop is never held for long (a larger one goes through the stream).
 */
const SYNC_INFLATE_INPUT_MAX = 64 * 1024;
const SYNC_INFLATE_OUTPUT_MAX = 256 * 1024;

/**
 * Payloads at least this large, with nothing buffered, are read straight
 * into the caller's buffer — from a next layer that cannot lend its chunks.
 * One that can (a TcpStream, an SslStream) lends them instead and the
 * payload is unmasked on its way from the chunk to the caller's buffer
 * (`maskCopyRange`: two copies through WebAssembly memory). A direct read
 * there would copy the chunk into the caller's buffer and then unmask it in
 * place, which is three (measured: ~1.2 µs more per 64 KiB, ~8 % more
 * server CPU per 1 MiB echo).
 */
const DIRECT_READ_MIN = 16 * 1024;

/**
 * One read, reused: a stream keeps its last completed `ReadOp` and starts
 * the next read on it (`ComposedOperation`), so a read costs no operation
 * object, `self` or bound handlers per message.
 */
class ReadOp<Next extends AsyncStream> extends ComposedOperation<[number]> implements LendReceiver {
  private transferred = 0;
  // Plain fields, not bits of one number: the read loop tests them on every
  // step, and decoding bits there cost ~10 % of an in-process echo (measured).
  /** The opcode of a control frame whose whole payload is awaited (≤ 125 bytes); 0 when none. */
  private controlOpcode = 0;
  private finished = false;
  /** Read a whole message (asyncRead) rather than some bytes (asyncReadSome). */
  private whole = false;
  /** Counts the uses of this object, so that a zlib wake-up meant for an earlier read is dropped. */
  private generation = 0;
  /** Where payload bytes go: the caller's dynamic or fixed buffer, or nowhere (close's drain). */
  private dyn: DynamicBuffer | null = null;
  private fixed: Uint8Array | null = null;
  /** Bytes this read may still deliver in all; -1 for no limit (a small integer: no boxed number per op). */
  private limit = -1;
  /** When set, the read block is held by this owner (close) and stays held when the read ends. */
  private lockOwner: object | null = null;
  /**
   * The next layer's `readSome` handler, for reads into the read buffer and
   * straight into the caller's (`directView` set): a bound method, not an
   * arrow (no closure context kept per stream); made on first use, since a
   * stream over a lending next layer reads with `[lent]` (48 B per idle
   * connection less).
   */
  private onRead: ((ec: ErrorCode | null, n: number) => void) | null = null;
  /** Made on first use: most reads never read straight into the caller's buffer. */
  private onDirectRead: ((ec: ErrorCode | null, n: number) => void) | null = null;
  /** The caller's memory a direct read fills; null for reads into the read buffer. */
  private directView: Uint8Array | null = null;

  constructor(private readonly impl: StreamImpl<Next>) {
    super();
  }

  /** Prepares this object for the next read; `begin` then starts it. */
  reset(
    kind: ReadTargetKind,
    buffer: DynamicBuffer | Uint8Array | null,
    limit: number,
    whole: boolean,
    lockOwner: object | null,
  ): this {
    this.dyn = kind === 'dynamic' ? (buffer as DynamicBuffer) : null;
    this.fixed = kind === 'fixed' ? (buffer as Uint8Array) : null;
    this.transferred = 0;
    this.controlOpcode = 0;
    this.finished = false;
    this.limit = limit === Number.POSITIVE_INFINITY ? -1 : limit;
    this.whole = whole;
    this.lockOwner = lockOwner;
    this.generation++;
    return this;
  }

  /** The read has completed: drop the caller's buffer and offer this object for the stream's next read. */
  protected override released(): void {
    this.dyn = null;
    this.fixed = null;
    this.lockOwner = null;
    this.impl.spareReadOp ??= this;
  }

  protected start(): void {
    const impl = this.impl;
    if (this.lockOwner !== null) {
      // The close operation already holds the read block and reads on its behalf.
      this.first();
      return;
    }
    // At most one read at a time (Beast asserts; tsio reports it).
    if (impl.rdBlock instanceof ReadOp || impl.hasReadWaiter('read')) {
      return this.complete(error.operationNotPermitted, 0);
    }
    // The usual case, a free block: taken without making the parking closures.
    if (impl.lockReadIfFree(this)) return this.first();
    // Parked behind close: total or terminal cancellation has no side effect here.
    impl.lockReadOrPark(
      this,
      'read',
      this,
      () => this.first(),
      () => this.complete(netError.operationAborted, 0),
      // Resumed only when the close that held the block has finished.
      () => this.finish(impl.notOpenError()),
    );
  }

  private finish(ec: ErrorCode | null): void {
    if (this.finished) return;
    this.finished = true;
    const impl = this.impl;
    if (ec === null || ec === error.closed) {
      impl.shrinkReadBuffer();
      impl.releaseParser();
    }
    if (this.lockOwner === null) impl.unlockRead(this);
    this.complete(ec, this.transferred);
  }

  /** An error from the next layer: report it (Beast's check_stop_now) and close the connection. */
  private ioError(ec: ErrorCode): void {
    const impl = this.impl;
    const reported = impl.stopError(ec);
    impl.closeNextLayer();
    this.finish(reported);
  }

  private readMore(): void {
    const impl = this.impl;
    if (impl.canLend && impl.rdPos === impl.rdEnd) {
      // Nothing buffered: parse the next bytes where Node put them (no copy into rdBuf).
      impl.shrinkReadBuffer();
      // Usually this object itself receives the chunk (`[lent]`): no bound
      // function kept per connection (48 B). A handler with an executor or a
      // cancellation slot of its own needs the bound form, made per read.
      const lender = impl.next as unknown as ChunkLender;
      if (this.bindsNothing()) lender[lendSome](this);
      else lender[lendSome](this.bind((ec: ErrorCode | null, chunk: Buffer) => this[lent](ec, chunk)));
      return;
    }
    this.onRead ??= this.afterRead.bind(this);
    impl.next.readSome(impl.prepareRead(), this.bind(this.onRead));
  }

  /** @internal The lending read's completion (`LendReceiver`). */
  [lent](ec: ErrorCode | null, chunk: Buffer): void {
    if (ec) return this.ioError(ec);
    const impl = this.impl;
    impl.noteReceived();
    impl.useLentChunk(chunk);
    this.loop();
  }

  private afterRead(ec: ErrorCode | null, n: number): void {
    if (ec) return this.ioError(ec);
    const impl = this.impl;
    impl.noteReceived();
    impl.rdEnd += n;
    if (impl.rdEnd === impl.rdBuf.length) impl.readBufferFilled();
    this.loop();
  }

  private afterDirectRead(ec: ErrorCode | null, n: number): void {
    const view = this.directView as Uint8Array;
    this.directView = null;
    if (ec) {
      if (this.dyn !== null) this.dyn.commit(0);
      return this.ioError(ec);
    }
    const impl = this.impl;
    impl.noteReceived();
    impl.parser.consumePayload(view, 0, n);
    if (this.dyn !== null) this.dyn.commit(n);
    this.transferred += n;
    if (impl.rdText && !impl.utf8.write(view, 0, n)) return this.failConnection('badFramePayload');
    if (this.afterPayload()) return;
    this.loop();
  }

  /**
   * The first step of a read. Between messages the stream holds no parser
   * (impl.ts): with no byte to parse and no inflated output to deliver, it
   * waits for bytes before taking one, so an idle connection keeps none.
   * (Checked here, not in `loop`, which every next-layer completion enters
   * with bytes in hand: the check there measurably slowed the loop.)
   */
  private first(): void {
    const impl = this.impl;
    if (
      !impl.hasParser &&
      impl.rdEnd === impl.rdPos &&
      !impl.rdInflate &&
      (impl.status === 'open' || impl.status === 'closing')
    )
      return this.readMore();
    this.loop();
  }

  /** The main loop: runs while bytes are buffered, returns after starting I/O or completing. */
  private loop(): void {
    const impl = this.impl;
    const parser = impl.parser;
    for (;;) {
      if (impl.status !== 'open' && impl.status !== 'closing') return this.finish(impl.notOpenError());
      const avail = impl.rdEnd - impl.rdPos;

      if (this.controlOpcode !== 0) {
        if (avail < parser.remaining) return this.readMore();
        const len = parser.remaining;
        const payload = impl.rdBuf.subarray(impl.rdPos, impl.rdPos + len);
        parser.consumePayload(impl.rdBuf, impl.rdPos, impl.rdPos + len);
        impl.rdPos += len;
        const opcode = this.controlOpcode;
        this.controlOpcode = 0;
        if (this.onControl(opcode, payload)) return;
        continue;
      }

      if (impl.rdInflate && !this.isDiscard()) {
        const next = this.inflateStep();
        if (next === 'return') return;
        if (next === 'continue') continue;
        // 'header': the next frame of the compressed message (or a control frame) follows.
      }

      if (parser.expectingHeader) {
        if (this.transferred > 0 && (!this.whole || impl.rdDone)) return this.finish(null);
        if (avail === 0) return this.readMore();
        impl.rdPos += parser.parseHeader(impl.rdBuf, impl.rdPos, impl.rdEnd);
        if (parser.status === ParseStatus.needMore) return this.readMore();
        if (parser.status === ParseStatus.error) return this.failConnection(parser.error as WsErrorName);
        const h = parser.header;
        if (h.opcode >= Opcode.close) {
          this.controlOpcode = h.opcode;
          continue;
        }
        if (this.onDataHeader(h.opcode, h.fin, h.len)) return;
        continue;
      }

      // Inside a data frame's payload.
      if (this.isDiscard()) {
        const k = Math.min(parser.remaining, avail);
        if (k === 0) return this.readMore();
        impl.rdPos += parser.consumePayload(impl.rdBuf, impl.rdPos, impl.rdPos + k);
        if (parser.remaining === 0 && impl.rdFin) impl.rdDone = true;
        continue;
      }
      const space = this.space();
      if (space === 0) {
        // A whole-message read that does not fit fails (Beast); readSome returns what it has.
        if (!this.whole && (this.transferred > 0 || this.fixed !== null)) return this.finish(null);
        return this.finish(error.bufferOverflow);
      }
      if (avail === 0) {
        if (!impl.canLend && parser.remaining >= DIRECT_READ_MIN && space >= DIRECT_READ_MIN)
          return this.readDirect(space);
        return this.readMore();
      }
      const k = Math.min(parser.remaining, avail, space);
      if (!this.copyPayload(k)) return;
      if (this.afterPayload()) return;
    }
  }

  /** Close's drain: frames are read and their payloads dropped. */
  private isDiscard(): boolean {
    return this.dyn === null && this.fixed === null;
  }

  /** Bytes the target can still take in this operation. */
  private space(): number {
    const left = this.limit < 0 ? Number.POSITIVE_INFINITY : this.limit - this.transferred;
    if (this.fixed !== null) return Math.min(left, this.fixed.length - this.transferred);
    if (this.dyn !== null) return Math.min(left, this.dyn.maxSize() - this.dyn.size());
    return left;
  }

  /** Reads a large payload straight into the caller's buffer, skipping the read buffer. */
  private readDirect(space: number): void {
    const parser = this.impl.parser;
    const k = Math.min(parser.remaining, space);
    let view: Uint8Array;
    if (this.fixed !== null) {
      view = (this.fixed as Uint8Array).subarray(this.transferred, this.transferred + k);
    } else {
      const prepared = this.prepare(k);
      if (prepared === null) return;
      // Only the first prepared view is read into; a multi-part buffer gets the rest next time.
      view = prepared[0] as Uint8Array;
    }
    this.directView = view;
    this.onDirectRead ??= this.afterDirectRead.bind(this);
    this.impl.next.readSome(view, this.bind(this.onDirectRead));
  }

  /** `prepare(k)` when the buffer gives one view of `k` bytes; null otherwise, or if the read completed (overflow). */
  /** The dynamic buffer's `prepare(k)`; null if it overflowed (the read has then completed with bufferOverflow). */
  private prepareRaw(k: number): MutableBufferSequence | null {
    try {
      return (this.dyn as DynamicBuffer).prepare(k);
    } catch (e) {
      if (e instanceof BufferOverflowError) {
        this.finish(error.bufferOverflow);
        return null;
      }
      throw e;
    }
  }

  /** `prepare(k)` as an array of views (a copy of a multi-part buffer's, which changes as it commits). */
  private prepare(k: number): Uint8Array[] | null {
    const p = this.prepareRaw(k);
    if (p === null) return null;
    return p instanceof Uint8Array ? [p] : p.slice();
  }

  /** Unmasks `k` buffered payload bytes into the target; false if the operation completed. */
  private copyPayload(k: number): boolean {
    const impl = this.impl;
    const parser = impl.parser;
    const src = impl.rdBuf;
    if (this.fixed !== null) {
      const dst = this.fixed as Uint8Array;
      const at = this.transferred;
      parser.consumePayload(src, impl.rdPos, impl.rdPos + k, dst, at);
      impl.rdPos += k;
      this.transferred += k;
      if (impl.rdText && !impl.utf8.write(dst, at, at + k)) {
        this.failConnection('badFramePayload');
        return false;
      }
      return true;
    }
    const dyn = this.dyn as DynamicBuffer;
    const prepared = this.prepareRaw(k);
    if (prepared === null) return false;
    // One contiguous view (a FlatBuffer, or room in a MultiBuffer's last part): no array.
    const single =
      prepared instanceof Uint8Array
        ? prepared
        : prepared.length === 1 && (prepared[0] as Uint8Array).length === k
          ? (prepared[0] as Uint8Array)
          : null;
    if (single !== null) {
      parser.consumePayload(src, impl.rdPos, impl.rdPos + k, single, 0);
      impl.rdPos += k;
      dyn.commit(k);
      this.transferred += k;
      if (impl.rdText && !impl.utf8.write(single, 0, k)) {
        this.failConnection('badFramePayload');
        return false;
      }
      return true;
    }
    const views = (prepared as readonly Uint8Array[]).slice();
    let done = 0;
    for (const v of views) {
      const n = Math.min(v.length, k - done);
      if (n === 0) break;
      parser.consumePayload(src, impl.rdPos, impl.rdPos + n, v, 0);
      impl.rdPos += n;
      done += n;
      if (impl.rdText && !impl.utf8.write(v, 0, n)) {
        dyn.commit(done);
        this.transferred += done;
        this.failConnection('badFramePayload');
        return false;
      }
    }
    dyn.commit(done);
    this.transferred += done;
    return true;
  }

  /** After payload bytes were delivered: true if the operation completed. */
  private afterPayload(): boolean {
    const impl = this.impl;
    if (impl.parser.remaining === 0 && impl.rdFin) {
      impl.rdDone = true;
      if (impl.rdText && !impl.utf8.finish()) {
        this.failConnection('badFramePayload');
        return true;
      }
      this.finish(null);
      return true;
    }
    if (!this.whole && this.space() === 0) {
      this.finish(null);
      return true;
    }
    return false;
  }

  /**
   * One step inside a compressed message (RFC 7692 §7.2.2): hand out inflated
   * bytes, else wait for zlib, else feed it the next payload bytes, and after
   * the final frame the `00 00 ff ff` tail. `readMessageMax` applies to the
   * inflated size and is checked before the bytes are taken, so a bomb is
   * refused with at most one output chunk inflated beyond what the caller's
   * buffer received (see deflate.ts).
   */
  private inflateStep(): 'return' | 'continue' | 'header' {
    const impl = this.impl;
    const parser = impl.parser;
    const inf = (impl.pmd as PmdCodec).inflater();
    if (inf.isClosed()) {
      this.finish(impl.notOpenError());
      return 'return';
    }
    if (inf.error !== null) {
      this.failConnection('badDeflatePayload');
      return 'return';
    }
    const ready = inf.available();
    if (ready > 0) {
      if (impl.rdMsgSize + ready > impl.opts.readMessageMax) {
        this.failConnection('messageTooBig');
        return 'return';
      }
      if (this.space() === 0) {
        // As in loop(): a whole-message read that does not fit fails with bufferOverflow.
        const partialOk = !this.whole && (this.transferred > 0 || this.fixed !== null);
        this.finish(partialOk ? null : error.bufferOverflow);
        return 'return';
      }
      if (!this.deliverInflated(inf)) return 'return';
      if (!this.whole && this.space() === 0) {
        this.finish(null);
        return 'return';
      }
      return 'continue';
    }
    if (inf.busy()) {
      const ex = this.getExecutor();
      const generation = this.generation;
      inf.wait(() =>
        ex.post(() => {
          if (generation === this.generation) this.loop();
        }),
      );
      return 'return';
    }
    if (impl.rdTailSent) {
      // Every byte of the message is inflated and handed out.
      impl.rdInflate = false;
      impl.rdTailSent = false;
      impl.rdDone = true;
      inf.messageDone();
      if (impl.rdText && !impl.utf8.finish()) {
        this.failConnection('badFramePayload');
        return 'return';
      }
      this.finish(null);
      return 'return';
    }
    if (parser.expectingHeader) {
      if (!impl.rdFin) return 'header';
      inf.endMessage();
      impl.rdTailSent = true;
      return 'continue';
    }
    const k = Math.min(parser.remaining, impl.rdEnd - impl.rdPos);
    if (k === 0) {
      this.readMore();
      return 'return';
    }
    // A copy: zlib reads it later, and the read buffer is reused.
    // A small single-frame message, all buffered, from a peer that resets its
    // window per message: inflated in one synchronous call (deflate.ts).
    const oneShot = impl.rdFin && k === parser.remaining && k <= SYNC_INFLATE_INPUT_MAX && inf.idle();
    if (oneShot && inf.noContextTakeover) {
      const input = Buffer.allocUnsafe(k + DEFLATE_TAIL.length);
      parser.consumePayload(impl.rdBuf, impl.rdPos, impl.rdPos + k, input, 0);
      impl.rdPos += k;
      input.set(DEFLATE_TAIL, k);
      impl.rdTailSent = true;
      // One byte past the limit tells "too big" from "exactly the limit"; above the
      // one-shot cap the message is inflated by the stream instead, step by step.
      const allowed = Math.max(1, Math.floor(impl.opts.readMessageMax - impl.rdMsgSize + 1));
      const cap = Math.min(allowed, SYNC_INFLATE_OUTPUT_MAX);
      const r = inf.inflateWhole(input, cap);
      if (r === 'tooBig') {
        if (cap === allowed) {
          this.failConnection('messageTooBig');
          return 'return';
        }
        inf.write(input);
      }
      return 'continue';
    }
    const chunk = Buffer.allocUnsafe(k);
    parser.consumePayload(impl.rdBuf, impl.rdPos, impl.rdPos + k, chunk, 0);
    impl.rdPos += k;
    inf.write(chunk);
    return 'continue';
  }

  /** Moves inflated bytes into the target; false if the operation completed (bad UTF-8). */
  private deliverInflated(inf: Inflater): boolean {
    const impl = this.impl;
    const want = Math.min(this.space(), inf.available());
    let views: Uint8Array[];
    if (this.fixed !== null) {
      views = [(this.fixed as Uint8Array).subarray(this.transferred, this.transferred + want)];
    } else {
      const prepared = this.prepare(want);
      if (prepared === null) return false;
      views = prepared;
    }
    let done = 0;
    let valid = true;
    for (const v of views) {
      if (done === want) break;
      const n = inf.take(v.subarray(0, Math.min(v.length, want - done)));
      if (n === 0) break;
      if (impl.rdText && !impl.utf8.write(v, 0, n)) valid = false;
      done += n;
      if (!valid) break;
    }
    if (this.dyn !== null) this.dyn.commit(done);
    this.transferred += done;
    impl.rdMsgSize += done;
    if (!valid) {
      this.failConnection('badFramePayload');
      return false;
    }
    return true;
  }

  /** A data frame header: true if the operation completed. */
  private onDataHeader(opcode: number, fin: boolean, len: number): boolean {
    const impl = this.impl;
    if (opcode !== Opcode.cont) {
      // A new message (the parser has already refused one inside a fragmented message).
      // RSV1 on the first frame marks a compressed message (RFC 7692 §6.1); the parser allows it only when negotiated.
      const text = opcode === Opcode.text;
      impl.startReadMessage(text, impl.parser.header.rsv1, fin);
      impl.rdMsgSize = 0;
      if (text) impl.utf8.reset();
    } else impl.rdFin = fin;
    // A compressed message is measured inflated, in inflateStep (Beast checks rd_msg_max on the inflated size too).
    if (impl.rdInflate && !this.isDiscard()) return false;
    impl.rdMsgSize += len;
    if (!this.isDiscard() && impl.rdMsgSize > impl.opts.readMessageMax) {
      this.failConnection('messageTooBig');
      return true;
    }
    if (len === 0 && fin) {
      impl.rdDone = true;
      if (this.isDiscard()) return false;
      if (impl.rdText && !impl.utf8.finish()) {
        this.failConnection('badFramePayload');
        return true;
      }
      this.finish(null);
      return true;
    }
    return false;
  }

  /** A complete control frame: true if the operation completed or went asynchronous. */
  private onControl(opcode: number, payload: Uint8Array): boolean {
    const impl = this.impl;
    if (opcode === Opcode.ping) {
      impl.invokeControlCallback('ping', payload);
      if (impl.wrClose || impl.status !== 'open') return false;
      // Copy: the read buffer is reused before the pong is written.
      const frame = impl.makeFrame(Opcode.pong, true, [Buffer.from(payload)], payload.length);
      return this.sendControl(frame, () => this.loop());
    }
    if (opcode === Opcode.pong) {
      impl.invokeControlCallback('pong', payload);
      return false;
    }
    // Close (§5.5.1).
    const parsed = parseClosePayload(payload);
    if (typeof parsed === 'string') {
      this.failConnection(parsed);
      return true;
    }
    impl.cr = parsed;
    impl.rdClose = true;
    impl.invokeControlCallback('close', payload.subarray(Math.min(2, payload.length)));
    if (impl.wrClose) {
      // We closed first: the close operation waiting for this block tears down.
      this.finish(error.closed);
      return true;
    }
    // The peer closed first: echo its code (§5.5.1), then tear down.
    impl.status = 'closing';
    const echo = closePayload(parsed.code);
    const frame = impl.makeFrame(Opcode.close, true, [echo], echo.length);
    impl.wrClose = true;
    return this.sendControl(frame, () => this.teardown(error.closed), true);
  }

  /**
   * Writes a pong or close frame with the write block, waiting behind a
   * write in progress. `closing`: the frame is a close, sent even when the
   * stream is closing. Returns true (the operation continues asynchronously).
   */
  private sendControl(frame: Uint8Array[], then: () => void, closing = false): boolean {
    const impl = this.impl;
    const send = () => {
      if (!closing && (impl.wrClose || impl.status !== 'open')) {
        impl.unlockWrite(this);
        return then();
      }
      writeAll(
        impl.next,
        frame,
        this.bind((ec: ErrorCode | null) => {
          impl.unlockWrite(this);
          if (ec) return this.ioError(ec);
          then();
        }),
      );
    };
    if (impl.tryLockWrite(this, 'read', send)) send();
    return true;
  }

  /** Fails the connection for a protocol violation (RFC 6455 §7.1.7) and completes with its error. */
  private failConnection(name: WsErrorName): void {
    const impl = this.impl;
    const ec = errorFromName(name);
    if (impl.wrClose || impl.status !== 'open') {
      this.teardown(ec);
      return;
    }
    impl.status = 'closing';
    impl.wrClose = true;
    const code = closeCodeFor(name);
    this.sendControl(
      impl.makeFrame(Opcode.close, true, [closePayload(code)], 2),
      () => this.teardown(ec),
      true,
    );
  }

  private teardown(ec: ErrorCode): void {
    const impl = this.impl;
    impl.setTimer(closingTimeoutOf(impl.opts));
    asyncTeardown(
      impl.role ?? 'server',
      impl.next,
      this.bind(() => {
        impl.clearTimer();
        // The close handshake is over whatever the transport said: the stream is closed.
        impl.status = ec === error.closed ? 'closed' : 'failed';
        if (ec !== error.closed) impl.stopError(ec);
        this.finish(ec);
      }),
    );
  }
}

function closePayload(code: number): Buffer {
  if (code === closeCode.none) return Buffer.alloc(0);
  const b = Buffer.allocUnsafe(2);
  b.writeUInt16BE(code, 0);
  return b;
}

/** Writes every byte of `buffers` with the next layer's `writeSome` (Asio's write algorithm). */
export function writeAll(
  next: AsyncStream,
  buffers: readonly Uint8Array[],
  handler: (ec: ErrorCode | null) => void,
): void {
  let bufs = buffers.filter((b) => b.length > 0);
  const step = (ec: ErrorCode | null, n: number) => {
    if (ec) return handler(ec);
    while (n > 0 && bufs.length > 0) {
      const first = bufs[0] as Uint8Array;
      if (n >= first.length) {
        n -= first.length;
        bufs = bufs.slice(1);
      } else {
        bufs = [first.subarray(n), ...bufs.slice(1)];
        n = 0;
      }
    }
    if (bufs.length === 0) return handler(null);
    next.writeSome(bufs, step);
  };
  if (bufs.length === 0) {
    next.writeSome([], () => handler(null));
    return;
  }
  next.writeSome(bufs, step);
}

/** The stream's spare read operation, or a new one when it is in use. */
function readOpOf<Next extends AsyncStream>(impl: StreamImpl<Next>): ReadOp<Next> {
  const spare = impl.spareReadOp as ReadOp<Next> | null;
  if (spare === null) return new ReadOp(impl);
  impl.spareReadOp = null;
  return spare;
}

/** Starts a read; shared by asyncRead, asyncReadSome and the close operation's drain. */
export function startRead<
  Next extends AsyncStream,
  T extends CompletionToken<[number]> = DefaultToken<[number]>,
>(
  impl: StreamImpl<Next>,
  kind: ReadTargetKind,
  buffer: DynamicBuffer | Uint8Array | null,
  limit: number,
  whole: boolean,
  token: T | undefined,
  lockOwner: object | null = null,
): AsyncResult<T, [number]> {
  if (typeof token === 'function') {
    readOpOf(impl)
      .reset(kind, buffer, limit, whole, lockOwner)
      .begin(token as CompletionHandler<[number]>, impl.next.getExecutor());
    return undefined as AsyncResult<T, [number]>;
  }
  return launchRead(impl, kind, buffer, limit, whole, token, lockOwner) as AsyncResult<T, [number]>;
}

/**
 * `startRead` for the other tokens, which may start the operation later, or
 * (deferred) more than once: an object per start. A function of its own:
 * V8 makes the context a closure captures on entry to the function that
 * creates it, whichever branch runs, so with the closure in `startRead`
 * every callback-token read paid for it (~80 B per message, allocation
 * sampling of the echo server).
 */
function launchRead<Next extends AsyncStream>(
  impl: StreamImpl<Next>,
  kind: ReadTargetKind,
  buffer: DynamicBuffer | Uint8Array | null,
  limit: number,
  whole: boolean,
  token: CompletionToken<[number]> | undefined,
  lockOwner: object | null,
): unknown {
  return launch(
    (handler) =>
      readOpOf(impl).reset(kind, buffer, limit, whole, lockOwner).begin(handler, impl.next.getExecutor()),
    token as CompletionToken<unknown[]> | undefined,
  );
}
