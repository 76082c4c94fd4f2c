/**
 * Example: WebSocket SSL server, asynchronous (callbacks).
 *
 * Ports boostorg/beast `example/websocket/server/async-ssl/websocket_server_async_ssl.cpp`:
 * the `listener` of the plain async server, and a `session` whose `onRun`
 * first performs the TLS handshake (`onHandshake`) and then the websocket
 * accept (`onAccept`), then echoes (`doRead` → `onRead` → `onWrite`).
 *
 * Usage: node examples/dist/websocket-server-async-ssl.js <address> <port> [threads]
 * Prints the port it listens on (a tsio addition; port 0 picks one).
 */
import { pathToFileURL } from 'node:url';
import { beast, http, net, websocket } from 'tsio';
import { loadServerCertificate } from './common/server-certificate.js';

type ErrorCode = net.ErrorCode;

// Report a failure
function fail(ec: ErrorCode, what: string): void {
  // ssl.error.stream_truncated in Beast: the peer closed the connection
  // without a TLS close_notify. Beast skips reporting it; so do we (eof).
  if (ec === net.error.eof) return;
  console.error(`${what}: ${ec.message()}`);
}

// Echoes back all received WebSocket messages
class Session {
  private readonly ws: websocket.Stream<net.ssl.Stream<beast.TcpStream>>;
  private readonly buffer = new beast.FlatBuffer();

  // Take ownership of the socket
  constructor(socket: beast.TcpStream, ctx: net.ssl.Context) {
    this.ws = new websocket.Stream(new net.ssl.Stream(socket, ctx));
  }

  // Get on the correct executor
  run(): void {
    // We need to be executing within a strand to perform async operations
    // on the I/O objects in this session.
    net.dispatch(this.ws.getExecutor(), beast.bindFrontHandler(this.onRun, this));
  }

  // Start the asynchronous operation
  onRun(): void {
    // Set the timeout.
    beast.getLowestLayer(this.ws).expiresAfter(30_000);

    // Perform the SSL handshake
    this.ws
      .nextLayer()
      .asyncHandshake(net.ssl.streamBase.server, beast.bindFrontHandler(this.onHandshake, this));
  }

  onHandshake(ec: ErrorCode | null): void {
    if (ec) return fail(ec, 'handshake');

    // Turn off the timeout on the tcp_stream, because
    // the websocket stream has its own timeout system.
    beast.getLowestLayer(this.ws).expiresNever();

    // Set suggested timeout settings for the websocket
    this.ws.setOption(websocket.streamBase.timeout.suggested(beast.roleType.server));

    // Set a decorator to change the Server of the handshake
    this.ws.setOption(
      new websocket.streamBase.Decorator((res) => {
        res.set(http.field.server, 'tsio websocket-server-async-ssl');
      }),
    );

    // Accept the websocket handshake
    this.ws.asyncAccept(beast.bindFrontHandler(this.onAccept, this));
  }

  onAccept(ec: ErrorCode | null): void {
    if (ec) return fail(ec, 'accept');

    // Read a message
    this.doRead();
  }

  doRead(): void {
    // Read a message into our buffer
    this.ws.asyncRead(this.buffer, beast.bindFrontHandler(this.onRead, this));
  }

  onRead(ec: ErrorCode | null, _bytesTransferred: number): void {
    // This indicates that the session was closed
    if (ec === websocket.error.closed) return;

    if (ec) return fail(ec, 'read');

    // Echo the message
    this.ws.text(this.ws.gotText());
    this.ws.asyncWrite(this.buffer.data(), beast.bindFrontHandler(this.onWrite, this));
  }

  onWrite(ec: ErrorCode | null, _bytesTransferred: number): void {
    if (ec) return fail(ec, 'write');

    // Clear the buffer
    this.buffer.consume(this.buffer.size());

    // Do another read
    this.doRead();
  }
}

// Accepts incoming connections and launches the sessions
export class Listener {
  private readonly acceptor: net.ip.tcp.Acceptor;

  constructor(
    private readonly ioc: net.IoContext,
    private readonly ctx: net.ssl.Context,
    endpoint: net.ip.tcp.Endpoint,
  ) {
    this.acceptor = new net.ip.tcp.Acceptor(ioc);
    try {
      // Open the acceptor
      this.acceptor.open(endpoint.protocol());

      // Allow address reuse
      this.acceptor.setOption(net.socketBase.reuseAddress(true));

      // Bind to the server address
      this.acceptor.bind(endpoint);

      // Start listening for connections
      this.acceptor.listen(net.socketBase.maxListenConnections);
    } catch (e) {
      if (e instanceof net.SystemError) fail(e.code, 'listen');
      else throw e;
    }
  }

  // Start accepting incoming connections
  run(): void {
    // tsio addition: report the port once listening (port 0 picks one).
    this.acceptor.asyncListen((ec) => {
      if (!ec) console.log(`listening on ${this.acceptor.localEndpoint()}`);
    });
    this.doAccept();
  }

  private doAccept(): void {
    // The new connection gets its own strand
    this.acceptor.asyncAccept(net.makeStrand(this.ioc), beast.bindFrontHandler(this.onAccept, this));
  }

  private onAccept(ec: ErrorCode | null, socket: beast.TcpStream): void {
    if (ec === net.error.operationAborted) return; // closed: stop the loop (tsio addition)
    if (ec) {
      fail(ec, 'accept');
      if (ec === net.error.addressInUse || !this.acceptor.isOpen()) return;
    } else {
      // Create the session and run it
      new Session(socket, this.ctx).run();
    }

    // Accept another connection
    this.doAccept();
  }
}

export async function main(argv: string[]): Promise<number> {
  // Check command line arguments.
  if (argv.length < 2 || argv.length > 3) {
    console.error(
      'Usage: websocket-server-async-ssl <address> <port> [threads]\n' +
        'Example:\n    websocket-server-async-ssl 0.0.0.0 8443 1',
    );
    return 1;
  }
  const address = net.ip.makeAddress(argv[0] as string);
  const port = Number(argv[1]);

  // The io_context is required for all I/O
  const ioc = new net.IoContext();

  // The SSL context is required, and holds certificates
  const ctx = new net.ssl.Context();

  // This holds the self-signed certificate used by the server
  loadServerCertificate(ctx);

  // Create and launch a listening port
  new Listener(ioc, ctx, new net.ip.tcp.Endpoint(address, port)).run();

  // Run the I/O service
  await ioc.run();
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2));
}
