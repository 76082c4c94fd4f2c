/**
 * Example: WebSocket client, asynchronous (callbacks).
 *
 * Ports boostorg/beast `example/websocket/client/async/websocket_client_async.cpp`:
 * the same `session` class with `run` → `onResolve` → `onConnect` →
 * `onHandshake` → `onWrite` → `onRead` → `onClose`, chained with
 * `beast.bindFrontHandler` as Beast chains `bind_front_handler`.
 *
 * Usage: node examples/dist/websocket-client-async.js <host> <port> <text>
 * Example: node examples/dist/websocket-client-async.js localhost 8080 "Hello, world!"
 */
import { pathToFileURL } from 'node:url';
import { beast, http, net, websocket } from 'tsio';

type ErrorCode = net.ErrorCode;

// Report a failure. Beast's examples print and carry on; the exit code is
// what lets a script (and the examples test) see that something went wrong.
function fail(ec: ErrorCode, what: string): void {
  console.error(`${what}: ${ec.message()}`);
  process.exitCode = 1;
}

// Sends a WebSocket message and prints the response
export class Session {
  private readonly resolver: net.ip.tcp.Resolver;
  private readonly ws: websocket.Stream<beast.TcpStream>;
  private readonly buffer = new beast.FlatBuffer();
  private host = '';
  private text = '';

  // Objects are constructed with a strand to ensure that handlers do not
  // execute concurrently (Beast: `resolver_(net::make_strand(ioc))`).
  // tsio's Stream takes its next layer, not the next layer's arguments.
  constructor(ioc: net.IoContext) {
    this.resolver = new net.ip.tcp.Resolver(net.makeStrand(ioc));
    this.ws = new websocket.Stream(new beast.TcpStream(net.makeStrand(ioc)));
  }

  // Start the asynchronous operation
  run(host: string, port: string, text: string): void {
    // Save these for later
    this.host = host;
    this.text = text;

    // Look up the domain name
    this.resolver.asyncResolve(host, port, beast.bindFrontHandler(this.onResolve, this));
  }

  onResolve(ec: ErrorCode | null, results: net.ip.tcp.Endpoint[]): void {
    if (ec) return fail(ec, 'resolve');

    // Set the timeout for the operation
    beast.getLowestLayer(this.ws).expiresAfter(30_000);

    // Make the connection on the IP address we get from a lookup
    beast.getLowestLayer(this.ws).asyncConnect(results, beast.bindFrontHandler(this.onConnect, this));
  }

  onConnect(ec: ErrorCode | null, ep: net.ip.tcp.Endpoint): void {
    if (ec) return fail(ec, 'connect');

    // Turn off the timeout on the tcp_stream, because
    // the websocket stream has its own timeout system.
    beast.getLowestLayer(this.ws).expiresNever();

    // Set suggested timeout settings for the websocket
    this.ws.setOption(websocket.streamBase.timeout.suggested(beast.roleType.client));

    // Set a decorator to change the User-Agent of the handshake
    this.ws.setOption(
      new websocket.streamBase.Decorator((req) => {
        req.set(http.field.userAgent, 'tsio websocket-client-async');
      }),
    );

    // Update the host string. This will provide the value of the
    // Host HTTP header during the WebSocket handshake (RFC 7230 §5.4).
    this.host += `:${ep.port()}`;

    // Perform the websocket handshake
    this.ws.asyncHandshake(this.host, '/', beast.bindFrontHandler(this.onHandshake, this));
  }

  onHandshake(ec: ErrorCode | null): void {
    if (ec) return fail(ec, 'handshake');

    // Send the message
    this.ws.asyncWrite(net.buffer(this.text), beast.bindFrontHandler(this.onWrite, this));
  }

  onWrite(ec: ErrorCode | null, _bytesTransferred: number): void {
    if (ec) return fail(ec, 'write');

    // Read a message into our buffer
    this.ws.asyncRead(this.buffer, beast.bindFrontHandler(this.onRead, this));
  }

  onRead(ec: ErrorCode | null, _bytesTransferred: number): void {
    if (ec) return fail(ec, 'read');

    // Close the WebSocket connection
    this.ws.asyncClose(websocket.closeCode.normal, beast.bindFrontHandler(this.onClose, this));
  }

  onClose(ec: ErrorCode | null): void {
    if (ec) return fail(ec, 'close');

    // If we get here then the connection is closed gracefully

    // The makePrintable() function helps print a ConstBufferSequence
    console.log(beast.makePrintable(this.buffer.data()));
  }
}

export async function main(argv: string[]): Promise<number> {
  // Check command line arguments.
  if (argv.length !== 3) {
    console.error(
      'Usage: websocket-client-async <host> <port> <text>\n' +
        'Example:\n    websocket-client-async localhost 8080 "Hello, world!"',
    );
    return 1;
  }
  const [host, port, text] = argv as [string, string, string];

  // The io_context is required for all I/O
  const ioc = new net.IoContext();

  // Launch the asynchronous operation
  new Session(ioc).run(host, port, text);

  // Run the I/O service. The promise resolves when the socket is closed.
  await ioc.run();

  return process.exitCode === 1 ? 1 : 0;
}

// Runnable on its own; importable (by the demo and the tests) without side effects.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2));
}
