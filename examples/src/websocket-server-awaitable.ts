/**
 * Example: WebSocket server, coroutine (`await`).
 *
 * Ports boostorg/beast `example/websocket/server/awaitable/websocket_server_awaitable.cpp`
 * (the C++20 coroutine server): `doListen` accepts in a loop and spawns
 * `doSession` for each connection; `doSession` echoes until the read
 * reports `websocket.error.closed`. `co_spawn(ex, f(), handler)` becomes
 * `net.coSpawn(ex, f).catch(handler)`.
 *
 * Usage: node examples/dist/websocket-server-awaitable.js <address> <port> [threads]
 * Prints the port it listens on (a tsio addition; port 0 picks one).
 */
import { pathToFileURL } from 'node:url';
import { beast, http, net, websocket } from 'tsio';

// Echoes back all received WebSocket messages
async function doSession(ws: websocket.Stream<beast.TcpStream>): Promise<void> {
  // Set suggested timeout settings for the websocket
  ws.setOption(websocket.streamBase.timeout.suggested(beast.roleType.server));

  // Set a decorator to change the Server of the handshake
  ws.setOption(
    new websocket.streamBase.Decorator((res) => {
      res.set(http.field.server, 'tsio websocket-server-awaitable');
    }),
  );

  // Accept the websocket handshake
  await ws.asyncAccept();

  try {
    for (;;) {
      // This buffer will hold the incoming message
      const buffer = new beast.FlatBuffer();

      // Read a message
      await ws.asyncRead(buffer);

      // Echo the message back
      ws.text(ws.gotText());
      await ws.asyncWrite(buffer.data());
    }
  } catch (e) {
    // This indicates that the session was closed
    if (!(e instanceof net.SystemError && e.code === websocket.error.closed)) throw e;
  }
}

// Accepts incoming connections and launches the sessions
export async function doListen(
  ex: net.ExecutorOrContext,
  endpoint: net.ip.tcp.Endpoint,
  signal?: AbortSignal,
): Promise<void> {
  // Open the acceptor
  const acceptor = new net.ip.tcp.Acceptor(ex);
  acceptor.open(endpoint.protocol());

  // Allow address reuse
  acceptor.setOption(net.socketBase.reuseAddress(true));

  // Bind to the server address
  acceptor.bind(endpoint);

  // Start listening for connections
  acceptor.listen(net.socketBase.maxListenConnections);

  // tsio addition: wait until listening and say where (port 0 picks one).
  await acceptor.asyncListen();
  console.log(`listening on ${acceptor.localEndpoint()}`);

  // tsio addition: a way to stop, for programs that embed this listener.
  signal?.addEventListener('abort', () => acceptor.close(), { once: true });

  for (;;) {
    const [ec, socket] = await acceptor.asyncAccept(net.asTuple());
    if (ec === net.error.operationAborted) return;
    if (ec) throw new net.SystemError(ec, 'accept');
    net
      .coSpawn(acceptor.getExecutor(), () => doSession(new websocket.Stream(socket)))
      .catch((e: unknown) => {
        console.error(`Error in session: ${e instanceof Error ? e.message : String(e)}`);
      });
  }
}

export async function main(argv: string[]): Promise<number> {
  // Check command line arguments.
  if (argv.length < 2 || argv.length > 3) {
    console.error(
      'Usage: websocket-server-awaitable <address> <port> [threads]\n' +
        'Example:\n    websocket-server-awaitable 0.0.0.0 8080 1',
    );
    return 1;
  }
  const address = net.ip.makeAddress(argv[0] as string);
  const port = Number(argv[1]);

  // The io_context is required for all I/O
  const ioc = new net.IoContext();

  // Spawn a listening port
  let status = 0;
  const listening = net
    .coSpawn(ioc, () => doListen(ioc, new net.ip.tcp.Endpoint(address, port)))
    .catch((e: unknown) => {
      console.error(`Error: ${e instanceof Error ? e.message : String(e)}`);
      status = 1;
    });

  // Run the I/O service
  await ioc.run();
  await listening;
  return status;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2));
}
