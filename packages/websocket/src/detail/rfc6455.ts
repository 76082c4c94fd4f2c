/**
 * Constants of the WebSocket protocol (RFC 6455) and close-code rules.
 */

/** Frame opcodes, RFC 6455 §5.2 / §11.8. Values 3–7 and 11–15 are reserved. */
export const Opcode = {
  cont: 0,
  text: 1,
  binary: 2,
  close: 8,
  ping: 9,
  pong: 10,
} as const;
export type Opcode = (typeof Opcode)[keyof typeof Opcode];

/**
 * Close status codes with Beast's `websocket::close_code` names
 * (RFC 6455 §7.4.1 and the IANA "WebSocket Close Code Number" registry).
 */
export const closeCode = {
  /** Normal closure; the purpose for which the connection was established has been fulfilled. */
  normal: 1000,
  /** The endpoint is going away (server shutdown, browser navigating away). */
  goingAway: 1001,
  /** Protocol error. */
  protocolError: 1002,
  /** Received a type of data the endpoint cannot accept. */
  unknownData: 1003,
  /** Received data inconsistent with the message type (e.g. non-UTF-8 text). */
  badPayload: 1007,
  /** A message violated the endpoint's policy. */
  policyError: 1008,
  /** A message was too big to process. */
  tooBig: 1009,
  /** The client expected the server to negotiate an extension. */
  needsExtension: 1010,
  /** Unexpected condition on the server. */
  internalError: 1011,
  /** The service is restarting. */
  serviceRestart: 1012,
  /** Temporary server condition; try again later. */
  tryAgainLater: 1013,
  /** A gateway or proxy received an invalid response upstream. */
  badGateway: 1014,

  /** Beast's sentinel: "no code" — sends an empty close payload. Never on the wire. */
  none: 0,
  /** Reserved by RFC 6455 §7.4.1; never on the wire. */
  reserved1: 1004,
  /** "No status received": an empty close payload was received. Never on the wire. */
  noStatus: 1005,
  /** "Abnormal closure": closed without a close frame. Never on the wire. */
  abnormal: 1006,
  /** TLS handshake failure. Never on the wire. */
  reserved3: 1015,
} as const;
export type CloseCode = (typeof closeCode)[keyof typeof closeCode];

/** A close code and its UTF-8 reason (Beast's `close_reason`). */
export interface CloseReason {
  code: number;
  reason: string;
}

/**
 * Whether `code` may appear in a close frame on the wire (RFC 6455 §7.4).
 *
 * - 0–999: not used (§7.4.2).
 * - 1000–2999: reserved for the protocol and extensions; only codes that are
 *   defined (1000–1003, 1007–1014) may be sent. 1004 is reserved and 1005,
 *   1006, 1015 are designated "MUST NOT be set as a status code in a Close
 *   control frame" (§7.4.1). 1016–2999 are unassigned, so an endpoint cannot
 *   know their meaning and treats them as a protocol error (like Beast and the
 *   Autobahn test suite do).
 * - 3000–3999: registered with IANA for libraries/frameworks; 4000–4999:
 *   private use. Both are valid.
 * - ≥ 5000: outside the defined ranges.
 */
export function isValidCloseCode(code: number): boolean {
  if (!Number.isInteger(code)) return false;
  if (code >= 1000 && code <= 1003) return true;
  if (code >= 1007 && code <= 1014) return true;
  return code >= 3000 && code <= 4999;
}

/** Maximum payload length of a control frame (RFC 6455 §5.5). */
export const maxControlFramePayload = 125;

/** Maximum reason length in a close frame: 125 minus the 2-byte code (RFC 6455 §5.5.1). */
export const maxCloseReasonBytes = 123;
