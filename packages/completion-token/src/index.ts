export type { Associated } from './associated.js';
export {
  associatedExecutorKey,
  associatedSlotKey,
  copyAssociations,
  getAssociatedCancellationSlot,
  getAssociatedExecutor,
} from './associated.js';
export type {
  AsyncResult,
  CompletionHandler,
  CompletionToken,
  DefaultToken,
  DeferredOperation,
  Initiation,
  InitiationObject,
  Start,
  TokenObject,
  TokenResults,
  UsePromise,
  ValueOf,
} from './async-result.js';
export { asyncInitiate, asyncResult, Completion, launch, tokenKind } from './async-result.js';
export type { CancellationHandler, CancellationType } from './cancellation.js';
export { CancellationSignal, CancellationSlot, CancellationState, cancellationType } from './cancellation.js';
export type { ComposeImpl, ComposeSelf, IoObject } from './compose.js';
export { asyncCompose } from './compose.js';
export { ComposedOperation } from './composed-operation.js';
export {
  condition,
  defineErrors,
  ErrorCategory,
  ErrorCode,
  ErrorCondition,
  error,
  errorFromErrno,
  netCategory,
  SystemError,
  systemCategory,
} from './error.js';
export type {
  AppendToken,
  AsTupleToken,
  Deferred,
  Detached,
  ErrorRef,
  PassThroughToken,
  PrependToken,
  UseObservable,
} from './tokens.js';
export {
  append,
  asTuple,
  bindCancellationSlot,
  bindExecutor,
  cancelAfter,
  consign,
  deferred,
  detached,
  prepend,
  redirectError,
  useObservable,
  usePromise,
  withAbortSignal,
} from './tokens.js';
