/*
 * The close operation: the seed's `async_close` (seeds/async_close.html)
 * with Beast's mechanics (impl/close.hpp), as DESIGN.md "asyncClose, exactly":
 *
 *  1. The close frame is serialized at initiation (empty payload for
 *     `closeCode.none`, else code and reason; masked by a client).
 *  2. Wait for the write block: a write in progress finishes its current
 *     frame first, and a finishing write hands over to close before any
 *     queued ping. Total or terminal cancellation here has no side effect.
 *  3. Send the frame through the next layer's writeSome. From here on
 *     writes, pings and pongs fail.
 *  4. If a read is pending, it receives the peer's close frame and completes
 *     with `websocket.error.closed`; close waits for it. Otherwise close
 *     reads and discards frames until the peer's close frame arrives.
 *  5. Teardown (server closes TCP first), bounded by the handshake timeout.
 *  6. Only terminal cancellation after step 2: a dirty shutdown, completing
 *     with operationAborted.
 *  7. Never inline: a close on a closed stream completes through post.
 */
import {
  type AsyncResult,
  asyncCompose,
  type CompletionToken,
  type ComposeSelf,
  cancellationType,
  type DefaultToken,
  type ErrorCode,
  error as netError,
} from '@tsio/completion-token';
import { type AsyncStream, beastError } from '@tsio/net';
import {
  type CloseReason,
  closeCode,
  isValidCloseCode,
  maxCloseReasonBytes,
  Opcode,
} from './detail/rfc6455.js';
import { error } from './error.js';
import type { StreamImpl } from './impl.js';
import { startRead, writeAll } from './read.js';
import { asyncTeardown } from './teardown.js';

class CloseOp<Next extends AsyncStream> {
  private finished = false;
  private holdsRead = false;

  constructor(
    private readonly impl: StreamImpl<Next>,
    private readonly self: ComposeSelf<[]>,
    private readonly frame: Uint8Array[],
  ) {}

  start(): void {
    const impl = this.impl;
    if (impl.closeStarted) return this.self.complete(error.operationNotPermitted);
    if (impl.status !== 'open' && impl.status !== 'closing') return this.self.complete(impl.notOpenError());
    impl.closeStarted = true;
    impl.lockWriteOrPark(
      this,
      'close',
      this.self,
      () => this.send(),
      () => {
        impl.closeStarted = false;
        this.self.complete(netError.operationAborted);
      },
    );
  }

  private send(): void {
    const impl = this.impl;
    if (impl.wrClose) {
      // The peer closed first and a read already echoed its close frame.
      impl.unlockWrite(this);
      return this.finish(error.closed);
    }
    if (impl.status !== 'open') {
      impl.unlockWrite(this);
      return this.finish(impl.notOpenError());
    }
    impl.wrClose = true;
    impl.status = 'closing'; // arms the closing-handshake bound
    writeAll(
      impl.next,
      this.frame,
      this.self.bind((ec: ErrorCode | null) => {
        impl.unlockWrite(this);
        if (ec) return this.fail(ec);
        this.acquireRead();
      }),
    );
  }

  private acquireRead(): void {
    const impl = this.impl;
    if (!impl.tryLockRead(this, 'close', () => this.afterPendingRead())) {
      // A read is pending; it will receive the peer's close frame. Only
      // terminal cancellation now, and it means a dirty shutdown.
      this.self.cancellationSlot().assign((type) => {
        if (type & cancellationType.terminal && impl.cancelReadWaiter('close')) {
          impl.closeNextLayer();
          this.fail(netError.operationAborted);
        }
      });
      return;
    }
    this.holdsRead = true;
    this.drain();
  }

  private afterPendingRead(): void {
    this.holdsRead = true;
    this.self.cancellationSlot().clear();
    if (this.impl.rdClose) return this.teardown();
    if (this.impl.status !== 'closing') return this.finish(this.impl.notOpenError());
    this.drain();
  }

  /** Reads and discards frames until the peer's close frame (Beast: "Read until a receiving a close frame"). */
  private drain(): void {
    const impl = this.impl;
    if (impl.rdClose) return this.teardown();
    startRead(
      impl,
      'discard',
      null,
      Number.POSITIVE_INFINITY,
      true,
      this.self.bind((ec: ErrorCode | null) => {
        if (ec === error.closed) return this.teardown();
        // A protocol error or an I/O error while draining; the read already failed the connection.
        this.finish(ec ?? netError.operationAborted);
      }),
      this,
    );
  }

  private teardown(): void {
    const impl = this.impl;
    asyncTeardown(
      impl.role ?? 'server',
      impl.next,
      this.self.bind(() => {
        impl.clearTimer();
        if (impl.timedOut) {
          impl.status = 'failed';
          return this.finish(beastError.timeout);
        }
        // Both close frames crossed: that is a successful close (the seed, issue 5), whatever
        // the transport says during teardown. Beast would report a teardown error here.
        impl.status = 'closed';
        this.finish(null);
      }),
    );
  }

  private fail(ec: ErrorCode): void {
    const impl = this.impl;
    const reported = impl.stopError(ec);
    impl.closeNextLayer();
    this.finish(reported);
  }

  private finish(ec: ErrorCode | null): void {
    if (this.finished) return;
    this.finished = true;
    this.impl.clearTimer();
    if (this.holdsRead) this.impl.unlockRead(this);
    this.self.complete(ec);
  }
}

/** Beast's `close_reason` from what a user passes: a code, a reason object, or nothing (`none`). */
export function toCloseReason(cr: CloseReason | number | undefined): CloseReason {
  if (cr === undefined) return { code: closeCode.none, reason: '' };
  if (typeof cr === 'number') return { code: cr, reason: '' };
  return cr;
}

function validCloseReason(cr: CloseReason): boolean {
  if (cr.code === closeCode.none) return cr.reason.length === 0;
  return isValidCloseCode(cr.code) && Buffer.byteLength(cr.reason, 'utf8') <= maxCloseReasonBytes;
}

export function startClose<Next extends AsyncStream, T extends CompletionToken<[]> = DefaultToken<[]>>(
  impl: StreamImpl<Next>,
  reason: CloseReason | number | undefined,
  token: T | undefined,
): AsyncResult<T, []> {
  const cr = toCloseReason(reason);
  return asyncCompose<[], T>(
    (self) => {
      if (!validCloseReason(cr)) return self.complete(netError.invalidArgument);
      // Step 1: serialized now, masked with a fresh key by a client.
      const payload = Buffer.allocUnsafe(cr.code === closeCode.none ? 0 : 2 + Buffer.byteLength(cr.reason));
      if (cr.code !== closeCode.none) {
        payload.writeUInt16BE(cr.code, 0);
        payload.write(cr.reason, 2, 'utf8');
      }
      const frame = impl.makeFrame(Opcode.close, true, [payload], payload.length);
      new CloseOp(impl, self, frame).start();
    },
    token,
    impl.next,
  );
}
