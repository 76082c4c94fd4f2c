import type { AsyncResult, CompletionToken, DefaultToken } from '@tsio/completion-token';
import type { Executor } from '@tsio/executor';
import type { ConstBufferSequence, MutableBufferSequence } from './buffer.js';

/**
 * Asio's AsyncReadStream: `readSome` reads at least one byte into the
 * buffers (or fails, with `eof` at the end of the stream) and completes with
 * the number of bytes read. Zero-length buffers complete at once with 0.
 */
export interface AsyncReadStream {
  getExecutor(): Executor;
  readSome<T extends CompletionToken<[number]> = DefaultToken<[number]>>(
    buffers: MutableBufferSequence,
    token?: T,
  ): AsyncResult<T, [number]>;
}

/**
 * Asio's AsyncWriteStream: `writeSome` writes at least one byte of the
 * buffers (unless they are empty) and completes with the number written.
 */
export interface AsyncWriteStream {
  getExecutor(): Executor;
  writeSome<T extends CompletionToken<[number]> = DefaultToken<[number]>>(
    buffers: ConstBufferSequence,
    token?: T,
  ): AsyncResult<T, [number]>;
}

export type AsyncStream = AsyncReadStream & AsyncWriteStream;

/** A layered stream (Beast's `next_layer()`), e.g. a websocket or TLS stream over TCP. */
export interface Layered<Next = unknown> {
  nextLayer(): Next;
}

/** The type at the bottom of a stack of layered streams. */
export type LowestLayer<S> = S extends { nextLayer(): infer N } ? LowestLayer<N> : S;

/**
 * Beast's `get_lowest_layer`: follows `nextLayer()` down to the stream that
 * has none (the `TcpStream` under a TLS stream under a websocket stream).
 */
export function getLowestLayer<S>(stream: S): LowestLayer<S> {
  let s: unknown = stream;
  while (typeof s === 'object' && s !== null && typeof (s as Layered).nextLayer === 'function') {
    s = (s as Layered).nextLayer();
  }
  return s as LowestLayer<S>;
}
