/**
 * Example: WebSocket SSL client, asynchronous (callbacks).
 *
 * Ports boostorg/beast `example/websocket/client/async-ssl/websocket_client_async_ssl.cpp`:
 * the `session` of the plain async client with one more step,
 * `onConnect` → TLS handshake → `onSslHandshake` → websocket handshake.
 * The stream is `websocket.Stream<net.ssl.Stream<beast.TcpStream>>`, Beast's
 * `websocket::stream<ssl::stream<beast::tcp_stream>>`.
 *
 * The client trusts only the examples' own certificate
 * (`common/server-certificate.ts`), so it talks to the SSL server example;
 * for a public server, use `new net.ssl.Context()` without adding an
 * authority (Node's root certificates are used).
 *
 * Usage: node examples/dist/websocket-client-async-ssl.js <host> <port> <text>
 */
import { isIP } from 'node:net';
import { pathToFileURL } from 'node:url';
import { beast, http, net, websocket } from 'tsio';
import { loadRootCertificates } from './common/server-certificate.js';

type ErrorCode = net.ErrorCode;

// Report a failure
function fail(ec: ErrorCode, what: string): void {
  console.error(`${what}: ${ec.message()}`);
  process.exitCode = 1;
}

// Sends a WebSocket message and prints the response
export class Session {
  private readonly resolver: net.ip.tcp.Resolver;
  private readonly ws: websocket.Stream<net.ssl.Stream<beast.TcpStream>>;
  private readonly buffer = new beast.FlatBuffer();
  private host = '';
  private text = '';

  // Resolver and socket require an io_context
  constructor(ioc: net.IoContext, ctx: net.ssl.Context) {
    this.resolver = new net.ip.tcp.Resolver(net.makeStrand(ioc));
    this.ws = new websocket.Stream(new net.ssl.Stream(new beast.TcpStream(net.makeStrand(ioc)), ctx));
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

    // Set a timeout on the operation
    beast.getLowestLayer(this.ws).expiresAfter(30_000);

    // Make the connection on the IP address we get from a lookup
    beast.getLowestLayer(this.ws).asyncConnect(results, beast.bindFrontHandler(this.onConnect, this));
  }

  onConnect(ec: ErrorCode | null, ep: net.ip.tcp.Endpoint): void {
    if (ec) return fail(ec, 'connect');

    // Set SNI Hostname (many hosts need this to handshake successfully).
    // Beast calls SSL_set_tlsext_host_name; SNI carries names, not addresses.
    if (isIP(this.host) === 0) this.ws.nextLayer().setServerName(this.host);

    // Update the host string. This will provide the value of the
    // Host HTTP header during the WebSocket handshake (RFC 7230 §5.4).
    this.host += `:${ep.port()}`;

    // Set a timeout on the operation
    beast.getLowestLayer(this.ws).expiresAfter(30_000);

    // Perform the SSL handshake
    this.ws
      .nextLayer()
      .asyncHandshake(net.ssl.streamBase.client, beast.bindFrontHandler(this.onSslHandshake, this));
  }

  onSslHandshake(ec: ErrorCode | null): void {
    if (ec) return fail(ec, 'ssl_handshake');

    // Turn off the timeout on the tcp_stream, because
    // the websocket stream has its own timeout system.
    beast.getLowestLayer(this.ws).expiresNever();

    // Set suggested timeout settings for the websocket
    this.ws.setOption(websocket.streamBase.timeout.suggested(beast.roleType.client));

    // Set a decorator to change the User-Agent of the handshake
    this.ws.setOption(
      new websocket.streamBase.Decorator((req) => {
        req.set(http.field.userAgent, 'tsio websocket-client-async-ssl');
      }),
    );

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
      'Usage: websocket-client-async-ssl <host> <port> <text>\n' +
        'Example:\n    websocket-client-async-ssl localhost 8443 "Hello, world!"',
    );
    return 1;
  }
  const [host, port, text] = argv as [string, string, string];

  // The io_context is required for all I/O
  const ioc = new net.IoContext();

  // The SSL context is required, and holds certificates
  const ctx = new net.ssl.Context();

  // This holds the root certificate used for verification
  loadRootCertificates(ctx);

  // Launch the asynchronous operation
  new Session(ioc, ctx).run(host, port, text);

  // Run the I/O service. The promise resolves when the socket is closed.
  await ioc.run();

  return process.exitCode === 1 ? 1 : 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2));
}
