// Client adapter for tsio's own WebSocket client — TODO: not built yet.
//
// TODO(tsio): once packages/websocket has a client `Stream` over `TcpStream` (asyncHandshake,
// asyncWrite, asyncRead into a FlatBuffer), set `built = true` and implement `open` with the
// callback token (the fastest path), e.g.:
//   import { websocket, net } from 'tsio';
//   const ws = new websocket.Stream(await net.connect(host, port)); ws.binary(true);
//   ws.asyncHandshake(host, '/', cb); then loop asyncRead(buffer, onRead) -> onMessage(buffer.data())
//   send(buf) = ws.asyncWrite(buf, cb)  (with depth > 1 in flight the stream must queue writes)
// Adapter shape: see ws-client.mjs. Until then client-throughput.mjs reports "tsio: not built",
// and running this file directly exits with status 78 (EX_CONFIG) and "tsio client: not built".
import { fileURLToPath } from 'node:url';

export const built = false;

export async function open(_url, _onMessage) {
  const e = new Error('tsio client: not built');
  e.code = 'NOT_BUILT';
  throw e;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.error('tsio client: not built');
  process.exit(78);
}
