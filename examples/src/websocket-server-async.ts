/**
 * Example: WebSocket server, asynchronous (callbacks).
 *
 * Ports boostorg/beast `example/websocket/server/async/websocket_server_async.cpp`:
 * a `listener` that opens, binds and listens an acceptor and loops
 * `doAccept` → `onAccept`, and an echoing `session` with `run` → `onRun` →
 * `onAccept` → `doRead` → `onRead` → `onWrite`.
 *
 * Usage: node examples/dist/websocket-server-async.js <address> <port> [threads]
 * Example: node examples/dist/websocket-server-async.js 0.0.0.0 8080
 *
 * Node runs one thread, so Beast's `<threads>` argument is accepted and
 * ignored. Port 0 picks a free port; the server prints the one it listens
 * on (a tsio addition, so scripts and tests can find it).
 */
import { pathToFileURL } from 'node:url';
import { beast, http, net, websocket } from 'tsio';

type ErrorCode = net.ErrorCode;

// Report a failure
function fail(ec: ErrorCode, what: string): void {
  console.error(`${what}: ${ec.message()}`);
}

// Echoes back all received WebSocket messages
class Session {
  private readonly ws: websocket.Stream<beast.TcpStream>;
  private readonly buffer = new beast.FlatBuffer();

  // Take ownership of the socket (Beast: `ws_(std::move(socket))`)
  constructor(socket: beast.TcpStream) {
    this.ws = new websocket.Stream(socket);
  }

  // Get on the correct executor
  run(): void {
    // We need to be executing within a strand to perform async operations
    // on the I/O objects in this session. Although not strictly necessary
    // for single-threaded contexts, this example code is written to be
    // thread-safe by default.
    net.dispatch(this.ws.getExecutor(), beast.bindFrontHandler(this.onRun, this));
  }

  // Start the asynchronous operation
  onRun(): void {
    // Set suggested timeout settings for the websocket
    this.ws.setOption(websocket.streamBase.timeout.suggested(beast.roleType.server));

    // Set a decorator to change the Server of the handshake
    this.ws.setOption(
      new websocket.streamBase.Decorator((res) => {
        res.set(http.field.server, 'tsio websocket-server-async');
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
    endpoint: net.ip.tcp.Endpoint,
  ) {
    this.acceptor = new net.ip.tcp.Acceptor(ioc);

    // Beast passes an error_code& to each call and returns on failure; tsio's
    // synchronous acceptor calls throw a SystemError instead (there are no
    // error_code& overloads), and bind/listen errors arrive with the first accept.
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

  /** Stops accepting; used when the example runs inside another program. */
  close(): void {
    this.acceptor.close();
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
      new Session(socket).run();
    }

    // Accept another connection
    this.doAccept();
  }
}

export async function main(argv: string[]): Promise<number> {
  // Check command line arguments.
  if (argv.length < 2 || argv.length > 3) {
    console.error(
      'Usage: websocket-server-async <address> <port> [threads]\n' +
        'Example:\n    websocket-server-async 0.0.0.0 8080 1',
    );
    return 1;
  }
  const address = net.ip.makeAddress(argv[0] as string);
  const port = Number(argv[1]);

  // The io_context is required for all I/O
  const ioc = new net.IoContext();

  // Create and launch a listening port
  new Listener(ioc, new net.ip.tcp.Endpoint(address, port)).run();

  // Run the I/O service
  await ioc.run();
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2));
}
