/**
 * `net::` in Beast's examples is `boost::asio`: executors and contexts,
 * post/dispatch/defer, strands, completion tokens, error codes, buffers,
 * composed read/write, and `ip::tcp`.
 *
 * The lower packages are re-exported whole, so an export they add (a timer,
 * the TLS stream) appears here without a change to this file.
 */
export * from '@tsio/completion-token';
export * from '@tsio/executor';
export * from '@tsio/net';
export { coSpawn } from './co-spawn.js';
