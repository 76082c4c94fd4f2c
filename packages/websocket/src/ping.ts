/*
 * Ping and pong (Beast impl/ping.hpp, RFC 6455 §5.5.2–§5.5.3). A control
 * frame takes the write block like a write, so it waits for the frame being
 * written and never splits it.
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
import { maxControlFramePayload, Opcode } from './detail/rfc6455.js';
import { error } from './error.js';
import { StreamImpl } from './impl.js';
import { writeAll } from './read.js';

class PingOp<Next extends AsyncStream> {
  constructor(
    private readonly impl: StreamImpl<Next>,
    private readonly self: ComposeSelf<[]>,
    private readonly opcode: number,
    private readonly payload: Buffer,
  ) {}

  start(): void {
    const impl = this.impl;
    if (this.payload.length > maxControlFramePayload) return this.self.complete(netError.invalidArgument);
    if (impl.wrBlock instanceof PingOp || impl.hasWriteWaiter('ping')) {
      return this.self.complete(error.operationNotPermitted);
    }
    impl.lockWriteOrPark(
      this,
      'ping',
      this.self,
      () => this.run(),
      () => this.self.complete(netError.operationAborted),
    );
  }

  private run(): void {
    const impl = this.impl;
    if (impl.wrClose) return this.finish(error.closed);
    if (impl.status !== 'open') return this.finish(impl.notOpenError());
    const frame = impl.makeFrame(this.opcode, true, [this.payload], this.payload.length);
    writeAll(
      impl.next,
      frame,
      this.self.bind((ec: ErrorCode | null) => {
        if (ec) {
          const reported = impl.stopError(ec);
          impl.closeNextLayer();
          return this.finish(reported);
        }
        this.finish(null);
      }),
    );
  }

  private finish(ec: ErrorCode | null): void {
    this.impl.unlockWrite(this);
    this.self.complete(ec);
  }
}

export function startPing<Next extends AsyncStream, T extends CompletionToken<[]> = DefaultToken<[]>>(
  impl: StreamImpl<Next>,
  opcode: typeof Opcode.ping | typeof Opcode.pong,
  payload: string | Uint8Array,
  token: T | undefined,
): AsyncResult<T, []> {
  // Copied at initiation: the caller may reuse its buffer before the frame goes out.
  const bytes = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : Buffer.from(payload);
  return asyncCompose<[], T>((self) => new PingOp(impl, self, opcode, bytes).start(), token, impl.next);
}

/**
 * The keep-alive ping of the idle timer (Beast's `idle_ping_op` in
 * impl/ping.hpp): no caller waits for it. It takes the write block with
 * priority 'idlePing', so it slips in between the fragments of a message
 * being written; if one is already waiting, or the stream is closing, it is
 * skipped. A write error closes the next layer so that the pending read
 * reports it.
 */
export function sendIdlePing<Next extends AsyncStream>(impl: StreamImpl<Next>): void {
  if (impl.status !== 'open' || impl.wrClose || impl.hasWriteWaiter('idlePing')) return;
  const owner = {};
  const send = () => {
    if (impl.status !== 'open' || impl.wrClose) return impl.unlockWrite(owner);
    writeAll(impl.next, impl.makeFrame(Opcode.ping, true, [], 0), (ec) => {
      impl.unlockWrite(owner);
      if (ec) impl.closeNextLayer();
    });
  };
  if (impl.tryLockWrite(owner, 'idlePing', send)) send();
}

// The idle timer in impl.ts calls this through a static hook (no import cycle, no closure per stream).
StreamImpl.idlePing = sendIdlePing;
