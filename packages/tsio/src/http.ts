/**
 * `http::` as far as a WebSocket program uses it: the field names a
 * decorator sets (`http.field.userAgent`, `http.field.server`), the field
 * container, and the request and response heads of the handshake, which
 * have Beast's `set(field, value)`.
 *
 * tsio has no HTTP message parser or serializer of its own beyond the
 * upgrade handshake; a server that also serves HTTP uses Node's `http`
 * module and hands the upgrade to `websocket.Stream.asyncAccept(request)`.
 */
import { RequestType, ResponseType } from '@tsio/websocket';

export { Fields, field, RequestType, ResponseType } from '@tsio/websocket';

/** `http::request<...>` of the handshake (Beast's `websocket::request_type`). */
export type Request = RequestType;
export const Request = RequestType;
/** `http::response<...>` of the handshake (Beast's `websocket::response_type`). */
export type Response = ResponseType;
export const Response = ResponseType;
