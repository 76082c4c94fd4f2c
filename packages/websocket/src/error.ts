import { defineErrors, ErrorCategory, type ErrorCode, ErrorCondition } from '@tsio/completion-token';
import type { WsErrorName } from './detail/error-names.js';

/** Beast's `websocket::error` category (websocket/error.hpp), same names in camelCase, same order. */
export const websocketCategory: ErrorCategory = new ErrorCategory('websocket');

export const error = defineErrors(websocketCategory, {
  closed: 'The WebSocket stream was gracefully closed at both endpoints',
  bufferOverflow: 'The WebSocket operation caused a dynamic buffer overflow',
  partialDeflateBlock: 'The WebSocket stream produced an incomplete deflate block',
  messageTooBig: 'The WebSocket message exceeded the locally configured limit',
  badHttpVersion: 'The WebSocket handshake was not HTTP/1.1',
  badMethod: 'The WebSocket handshake method was not GET',
  noHost: 'The WebSocket handshake Host field is missing',
  noConnection: 'The WebSocket handshake Connection field is missing',
  noConnectionUpgrade: 'The WebSocket handshake Connection field is missing the upgrade token',
  noUpgrade: 'The WebSocket handshake Upgrade field is missing',
  noUpgradeWebsocket: 'The WebSocket handshake Upgrade field is missing the websocket token',
  noSecKey: 'The WebSocket handshake Sec-WebSocket-Key field is missing',
  badSecKey: 'The WebSocket handshake Sec-WebSocket-Key field is invalid',
  noSecVersion: 'The WebSocket handshake Sec-WebSocket-Version field is missing',
  badSecVersion: 'The WebSocket handshake Sec-WebSocket-Version field is invalid',
  noSecAccept: 'The WebSocket handshake Sec-WebSocket-Accept field is missing',
  badSecAccept: 'The WebSocket handshake Sec-WebSocket-Accept field is invalid',
  upgradeDeclined: 'The WebSocket handshake was declined by the remote peer',
  badOpcode: 'The WebSocket frame contained an illegal opcode',
  badDataFrame: 'The WebSocket data frame was unexpected',
  badContinuation: 'The WebSocket continuation frame was unexpected',
  badReservedBits: 'The WebSocket frame contained illegal reserved bits',
  badControlFragment: 'The WebSocket control frame was fragmented',
  badControlSize: 'The WebSocket control frame size was invalid',
  badUnmaskedFrame: 'The WebSocket frame was unmasked',
  badMaskedFrame: 'The WebSocket frame was masked',
  badSize: 'The WebSocket frame size was not canonical',
  badFramePayload: 'The WebSocket frame payload was not valid utf8',
  badCloseCode: 'The WebSocket close frame reason code was invalid',
  badCloseSize: 'The WebSocket close frame payload size was invalid',
  badClosePayload: 'The WebSocket close frame payload was not valid utf8',
  // Beast reports these through http::error; tsio keeps them in this category.
  headerLimit: 'The WebSocket handshake HTTP head exceeded the size limit',
  tooManyFields: 'The WebSocket handshake HTTP head had too many fields',
  badHttpRequest: 'The WebSocket handshake HTTP request was malformed',
  badHttpResponse: 'The WebSocket handshake HTTP response was malformed',
  badExtension: 'The WebSocket handshake Sec-WebSocket-Extensions negotiation failed',
  /** tsio: RFC 6455 §4.1 — Beast leaves this check to the user. */
  badSecProtocol: 'The WebSocket handshake Sec-WebSocket-Protocol field is invalid',
  /** tsio: Beast reports zlib's own error code here. */
  badDeflatePayload: 'The WebSocket compressed message could not be inflated',
  /** tsio: an operation that Beast forbids by assertion (a second close, two reads at once). */
  operationNotPermitted: 'The WebSocket operation is not permitted in the current state',
  /** tsio: a user hook (decorator, request filter, subprotocol selector) threw during the handshake. */
  handshakeHookFailed: 'A WebSocket handshake hook threw',
});

/** The code for a name reported by the pure modules in `detail/`. */
export function errorFromName(name: WsErrorName): ErrorCode {
  return error[name];
}

const handshakeCodes = new Set<ErrorCode>([
  error.badHttpVersion,
  error.badMethod,
  error.noHost,
  error.noConnection,
  error.noConnectionUpgrade,
  error.noUpgrade,
  error.noUpgradeWebsocket,
  error.noSecKey,
  error.badSecKey,
  error.noSecVersion,
  error.badSecVersion,
  error.noSecAccept,
  error.badSecAccept,
  error.upgradeDeclined,
  error.headerLimit,
  error.tooManyFields,
  error.badHttpRequest,
  error.badHttpResponse,
  error.badExtension,
  error.badSecProtocol,
  error.handshakeHookFailed,
]);

const protocolCodes = new Set<ErrorCode>([
  error.badOpcode,
  error.badDataFrame,
  error.badContinuation,
  error.badReservedBits,
  error.badControlFragment,
  error.badControlSize,
  error.badUnmaskedFrame,
  error.badMaskedFrame,
  error.badSize,
  error.badFramePayload,
  error.badCloseCode,
  error.badCloseSize,
  error.badClosePayload,
  error.badDeflatePayload,
]);

/** Beast's `websocket::condition` (error.hpp). */
export const condition = {
  handshakeFailed: new ErrorCondition('handshakeFailed', (ec) => handshakeCodes.has(ec)),
  protocolViolation: new ErrorCondition('protocolViolation', (ec) => protocolCodes.has(ec)),
};
