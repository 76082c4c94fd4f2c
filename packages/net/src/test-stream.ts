/**
 * Beast's `test::stream` (`_experimental/test/stream.hpp`): an in-memory
 * stream for testing composed operations without sockets. Two streams
 * connected with `connect` form a pair: what one writes, the other reads.
 *
 * Semantics follow Beast where it has them:
 * - Every `readSome` / `writeSome` first asks the shared {@link FailCount};
 *   when it says so the operation fails with `testError.testFailure` (before
 *   the zero-length check, as Beast).
 * - A read of zero bytes completes with 0; a read with buffered input
 *   completes with `min(buffered, readSize, buffer space)` bytes; otherwise
 *   it completes with `eof` if this end's input is closed, or waits.
 * - A write copies `min(bytes, writeSize)` bytes into the peer's input.
 * - `close()`: this end's pending read completes with `operationAborted`,
 *   the peer's input is closed (its reads get `eof` once it has read what
 *   was buffered), and later writes on this end fail with `connectionReset`
 *   (Beast's code for a write with no peer). Writing *to* a peer that has
 *   closed still succeeds, as in Beast: the bytes land in its input.
 *
 * Where this deliberately differs from Beast (for the tests that use it):
 * - A stream that was never connected keeps what it writes; `written()` returns
 *   it (Beast fails such writes with `connection_reset`).
 * - `append()` wakes a pending read (Beast's does not).
 * - `shutdownSend()` is Asio's `socket.shutdown(shutdown_send)`: the peer reads
 *   `eof` after the buffered bytes, this end can still read, and later writes
 *   fail with `brokenPipe` (EPIPE, what Linux reports). Websocket teardown uses it.
 * - A pending read honours per-operation cancellation (terminal, partial and
 *   total: nothing has been consumed, so every type is side-effect free) and
 *   `cancel()`; both complete it with `operationAborted`.
 *
 * The stream has no `nextLayer()`, so it is its own lowest layer.
 */

import {
  type AsyncResult,
  asyncInitiate,
  type CompletionHandler,
  type CompletionToken,
  type DefaultToken,
  type ErrorCode,
  error,
  getAssociatedCancellationSlot,
  type InitiationObject,
} from '@tsio/completion-token';
import { defaultExecutor, type Executor, type ExecutorOrContext, toExecutor } from '@tsio/executor';
import { bufferBytes, bufferCopy, type ConstBufferSequence, type MutableBufferSequence } from './buffer.js';
import { testError } from './error.js';
import { FlatBuffer } from './flat-buffer.js';
import type { AsyncStream } from './stream.js';

/**
 * Beast's `test::fail_count`: counts operations and makes the `n`-th fail
 * with `ec`. As in Beast, once the count is reached every later operation
 * fails too, so a composed operation that retries cannot escape the failure
 * and the "loop the fail count upward until success" pattern terminates.
 * One instance may be shared by several streams (and by other test objects):
 * the count is global across them. `new FailCount(0)` fails every operation,
 * as Beast's does.
 */
export class FailCount {
  private i = 0;

  constructor(
    readonly n: number,
    readonly ec: ErrorCode = testError.testFailure,
  ) {
    if (!(Number.isInteger(n) && n >= 0)) throw new RangeError(`FailCount: n must be a non-negative integer`);
  }

  /** Counts one operation; returns the error to fail it with, or null to let it proceed. */
  fail(): ErrorCode | null {
    if (this.i < this.n) this.i++;
    return this.i === this.n ? this.ec : null;
  }

  /** Beast's throwing `fail()`, for synchronous code under test. */
  failOrThrow(): void {
    const ec = this.fail();
    if (ec) throw new Error(`FailCount: ${ec.toString()}`);
  }

  /** Operations counted so far (capped at `n`). */
  count(): number {
    return this.i;
  }
}

export interface TestStreamOptions {
  /** Shared fail count; every `readSome` and `writeSome` of the stream counts. */
  failCount?: FailCount;
  /** Initial input, as if appended (Beast's `stream(ioc, s)`). */
  data?: string | Uint8Array;
  /** Largest number of bytes one `readSome` returns (Beast's `read_size`). */
  readSize?: number;
  /** Largest number of bytes one `writeSome` accepts (Beast's `write_size`). */
  writeSize?: number;
}

interface PendingRead {
  handler: CompletionHandler<[number]>;
  buffers: MutableBufferSequence;
}

type ReadInitiation = InitiationObject<[number], [MutableBufferSequence]>;
type WriteInitiation = InitiationObject<[number], [ConstBufferSequence]>;

function toBytes(data: string | Uint8Array): Uint8Array {
  return typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
}

function checkSize(n: number, what: string): void {
  if (!(n === Number.POSITIVE_INFINITY || (Number.isInteger(n) && n >= 1))) {
    throw new RangeError(`${what} must be a positive integer or Infinity, got ${String(n)}`);
  }
}

export class TestStream implements AsyncStream {
  private readonly executor: Executor;
  private readonly fc: FailCount | undefined;
  /** This end's input: bytes the peer (or `append`) put here, not yet read. */
  private readonly input = new FlatBuffer();
  /** Input closed (`close`, `closeRemote`, peer's `close` / `shutdownSend`): reads drain it, then get `eof`. */
  private inputClosed = false;
  private pending: PendingRead | null = null;
  private peer: TestStream | null = null;
  private everConnected = false;
  private open = true;
  private sendShut = false;
  /** Bytes written while never connected. */
  private sink: FlatBuffer | null = null;
  private readMax: number;
  private writeMax: number;
  private nReads = 0;
  private nWrites = 0;
  private nReadBytes = 0;
  private nWriteBytes = 0;
  // Initiation objects made once, so a readSome / writeSome allocates no initiation per call.
  private readonly readInit: ReadInitiation;
  private readonly writeInit: WriteInitiation;

  constructor(executorOrContext?: ExecutorOrContext, options: TestStreamOptions = {}) {
    this.executor = executorOrContext ? toExecutor(executorOrContext) : defaultExecutor();
    this.fc = options.failCount;
    this.readMax = options.readSize ?? Number.POSITIVE_INFINITY;
    this.writeMax = options.writeSize ?? Number.POSITIVE_INFINITY;
    checkSize(this.readMax, 'readSize');
    checkSize(this.writeMax, 'writeSize');
    if (options.data !== undefined) this.appendBytes(toBytes(options.data));
    this.readInit = { executor: this.executor, initiate: (h, b) => this.startRead(h, b) };
    this.writeInit = { executor: this.executor, initiate: (h, b) => this.startWrite(h, b) };
  }

  /** Two connected streams on one executor, sharing the options (and so a fail count). */
  static pair(
    executorOrContext?: ExecutorOrContext,
    options: TestStreamOptions = {},
  ): [TestStream, TestStream] {
    const { data: _ignored, ...shared } = options;
    const a = new TestStream(executorOrContext, shared);
    const b = new TestStream(executorOrContext, shared);
    a.connect(b);
    return [a, b];
  }

  /** Beast's free `connect(s1, s2)`. */
  static connect(a: TestStream, b: TestStream): void {
    a.connect(b);
  }

  getExecutor(): Executor {
    return this.executor;
  }

  /** Connects this stream and `remote` as the two ends of a pipe. Both must be unconnected and open. */
  connect(remote: TestStream): void {
    if (remote === this) throw new Error('TestStream: cannot connect a stream to itself');
    if (this.peer || remote.peer || this.everConnected || remote.everConnected) {
      throw new Error('TestStream: already connected');
    }
    if (!this.open || !remote.open) throw new Error('TestStream: cannot connect a closed stream');
    if (!this.executor.equals(remote.executor)) {
      throw new Error('TestStream: both ends must use the same executor');
    }
    this.peer = remote;
    remote.peer = this;
    this.everConnected = true;
    remote.everConnected = true;
  }

  /** The connected peer, or null (never connected, or this end closed). */
  remote(): TestStream | null {
    return this.peer;
  }

  isOpen(): boolean {
    return this.open;
  }

  /** Largest number of bytes one `readSize` returns from now on (Beast's `read_size`). */
  readSize(n: number): void {
    checkSize(n, 'readSize');
    this.readMax = n;
  }

  /** Largest number of bytes one `writeSome` accepts from now on (Beast's `write_size`). */
  writeSize(n: number): void {
    checkSize(n, 'writeSize');
    this.writeMax = n;
  }

  /** The fail count given at construction, for layers (websocket teardown) that emulate Beast's test hooks. */
  failCount(): FailCount | undefined {
    return this.fc;
  }

  /**
   * Beast's `str()`: this stream's input not yet read, decoded (UTF-8 by
   * default; `'latin1'` is byte for byte). On one end of a pair, that is what
   * the other end wrote and nobody has read.
   */
  str(encoding: BufferEncoding = 'utf8'): string {
    return this.input.toString(encoding);
  }

  /** A copy of this stream's unread input bytes. */
  bytes(): Buffer {
    return Buffer.from(this.input.data());
  }

  /** Adds bytes to this stream's input (Beast's `append`) and wakes a pending read. */
  append(data: string | Uint8Array): void {
    this.appendBytes(toBytes(data));
    this.wakeReader();
  }

  /** Discards this stream's unread input (Beast's `clear`). */
  clear(): void {
    this.input.consume(Number.POSITIVE_INFINITY);
  }

  /** What this stream wrote while never connected (always '' for a stream of a pair). */
  written(encoding: BufferEncoding = 'utf8'): string {
    return this.sink ? this.sink.toString(encoding) : '';
  }

  /** A copy of the bytes {@link written} returns. */
  writtenBytes(): Buffer {
    return this.sink ? Buffer.from(this.sink.data()) : Buffer.alloc(0);
  }

  /** Forgets what {@link written} returns. */
  clearWritten(): void {
    this.sink?.consume(Number.POSITIVE_INFINITY);
  }

  /** Number of `readSome` calls (Beast's `nread`). */
  nread(): number {
    return this.nReads;
  }

  /** Bytes delivered by `readSome` (Beast's `nread_bytes`). */
  nreadBytes(): number {
    return this.nReadBytes;
  }

  /** Number of `writeSome` calls (Beast's `nwrite`). */
  nwrite(): number {
    return this.nWrites;
  }

  /** Bytes accepted by `writeSome` (Beast's `nwrite_bytes`). */
  nwriteBytes(): number {
    return this.nWriteBytes;
  }

  /**
   * Closes this end (Beast's `close`): a pending read completes with
   * `operationAborted`, later reads get the buffered bytes and then `eof`,
   * later writes fail with `connectionReset`; the peer reads `eof` once it
   * has consumed what was sent. Closing twice does nothing.
   */
  close(): void {
    if (!this.open) return;
    this.open = false;
    this.inputClosed = true;
    this.abortRead(error.operationAborted);
    const peer = this.peer;
    this.peer = null;
    peer?.closeInput();
  }

  /** Closes this stream's input as if the peer had closed (Beast's `close_remote`): reads drain, then `eof`. */
  closeRemote(): void {
    this.closeInput();
  }

  /**
   * Asio's `shutdown(shutdown_send)`: the peer reads `eof` after the bytes
   * already sent; this end keeps reading; later writes fail with `brokenPipe`.
   */
  shutdownSend(): void {
    if (this.sendShut) return;
    this.sendShut = true;
    this.peer?.closeInput();
  }

  /** Completes a pending read with `operationAborted` (the stream stays usable). */
  cancel(): void {
    this.abortRead(error.operationAborted);
  }

  readSome<T extends CompletionToken<[number]> = DefaultToken<[number]>>(
    buffers: MutableBufferSequence,
    token?: T,
  ): AsyncResult<T, [number]> {
    return asyncInitiate<[number], [MutableBufferSequence], T>(this.readInit, token, buffers);
  }

  writeSome<T extends CompletionToken<[number]> = DefaultToken<[number]>>(
    buffers: ConstBufferSequence,
    token?: T,
  ): AsyncResult<T, [number]> {
    return asyncInitiate<[number], [ConstBufferSequence], T>(this.writeInit, token, buffers);
  }

  private appendBytes(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.input.prepare(bytes.length).set(bytes);
    this.input.commit(bytes.length);
  }

  private closeInput(): void {
    if (this.inputClosed) return;
    this.inputClosed = true;
    this.wakeReader();
  }

  private startRead(handler: CompletionHandler<[number]>, buffers: MutableBufferSequence): void {
    this.nReads++;
    // Beast treats a second pending read as a logic error, not an error code.
    if (this.pending) throw new Error('TestStream: a read is already pending');
    const failed = this.fc?.fail();
    if (failed) {
      handler(failed, 0);
      return;
    }
    if (bufferBytes(buffers) === 0) {
      handler(null, 0);
      return;
    }
    if (this.input.size() > 0) {
      handler(null, this.take(buffers));
      return;
    }
    if (this.inputClosed) {
      handler(error.eof, 0);
      return;
    }
    // Waiting: counts as work, so IoContext.run() does not return under a pending read (as Beast's work guard).
    this.executor.onWorkStarted();
    this.pending = { handler, buffers };
    getAssociatedCancellationSlot(handler)?.assign(() => {
      // Nothing has been consumed yet, so terminal, partial and total are all honoured.
      this.abortRead(error.operationAborted);
    });
  }

  private take(buffers: MutableBufferSequence): number {
    const n = bufferCopy(buffers, this.input.data(), this.readMax);
    this.input.consume(n);
    this.nReadBytes += n;
    return n;
  }

  /**
   * Completes the pending read from a posted function rather than from here:
   * the caller is the peer's writeSome or close, and running the reader's
   * handler inside it would interleave two operations' code (Beast posts too).
   */
  private wakeReader(): void {
    const op = this.pending;
    if (!op) return;
    this.pending = null;
    getAssociatedCancellationSlot(op.handler)?.clear();
    this.executor.post(() => {
      this.executor.onWorkFinished();
      if (this.input.size() > 0) op.handler(null, this.take(op.buffers));
      else op.handler(error.eof, 0);
    });
  }

  private abortRead(ec: ErrorCode): void {
    const op = this.pending;
    if (!op) return;
    this.pending = null;
    getAssociatedCancellationSlot(op.handler)?.clear();
    // Posted like Asio's socket.cancel(): a cancel() called from a handler must not run the
    // read's handler inside it.
    this.executor.post(() => {
      this.executor.onWorkFinished();
      op.handler(ec, 0);
    });
  }

  private startWrite(handler: CompletionHandler<[number]>, buffers: ConstBufferSequence): void {
    this.nWrites++;
    const failed = this.fc?.fail();
    if (failed) {
      handler(failed, 0);
      return;
    }
    const size = bufferBytes(buffers);
    if (size === 0) {
      handler(null, 0);
      return;
    }
    if (!this.open) {
      handler(error.connectionReset, 0);
      return;
    }
    if (this.sendShut) {
      handler(error.brokenPipe, 0);
      return;
    }
    const n = Math.min(size, this.writeMax);
    const peer = this.peer;
    let target: FlatBuffer;
    if (peer) target = peer.input;
    else if (!this.everConnected) target = this.sink ??= new FlatBuffer();
    else {
      handler(error.connectionReset, 0);
      return;
    }
    bufferCopy(target.prepare(n), buffers, n);
    target.commit(n);
    this.nWriteBytes += n;
    peer?.wakeReader();
    handler(null, n);
  }
}
