/**
 * Names of the errors the pure websocket modules can report.
 *
 * These are Beast's `websocket::error` enumerators in camelCase, so that the
 * stream layer can map each one 1:1 onto an `ErrorCode` of the
 * `websocket.error` category. The pure modules return plain strings (not
 * `ErrorCode`s) because they must not depend on other tsio packages.
 *
 * Names not present in Beast (marked below) cover failures that Beast reports
 * through `http::error` instead; the stream maps them as it sees fit.
 */
export type WsErrorName =
  // stream-level
  | 'closed'
  | 'bufferOverflow'
  | 'partialDeflateBlock'
  | 'messageTooBig'
  // handshake (RFC 6455 §4)
  | 'badHttpVersion'
  | 'badMethod'
  | 'noHost'
  | 'noConnection'
  | 'noConnectionUpgrade'
  | 'noUpgrade'
  | 'noUpgradeWebsocket'
  | 'noSecKey'
  | 'badSecKey'
  | 'noSecVersion'
  | 'badSecVersion'
  | 'noSecAccept'
  | 'badSecAccept'
  | 'upgradeDeclined'
  // framing (RFC 6455 §5)
  | 'badOpcode'
  | 'badDataFrame'
  | 'badContinuation'
  | 'badReservedBits'
  | 'badControlFragment'
  | 'badControlSize'
  | 'badUnmaskedFrame'
  | 'badMaskedFrame'
  | 'badSize'
  | 'badFramePayload'
  | 'badCloseCode'
  | 'badCloseSize'
  | 'badClosePayload'
  // Not in Beast's websocket::error (Beast uses http::error for these):
  /** The HTTP head exceeded the size limit (Beast: http::error::header_limit). */
  | 'headerLimit'
  /** Too many header fields in the HTTP head. */
  | 'tooManyFields'
  /** The request line or a header line of an HTTP request is malformed. */
  | 'badHttpRequest'
  /** The status line or a header line of an HTTP response is malformed. */
  | 'badHttpResponse'
  /** A `Sec-WebSocket-Extensions` negotiation failed (RFC 7692 §5.1: client must fail the connection). */
  | 'badExtension'
  /** tsio: the server selected a subprotocol the client did not offer (RFC 6455 §4.1: fail the connection). */
  | 'badSecProtocol'
  /** tsio: a compressed message could not be inflated (Beast reports zlib's own error code). */
  | 'badDeflatePayload'
  /** tsio: a user hook threw during the handshake; a server answers 500. */
  | 'handshakeHookFailed';
