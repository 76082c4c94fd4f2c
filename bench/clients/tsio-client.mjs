// Client adapter for tsio's own WebSocket client: a client `Stream` over a `TcpStream`, driven
// with callback tokens (the cheapest token), the way Beast's websocket_client_async is written.
// See ws-client.mjs for the adapter shape. Needs the packages built (`npx tsc -b`); if they are
// not, `built` is false and client-throughput.mjs reports "tsio: not built".
//
// One read is always pending (asyncRead of a whole message into a FlatBuffer). A Stream allows
// one write at a time, so with several messages in flight `send` queues them and the write
// callback starts the next; `writeSome` completes as soon as the bytes are queued on the socket,
// so the queue rarely holds more than what one turn of the event loop produced.
import { fileURLToPath } from 'node:url';

let mod = null;
try {
  const [net, websocket] = await Promise.all([import('@tsio/net'), import('@tsio/websocket')]);
  mod = { net, websocket };
} catch {
  mod = null;
}

export const built = mod !== null;

export function open(url, onMessage) {
  if (!mod) {
    const e = new Error('tsio client: not built');
    e.code = 'NOT_BUILT';
    return Promise.reject(e);
  }
  const { net, websocket } = mod;
  const u = new URL(url);
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = Number(u.port || 80);
  return new Promise((resolve, reject) => {
    const ws = new websocket.Stream(new net.TcpStream());
    ws.binary(true);
    // One frame per message, as the ws client sends (see examples/src/echo-server.ts).
    ws.autoFragment(false);
    const buffer = new net.FlatBuffer();
    const queue = [];
    let writing = false;
    let closed = false;

    const onWrite = (ec) => {
      writing = false;
      if (ec || closed) return;
      if (queue.length > 0) {
        writing = true;
        ws.asyncWrite(queue.shift(), onWrite);
      }
    };
    const send = (buf) => {
      if (closed) return;
      if (writing) {
        queue.push(buf);
        return;
      }
      writing = true;
      ws.asyncWrite(buf, onWrite);
    };
    const onRead = (ec) => {
      if (ec) return;
      onMessage(buffer.data());
      buffer.consume(buffer.size());
      if (!closed) ws.asyncRead(buffer, onRead);
    };
    const close = () => {
      closed = true;
      ws.nextLayer().close();
    };

    ws.nextLayer().asyncConnect(new net.Endpoint(host, port), (ec) => {
      if (ec) return reject(new Error(`tsio client: connect: ${ec.message()}`));
      ws.nextLayer().setNoDelay(true);
      ws.asyncHandshake(u.host, `${u.pathname}${u.search}` || '/', (ec2) => {
        if (ec2) return reject(new Error(`tsio client: handshake: ${ec2.message()}`));
        ws.asyncRead(buffer, onRead);
        resolve({ send, close });
      });
    });
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (!built) {
    console.error('tsio client: not built');
    process.exit(78);
  }
  console.error('tsio client: an adapter for bench/client-throughput.mjs, not a program');
}
