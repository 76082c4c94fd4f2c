import type { ErrorCode } from '@tsio/completion-token';
import type { ConstBufferSequence } from './buffer.js';

/**
 * The key of an optional stream method that lends received bytes instead of
 * copying them (`ChunkLender`). `TcpStream` and `SslStream` have it.
 */
export const lendSome: unique symbol = Symbol.for('tsio.lendSome');

/** What a lending read completes with: the bytes when `ec` is null (`chunk` means nothing otherwise). */
export type LendHandler = (ec: ErrorCode | null, chunk: Buffer) => void;

/** The key of `LendReceiver`'s method. */
export const lent: unique symbol = Symbol.for('tsio.lent');

/**
 * A lending read's completion as a method of an object the reader already
 * has (its read operation), instead of a handler function: a stream that
 * always keeps a read pending then keeps no bound function for it (48 B per
 * idle WebSocket connection). It has no associated executor or cancellation
 * slot: it is called on the lending stream's executor, never inline, and
 * cannot be cancelled except by closing the stream.
 */
export interface LendReceiver {
  [lent](ec: ErrorCode | null, chunk: Buffer): void;
}

/**
 * A stream that can lend the bytes it has received — a tsio addition to
 * Asio's stream concepts. `[lendSome](handler)` is `readSome` without a
 * destination: it completes with the next bytes received, at least one, as
 * a `Buffer` that belongs to the caller from then on (to keep, parse in
 * place or modify). Everything else is `readSome`'s: never inline,
 * cancellation, expiry, `eof`. The handler may be a `LendReceiver` instead
 * of a function.
 *
 * Node hands a socket's bytes over in buffers of its own; a layer that
 * parses them where they are (a WebSocket stream reading frames) saves the
 * copy into a read buffer of its own, and an idle connection keeps no read
 * buffer at all.
 */
export interface ChunkLender {
  [lendSome](handler: LendHandler | LendReceiver): void;
}

/** Whether `stream` can lend its received bytes (`ChunkLender`). */
export function isChunkLender(stream: unknown): stream is ChunkLender {
  return (
    typeof stream === 'object' &&
    stream !== null &&
    typeof (stream as Partial<ChunkLender>)[lendSome] === 'function'
  );
}

/**
 * The key of an optional stream method that writes at once when it can
 * (`SpeculativeWriter`). `TcpStream` and `SslStream` have it.
 */
export const writeNow: unique symbol = Symbol.for('tsio.writeNow');

/**
 * A stream that can take bytes synchronously — Asio's speculative write
 * (reactive_socket_service tries a non-blocking send before it waits), as a
 * method: `[writeNow](buffers, bytes)` takes all `bytes` of `buffers` and
 * returns `bytes` when a `writeSome` of them would complete at once,
 * otherwise takes nothing and returns 0 (then use `writeSome`). A composed
 * operation uses it to skip the intermediate completion it would
 * otherwise wait for; its own completion still follows the never-inline rule.
 */
export interface SpeculativeWriter {
  [writeNow](buffers: ConstBufferSequence, bytes: number): number;
}

/** Whether `stream` can write synchronously when it has room (`SpeculativeWriter`). */
export function isSpeculativeWriter(stream: unknown): stream is SpeculativeWriter {
  return (
    typeof stream === 'object' &&
    stream !== null &&
    typeof (stream as Partial<SpeculativeWriter>)[writeNow] === 'function'
  );
}
