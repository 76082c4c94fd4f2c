export type { AcceptInput } from './accept.js';
export { toCloseReason } from './close.js';
export { RequestType, ResponseType } from './detail/handshake.js';
export { Fields, field } from './detail/http-fields.js';
export type { PmdConfig, PmdOptions } from './detail/pmd.js';
export { type CloseReason, closeCode, Opcode } from './detail/rfc6455.js';
export { condition, error, errorFromName, websocketCategory } from './error.js';
export type { ControlCallback, FrameType, Refusal, Role, Status } from './impl.js';
export { type DuplexOptions, type Message, messages, messages$, toDuplex } from './messages.js';
export {
  PermessageDeflate,
  RequestFilter,
  type SubprotocolSelector,
  Subprotocols,
  Timeout,
} from './options.js';
export { Decorator, Stream, type StreamOption } from './stream.js';
export { asyncTeardown, type Teardownable } from './teardown.js';
export { acceptUpgrade, isUpgrade, requestFromIncoming, streamFromUpgrade } from './upgrade.js';
