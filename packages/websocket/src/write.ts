/*
 * The write operations (Beast impl/write.hpp, RFC 6455 §5.4).
 *
 * `asyncWrite` sends one whole message; `asyncWriteSome(fin, ...)` sends one
 * frame of a message that ends when `fin` is true. With `autoFragment` the
 * payload goes out in frames of `writeBufferBytes`; between two frames the
 * write block is released to a waiting close, ping or pong, which therefore
 * never splits a frame but may slip in between fragments (§5.4 allows
 * control frames in the middle of a fragmented message).
 */
import {
  type AsyncResult,
  asyncCompose,
  type CompletionToken,
  type ComposeSelf,
  type DefaultToken,
  type ErrorCode,
  error as netError,
} from '@tsio/completion-token';
import type { AsyncStream } from '@tsio/net';
import type { PmdCodec } from './deflate.js';
import { Opcode } from './detail/rfc6455.js';
import { error } from './error.js';
import type { StreamImpl } from './impl.js';

class WriteOp<Next extends AsyncStream> {
  private sent = 0;
  private fragLen = 0;
  /** What goes on the wire: the caller's bytes, or their compressed form (RFC 7692 §7.2.1). */
  private out: readonly Uint8Array[];
  private outTotal: number;
  private compressed = false;
  /** The frame being written and how many of its bytes are not yet accepted by the next layer. */
  private frame: readonly Uint8Array[] = [];
  private frameLeft = 0;
  private readonly onWritten: (ec: ErrorCode | null, n: number) => void;

  constructor(
    private readonly impl: StreamImpl<Next>,
    private readonly self: ComposeSelf<[number]>,
    private readonly payload: readonly Uint8Array[],
    private readonly total: number,
    /** The message ends with this operation. */
    private readonly fin: boolean,
  ) {
    this.onWritten = self.bind((ec: ErrorCode | null, n: number) => this.afterWrite(ec, n));
    this.out = payload;
    this.outTotal = total;
  }

  start(): void {
    const impl = this.impl;
    // At most one write at a time (Beast asserts; tsio reports it).
    if (impl.wrBlock instanceof WriteOp || impl.hasWriteWaiter('write')) {
      return this.self.complete(error.operationNotPermitted, 0);
    }
    // Waiting for a control frame to go out: total cancellation leaves no trace.
    impl.lockWriteOrPark(
      this,
      'write',
      this.self,
      () => this.run(),
      () => this.self.complete(netError.operationAborted, 0),
    );
  }

  private run(): void {
    const impl = this.impl;
    if (impl.wrClose) return this.finish(error.closed);
    if (impl.status !== 'open') return this.finish(impl.notOpenError());
    // Whether a message is compressed is decided on its first frame (Beast's msg_size_threshold, compress()).
    if (!impl.wrCont && this.sent === 0 && !this.compressed) {
      impl.wrDeflate = impl.pmd !== null && impl.wrCompress && impl.pmd.shouldCompress(this.total);
    }
    if (impl.wrDeflate && !this.compressed) return this.compress();
    const remaining = this.outTotal - this.sent;
    const len = impl.opts.autoFragment ? Math.min(remaining, impl.opts.writeBufferBytes) : remaining;
    const last = this.sent + len === this.outTotal;
    const frameFin = last && this.fin;
    const opcode = impl.wrCont ? Opcode.cont : impl.opts.binary ? Opcode.binary : Opcode.text;
    // RFC 7692 §6.1: RSV1 on the first frame of a compressed message only.
    const rsv1 = impl.wrDeflate && !impl.wrCont;
    impl.wrCont = !frameFin;
    this.fragLen = len;
    // A whole message in one frame (the common case) needs no slicing.
    const bytes = this.sent === 0 && len === this.outTotal ? this.out : slice(this.out, this.sent, len);
    this.frame = withoutEmpty(impl.makeFrame(opcode, frameFin, bytes, len, rsv1));
    this.frameLeft = byteLength(this.frame);
    // Straight to the next layer's writeSome rather than through `writeAll`: no
    // per-frame closure or filtered array (partial writes are handled in afterWrite).
    impl.next.writeSome(this.frame, this.onWritten);
  }

  /** Deflates this operation's bytes (holding the write block, so messages stay in order), then frames them. */
  private compress(): void {
    const impl = this.impl;
    const ex = this.self.getExecutor();
    (impl.pmd as PmdCodec).deflater().compress(this.payload, this.fin, (err, out) =>
      ex.post(() => {
        if (impl.status !== 'open') return this.finish(impl.notOpenError());
        if (err) {
          const reported = impl.stopError(error.partialDeflateBlock);
          impl.closeNextLayer();
          return this.finish(reported);
        }
        this.compressed = true;
        this.out = [out];
        this.outTotal = out.length;
        this.run();
      }),
    );
  }

  private afterWrite(ec: ErrorCode | null, n: number): void {
    const impl = this.impl;
    if (ec) {
      const reported = impl.stopError(ec);
      impl.closeNextLayer();
      return this.finish(reported);
    }
    this.frameLeft -= n;
    if (this.frameLeft > 0) {
      // A partial write (a next layer that takes less than everything): write the rest.
      this.frame = dropFront(this.frame, n);
      impl.next.writeSome(this.frame, this.onWritten);
      return;
    }
    this.sent += this.fragLen;
    if (this.sent === this.outTotal) return this.finish(null);
    // Let a waiting close, ping or pong out between two fragments.
    if (impl.yieldWrite(this, () => this.run())) return;
    this.run();
  }

  private finish(ec: ErrorCode | null): void {
    this.impl.unlockWrite(this);
    // Bytes of the caller's buffers: all of them once the compressed form is out, none before.
    const n = !this.compressed ? this.sent : this.sent === this.outTotal ? this.total : 0;
    this.self.complete(ec, n);
  }
}

function byteLength(bufs: readonly Uint8Array[]): number {
  let n = 0;
  for (let i = 0; i < bufs.length; i++) n += (bufs[i] as Uint8Array).length;
  return n;
}

/** The sequence without empty buffers (copied only when it has some). */
function withoutEmpty(bufs: Uint8Array[]): Uint8Array[] {
  for (let i = 0; i < bufs.length; i++) {
    if ((bufs[i] as Uint8Array).length === 0) return bufs.filter((b) => b.length > 0);
  }
  return bufs;
}

/** The sequence after its first `n` bytes. */
function dropFront(bufs: readonly Uint8Array[], n: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const b of bufs) {
    if (n >= b.length) {
      n -= b.length;
      continue;
    }
    out.push(n === 0 ? b : b.subarray(n));
    n = 0;
  }
  return out;
}

/** The bytes `[start, start + len)` of a buffer sequence, as views. */
function slice(bufs: readonly Uint8Array[], start: number, len: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  let skip = start;
  let want = len;
  for (const b of bufs) {
    if (want === 0) break;
    if (skip >= b.length) {
      skip -= b.length;
      continue;
    }
    const take = Math.min(b.length - skip, want);
    out.push(skip === 0 && take === b.length ? b : b.subarray(skip, skip + take));
    want -= take;
    skip = 0;
  }
  return out;
}

export function startWrite<
  Next extends AsyncStream,
  T extends CompletionToken<[number]> = DefaultToken<[number]>,
>(
  impl: StreamImpl<Next>,
  payload: readonly Uint8Array[],
  fin: boolean,
  token: T | undefined,
): AsyncResult<T, [number]> {
  let total = 0;
  for (const b of payload) total += b.length;
  return asyncCompose<[number], T>(
    (self) => new WriteOp(impl, self, payload, total, fin).start(),
    token,
    impl.next,
  );
}
