/**
 * `websocket::` in Beast's examples: `stream`, `close_code`, `error`,
 * `condition`, `stream_base` options and the request/response types; plus
 * what the websocket package adds beside Beast (message iterables and
 * Observables). Re-exported whole, so new exports of `@tsio/websocket`
 * (permessage-deflate, subprotocols) appear here as they land.
 */
import { Decorator, RequestType, ResponseType, Timeout } from '@tsio/websocket';

export * from '@tsio/websocket';

/**
 * `websocket::stream_base`: the home of the option types in Beast, so that
 * `ws.setOption(websocket.streamBase.timeout.suggested(beast.roleType.server))`
 * and `ws.setOption(new websocket.streamBase.Decorator(fn))` read as they do
 * in C++. `timeout` and `decorator` keep Beast's lowercase spelling;
 * `Timeout` and `Decorator` are the same classes under TypeScript's.
 */
export const streamBase = {
  timeout: Timeout,
  Timeout,
  decorator: Decorator,
  Decorator,
} as const;

/** `websocket::request_type`, the handshake request a client decorator receives. */
export const requestType = RequestType;
/** `websocket::response_type`, the handshake response a server decorator receives. */
export const responseType = ResponseType;
