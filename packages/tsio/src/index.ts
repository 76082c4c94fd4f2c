/**
 * tsio — the umbrella package. Beast programs name things through four
 * namespaces (`net::` for Asio, `beast::`, `websocket::`, `http::`); this
 * module gives the same four, so that
 *
 * ```ts
 * import { beast, http, net, websocket } from 'tsio';
 * ```
 *
 * lets a port keep Beast's paths: `net.ip.tcp.Acceptor`, `beast.TcpStream`,
 * `websocket.closeCode.normal`, `http.field.userAgent`.
 */
export * as beast from './beast.js';
export * as http from './http.js';
export * as net from './net.js';
export * as websocket from './websocket.js';
