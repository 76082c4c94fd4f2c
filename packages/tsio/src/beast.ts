/**
 * `beast::` in Beast's examples: the TCP stream with timeouts, the dynamic
 * buffers, `get_lowest_layer`, `make_printable`, `bind_front_handler`,
 * `role_type`, Beast's own error category and the test stream.
 */
import { copyAssociations } from '@tsio/completion-token';
import {
  beastError,
  FailCount as FailCountClass,
  TestStream as TestStreamClass,
  testError as testErrorObject,
} from '@tsio/net';

export { ErrorCode, SystemError } from '@tsio/completion-token';
export type { DynamicBuffer, LowestLayer, Printable, TimePoint } from '@tsio/net';
export {
  buffersToString,
  FlatBuffer,
  FlatStaticBuffer,
  getLowestLayer,
  MultiBuffer,
  makePrintable,
  StaticBuffer,
  TcpStream,
} from '@tsio/net';

/** `beast::error`: `beast.error.timeout` is what an expired `TcpStream` or websocket timeout reports. */
export const error: typeof beastError = beastError;

/**
 * `beast::role_type`. The websocket package spells roles as the strings
 * `'client'` / `'server'`, so the enumerators are those strings and can be
 * passed wherever a role is taken (`websocket.streamBase.timeout.suggested`).
 */
export const roleType = { client: 'client', server: 'server' } as const;
export type RoleType = (typeof roleType)[keyof typeof roleType];

/**
 * `beast::bind_front_handler(&session::on_read, shared_from_this(), args...)`:
 * a handler that calls `fn` with `self` as `this`, the bound `args` first
 * and then the completion arguments.
 *
 * `shared_from_this()` exists in Beast to keep the session alive while an
 * operation is pending; here the pending operation's handler keeps `self`
 * reachable, so passing `this` is enough. The handler keeps the associated
 * executor and cancellation slot of `fn` (Beast's binder forwards
 * `associated_executor` too), so binding a handler already bound to a
 * strand still completes on that strand.
 */
export function bindFrontHandler<S, A extends unknown[], R extends unknown[]>(
  fn: (this: S, ...args: [...A, ...R]) => void,
  self: S,
  ...args: A
): (...rest: R) => void {
  return copyAssociations((...rest: R) => fn.call(self, ...args, ...rest), fn);
}

/**
 * `beast::test`: the in-memory stream pair (`test::stream`) with read/write
 * size limits and a fail count, and its error category.
 */
export namespace test {
  export type Stream = TestStreamClass;
  export const Stream = TestStreamClass;
  export type FailCount = FailCountClass;
  export const FailCount = FailCountClass;
  export const error = testErrorObject;
}
