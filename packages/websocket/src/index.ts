export type { AcceptInput } from './accept.js';
export { toCloseReason } from './close.js';
export { RequestType, ResponseType } from './detail/handshake.js';
export { Fields, field } from './detail/http-fields.js';
export type { PmdConfig, PmdOptions } from './detail/pmd.js';
export { type CloseReason, closeCode, Opcode } from './detail/rfc6455.js';
export { condition, error, errorFromName, websocketCategory } from './error.js';
export type { ControlCallback, FrameType, Refusal, Role, Status } from './impl.js';
export {
  type DuplexOptions,
  type DuplexOptions,
  type Message,
  type Message,
  messages,
  messages,
  messages$,
  messages$,
  toDuplex,
  toDuplex,
} from './messages.js';
export { Timeout } from './options.js';
export { Decorator, Stream, type StreamOption } from './stream.js';
export { asyncTeardown, type Teardownable } from './teardown.js';
export { acceptUpgrade, requestFromIncoming, streamFromUpgrade } from './upgrade.js';
