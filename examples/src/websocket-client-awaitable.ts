/**
 * Example: WebSocket client, coroutine (`await`).
 *
 * Ports boostorg/beast `example/websocket/client/awaitable/websocket_client_awaitable.cpp`
 * (the C++20 coroutine client): `doSession` is the coroutine, each
 * `co_await ws.async_x(...)` is `await ws.asyncX(...)` — the promise is the
 * default token, as `use_awaitable.as_default_on` makes it in Beast. An
 * error rejects with a `net.SystemError` whose `.code` is the `ErrorCode`,
 * as `co_await` throws `system_error`.
 *
 * Usage: node examples/dist/websocket-client-awaitable.js <host> <port> <text>
 */
import { pathToFileURL } from 'node:url';
import { beast, http, net, websocket } from 'tsio';

// Sends a WebSocket message and prints the response
export async function doSession(
  ex: net.ExecutorOrContext,
  host: string,
  port: string,
  text: string,
): Promise<void> {
  // These objects perform our I/O
  const resolver = new net.ip.tcp.Resolver(ex);
  const ws = new websocket.Stream(new beast.TcpStream(ex));

  // Look up the domain name
  const results = await resolver.asyncResolve(host, port);

  // Set a timeout on the operation
  beast.getLowestLayer(ws).expiresAfter(30_000);

  // Make the connection on the IP address we get from a lookup
  const ep = await beast.getLowestLayer(ws).asyncConnect(results);

  // Update the host string. This will provide the value of the
  // Host HTTP header during the WebSocket handshake (RFC 7230 §5.4).
  host += `:${ep.port()}`;

  // Turn off the timeout on the tcp_stream, because
  // the websocket stream has its own timeout system.
  beast.getLowestLayer(ws).expiresNever();

  // Set suggested timeout settings for the websocket
  ws.setOption(websocket.streamBase.timeout.suggested(beast.roleType.client));

  // Set a decorator to change the User-Agent of the handshake
  ws.setOption(
    new websocket.streamBase.Decorator((req) => {
      req.set(http.field.userAgent, 'tsio websocket-client-awaitable');
    }),
  );

  // Perform the websocket handshake
  await ws.asyncHandshake(host, '/');

  // Send the message
  await ws.asyncWrite(net.buffer(text));

  // This buffer will hold the incoming message
  const buffer = new beast.FlatBuffer();

  // Read a message into our buffer
  await ws.asyncRead(buffer);

  // Close the WebSocket connection
  await ws.asyncClose(websocket.closeCode.normal);

  // If we get here then the connection is closed gracefully

  // The makePrintable() function helps print a ConstBufferSequence
  console.log(beast.makePrintable(buffer.data()));
}

export async function main(argv: string[]): Promise<number> {
  // Check command line arguments.
  if (argv.length !== 3) {
    console.error(
      'Usage: websocket-client-awaitable <host> <port> <text>\n' +
        'Example:\n    websocket-client-awaitable localhost 8080 "Hello, world!"',
    );
    return 1;
  }
  const [host, port, text] = argv as [string, string, string];

  // The io_context is required for all I/O
  const ioc = new net.IoContext();

  // Launch the asynchronous operation (Beast: co_spawn with a handler that
  // prints the exception)
  let status = 0;
  const session = net
    .coSpawn(ioc, () => doSession(ioc, host, port, text))
    .catch((e: unknown) => {
      console.error(`Error: ${e instanceof Error ? e.message : String(e)}`);
      status = 1;
    });

  // Run the I/O service. The call will return when the socket is closed.
  await ioc.run();
  await session;
  return status;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2));
}
