/**
 * Asio's `async_write`: writes a whole buffer sequence (or the readable bytes
 * of a DynamicBuffer, which are then consumed), or until a completion
 * condition says stop — composed only of the stream's `writeSome`
 * (DESIGN.md, contract 2).
 *
 * Completion `(ec, bytesTransferred)`: on an error, the bytes counted are the
 * ones the stream accepted before it. Writing nothing completes with 0 at
 * once (posted, never inline) without calling `writeSome`.
 *
 * Cancellation: any type before the first byte is accepted, then terminal and
 * partial (some bytes may have gone out); completes with `operationAborted`.
 */

import {
  type AsyncResult,
  asyncCompose,
  type CompletionToken,
  type ComposeImpl,
  type DefaultToken,
} from '@tsio/completion-token';
import type { ConstBufferSequence } from './buffer.js';
import type { CompletionCondition } from './completion-condition.js';
import { type DynamicBuffer, isDynamicBuffer } from './dynamic-buffer.js';
import type { AsyncWriteStream } from './stream.js';
import { conditionAndToken, type TransferStep, transferBuffers } from './transfer-op.js';

/** Writes all of `buffers` (`transferAll()`); a DynamicBuffer's written bytes are consumed. */
export function asyncWrite<T extends CompletionToken<[number]> = DefaultToken<[number]>>(
  stream: AsyncWriteStream,
  buffers: ConstBufferSequence | DynamicBuffer,
  token?: T,
): AsyncResult<T, [number]>;
/** Writes until `condition` returns 0 (see {@link transferAtLeast}, {@link transferExactly}). */
export function asyncWrite<T extends CompletionToken<[number]> = DefaultToken<[number]>>(
  stream: AsyncWriteStream,
  buffers: ConstBufferSequence | DynamicBuffer,
  condition: CompletionCondition,
  token?: T,
): AsyncResult<T, [number]>;
export function asyncWrite<T extends CompletionToken<[number]> = DefaultToken<[number]>>(
  stream: AsyncWriteStream,
  buffers: ConstBufferSequence | DynamicBuffer,
  conditionOrToken?: CompletionCondition | T,
  token?: T,
): AsyncResult<T, [number]> {
  const args = conditionAndToken(conditionOrToken, token);
  const condition = args.condition;
  token = args.token;
  const step: TransferStep = (views, self) => {
    stream.writeSome(views, self);
  };
  let impl: ComposeImpl<[number]>;
  if (buffers instanceof Uint8Array || Array.isArray(buffers)) {
    impl = transferBuffers(buffers as ConstBufferSequence, condition, step);
  } else if (isDynamicBuffer(buffers)) {
    // Asio's write_dynbuf op: write the readable bytes, consume what went out. The bytes are
    // taken when the operation starts, which for the `deferred` token is later than this call.
    const dynamic = buffers;
    let inner: ComposeImpl<[number]> | undefined;
    impl = (self, ec, ...results) => {
      inner ??= transferBuffers(dynamic.data(), condition, step, (total) => dynamic.consume(total));
      inner(self, ec, ...results);
    };
  } else {
    throw new TypeError('asyncWrite: buffers must be a Uint8Array, an array of them, or a DynamicBuffer');
  }
  return asyncCompose<[number], T>(impl, token, stream);
}
