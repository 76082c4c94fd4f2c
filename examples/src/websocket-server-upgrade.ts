/**
 * Example: WebSocket server on Node's `http` server (the `'upgrade'` event).
 *
 * Beast's counterpart is the upgrade path of its HTTP servers
 * (boostorg/beast `example/advanced/server/advanced_server.cpp`, and the
 * `http_session` of `example/websocket/server/chat-multi`): read an HTTP
 * request with `http::async_read`, and when `websocket::is_upgrade(req)`,
 * hand the socket and the request to a websocket session that calls
 * `ws.async_accept(req)`. Node's HTTP server does the reading and the
 * detection; `websocket.acceptUpgrade(req, socket, head, token, configure)`
 * does the rest. Plain HTTP requests get a short text answer.
 *
 * The session echoes with `for await (const msg of websocket.messages(ws))`,
 * the message-iterable form that reads the next message only when the loop
 * asks for it.
 *
 * Usage: node examples/dist/websocket-server-upgrade.js <address> <port>
 * Prints the port it listens on.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { beast, http, net, websocket } from 'tsio';

// Echoes every message back, then answers the peer's close
async function doSession(ws: websocket.Stream<beast.TcpStream>): Promise<void> {
  for await (const msg of websocket.messages(ws)) {
    ws.binary(msg.binary);
    await ws.asyncWrite(msg.data);
  }
  // The loop ends when a read reports websocket.error.closed: the closing
  // handshake is complete and the socket is closed.
}

function onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
  websocket.acceptUpgrade(
    req,
    socket,
    head,
    (ec, ws) => {
      if (ec) return console.error(`accept: ${ec.message()}`);
      doSession(ws).catch((e: unknown) => {
        console.error(`session: ${e instanceof Error ? e.message : String(e)}`);
      });
    },
    (ws) => {
      // Options go on before the handshake, as in Beast's on_run().
      ws.setOption(websocket.streamBase.timeout.suggested(beast.roleType.server));
      ws.setOption(
        new websocket.streamBase.Decorator((res) => {
          res.set(http.field.server, 'tsio websocket-server-upgrade');
        }),
      );
    },
  );
}

/** Starts the server; resolves once it listens. */
export function listen(address: string, port: number): Promise<Server> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('This server speaks WebSocket; connect with a WebSocket client.\n');
  });
  server.on('upgrade', onUpgrade);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, address, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

export async function main(argv: string[]): Promise<number> {
  if (argv.length !== 2) {
    console.error(
      'Usage: websocket-server-upgrade <address> <port>\nExample:\n    websocket-server-upgrade 0.0.0.0 8080',
    );
    return 1;
  }
  const address = net.ip.makeAddress(argv[0] as string).toString();
  const server = await listen(address, Number(argv[1]));
  const { port } = server.address() as AddressInfo;
  console.log(`listening on ${new net.ip.tcp.Endpoint(address, port)}`);
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2));
}
