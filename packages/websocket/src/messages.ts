/*
 * Message streams beside the Asio operations: an async iterable, a cold rxjs
 * Observable and a Node Duplex, each built on `asyncRead` / `asyncWrite`
 * with the callback token (the cheapest one) and a cancellation slot.
 */
import { createRequire } from 'node:module';
import { Duplex } from 'node:stream';
import {
  type Associated,
  associatedSlotKey,
  CancellationSignal,
  cancellationType,
  type ErrorCode,
  SystemError,
} from '@tsio/completion-token';
import { type AsyncStream, FlatBuffer, getLowestLayer } from '@tsio/net';
import type { Observable } from 'rxjs';
import { closeCode } from './detail/rfc6455.js';
import { error } from './error.js';
import type { Stream } from './stream.js';

/** One whole WebSocket message: its payload and whether it was sent as binary (else text). */
export interface Message {
  data: Buffer;
  binary: boolean;
}

type ReadHandler = ((ec: ErrorCode | null, n: number) => void) & Associated;

/**
 * Starts one `asyncRead` of a whole message with the callback token and a
 * cancellation slot; returns the function that cancels it (terminal).
 */
function readMessage<N extends AsyncStream>(
  stream: Stream<N>,
  buf: FlatBuffer,
  done: (ec: ErrorCode | null, msg: Message | null) => void,
): () => void {
  const signal = new CancellationSignal();
  let finished = false;
  const handler: ReadHandler = (ec, n) => {
    finished = true;
    if (ec) return done(ec, null);
    // The consumer owns the payload: copy it out of the reused buffer.
    const data = Buffer.from(buf.data().subarray(0, n));
    buf.consume(n);
    done(null, { data, binary: stream.gotBinary() });
  };
  handler[associatedSlotKey] = signal.slot();
  stream.asyncRead(buf, handler);
  return () => {
    if (!finished) signal.emit(cancellationType.terminal);
  };
}

/** A read that ended the message stream: `closed` is a clean end, anything else an error. */
function isCleanEnd(ec: ErrorCode): boolean {
  return ec === error.closed;
}

/**
 * The messages of `stream` as an `AsyncIterable` for `for await`.
 *
 * The next message is read only when the consumer asks for it (one
 * `asyncRead` per `next()`, never ahead), so a slow consumer slows the peer
 * down through TCP. The iteration ends when a read completes with
 * `websocket.error.closed` (the peer closed, or our `asyncClose` finished
 * the closing handshake — a successful closure), and throws a `SystemError`
 * carrying the read's error otherwise.
 *
 * Leaving the loop early (`break`, `return`, an exception: the iterator's
 * `return()`) cancels a read still pending (terminal cancellation: that
 * fails the connection, as cancelling a Beast read does) and otherwise
 * leaves the stream as it is: still open, for the caller to `asyncClose`
 * with a code of its choice, or to iterate again.
 *
 * Calling `next()` again before the previous call settled queues the call;
 * reads still happen one at a time, in order.
 */
export function messages<N extends AsyncStream>(stream: Stream<N>): AsyncIterable<Message> {
  return {
    [Symbol.asyncIterator](): AsyncIterator<Message> {
      return new MessageIterator(stream);
    },
  };
}

interface Waiter {
  resolve(r: IteratorResult<Message>): void;
  reject(e: unknown): void;
}

class MessageIterator<N extends AsyncStream> implements AsyncIterator<Message> {
  private readonly buf = new FlatBuffer();
  private readonly waiters: Waiter[] = [];
  private cancel: (() => void) | null = null;
  private ended = false;

  constructor(private readonly stream: Stream<N>) {}

  next(): Promise<IteratorResult<Message>> {
    if (this.ended) return Promise.resolve({ done: true, value: undefined });
    return new Promise((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      if (this.cancel === null) this.readNext();
    });
  }

  private readNext(): void {
    this.cancel = readMessage(this.stream, this.buf, (ec, msg) => {
      this.cancel = null;
      const w = this.waiters.shift();
      if (ec !== null || msg === null) {
        const failure = ec !== null && !isCleanEnd(ec) && !this.ended ? new SystemError(ec) : null;
        this.end();
        if (w) {
          if (failure) w.reject(failure);
          else w.resolve({ done: true, value: undefined });
        }
        return;
      }
      w?.resolve({ done: false, value: msg });
      if (this.waiters.length > 0 && !this.ended) this.readNext();
    });
  }

  /** Settles every queued `next()` as done. */
  private end(): void {
    this.ended = true;
    for (const w of this.waiters.splice(0)) w.resolve({ done: true, value: undefined });
  }

  return(): Promise<IteratorResult<Message>> {
    const cancel = this.cancel;
    this.end();
    // The pending read completes with operationAborted later; ended, it is ignored.
    cancel?.();
    return Promise.resolve({ done: true, value: undefined });
  }
}

type RxjsModule = { Observable: typeof Observable };
let rxjs: RxjsModule | undefined;
function loadRxjs(): RxjsModule {
  // rxjs is an optional peer dependency, loaded on first use (as useObservable does).
  rxjs ??= createRequire(import.meta.url)('rxjs') as RxjsModule;
  return rxjs;
}

/**
 * The messages of `stream` as a cold rxjs `Observable`: subscribing starts
 * reading (one message after another, each emitted as it completes), the
 * Observable completes when a read ends with `websocket.error.closed` and
 * errors with the `SystemError` otherwise. Unsubscribing cancels the pending
 * read (terminal cancellation, which fails the connection). An Observable
 * pushes, so there is no backpressure beyond one read at a time; use
 * `messages()` to read only on demand. Subscribe once per stream at a time
 * (a second concurrent read is refused by the stream).
 */
export function messages$<N extends AsyncStream>(stream: Stream<N>): Observable<Message> {
  const { Observable: Obs } = loadRxjs();
  return new Obs<Message>((subscriber) => {
    const buf = new FlatBuffer();
    let cancel: (() => void) | null = null;
    let stopped = false;
    const next = (): void => {
      cancel = readMessage(stream, buf, (ec, msg) => {
        cancel = null;
        if (stopped) return;
        if (ec !== null || msg === null) {
          stopped = true;
          if (ec !== null && !isCleanEnd(ec)) subscriber.error(new SystemError(ec));
          else subscriber.complete();
          return;
        }
        subscriber.next(msg);
        if (!stopped && !subscriber.closed) next();
      });
    };
    next();
    return () => {
      stopped = true;
      cancel?.();
    };
  });
}

export interface DuplexOptions {
  /** Messages written are binary (`true`) or text (`false`); omitted: the stream's current setting. */
  binary?: boolean;
  /**
   * Ending the writable side (`end()`, or a piped source ending) starts the
   * closing handshake with this code (default `closeCode.normal`); `false`
   * leaves the stream open.
   */
  closeOnEnd?: number | false;
  /** The readable side's high-water mark in bytes (Node's default otherwise). */
  readableHighWaterMark?: number;
  /** The writable side's high-water mark in bytes (Node's default otherwise). */
  writableHighWaterMark?: number;
}

/**
 * A Node `Duplex` over `stream`, for piping: every chunk written becomes one
 * message (text or binary per `binary()`), and the readable side yields the
 * payload of each message received (message boundaries are not kept, as in
 * any byte stream; use `messages()` for them).
 *
 * Backpressure both ways: a message is read only when the readable side
 * wants data (below its high-water mark), and a write completes only when
 * the stream accepted the message. A normal close ends the readable side; any
 * other read error destroys the Duplex with the `SystemError`. Ending the
 * writable side sends a close frame (see `closeOnEnd`); destroying the
 * Duplex while the stream is open cancels what is pending and closes the
 * connection without a closing handshake.
 */
export function toDuplex<N extends AsyncStream>(stream: Stream<N>, options: DuplexOptions = {}): Duplex {
  if (options.binary !== undefined) stream.binary(options.binary);
  const closeOnEnd = options.closeOnEnd ?? closeCode.normal;
  const buf = new FlatBuffer();
  let cancelRead: (() => void) | null = null;
  let writeSignal: CancellationSignal | null = null;
  let readEnded = false;

  const duplex: Duplex = new Duplex({
    objectMode: false,
    allowHalfOpen: true,
    readableHighWaterMark: options.readableHighWaterMark,
    writableHighWaterMark: options.writableHighWaterMark,
    read(): void {
      if (cancelRead !== null || readEnded) return;
      cancelRead = readMessage(stream, buf, (ec, msg) => {
        cancelRead = null;
        if (duplex.destroyed) return;
        if (ec !== null || msg === null) {
          readEnded = true;
          if (ec !== null && !isCleanEnd(ec)) duplex.destroy(new SystemError(ec));
          else duplex.push(null);
          return;
        }
        // An empty message adds nothing; Node then asks for more by itself.
        duplex.push(msg.data);
      });
    },
    write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
      const signal = new CancellationSignal();
      writeSignal = signal;
      const handler = ((ec: ErrorCode | null) => {
        if (writeSignal === signal) writeSignal = null;
        callback(ec ? new SystemError(ec) : null);
      }) as ((ec: ErrorCode | null, n: number) => void) & Associated;
      handler[associatedSlotKey] = signal.slot();
      stream.asyncWrite(chunk, handler);
    },
    final(callback: (err?: Error | null) => void): void {
      if (closeOnEnd === false || !stream.isOpen()) return callback(null);
      stream.asyncClose(closeOnEnd, (ec: ErrorCode | null) => {
        // A read still pending receives the peer's close and ends the readable side.
        callback(ec ? new SystemError(ec) : null);
      });
    },
    destroy(err: Error | null, callback: (err?: Error | null) => void): void {
      const wasOpen = stream.isOpen();
      cancelRead?.();
      writeSignal?.emit(cancellationType.terminal);
      if (wasOpen && stream.isOpen()) closeLowest(stream);
      callback(err);
    },
  });
  return duplex;
}

/** Closes the lowest layer under `stream` (a dirty shutdown: no closing handshake). */
function closeLowest<N extends AsyncStream>(stream: Stream<N>): void {
  const lowest = getLowestLayer(stream) as { close?: () => void };
  if (typeof lowest.close === 'function') lowest.close();
}
