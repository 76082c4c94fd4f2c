/*
 * The WebSocket echo server used as a conformance program (issue 5) and as
 * the `tsio` contender of the benchmarks (bench/contenders.mjs,
 * docs/performance.md for the contract).
 *
 *   npm run echo-server -- --port P [--deflate]
 *
 * Listens on 127.0.0.1:P (0: an ephemeral port), prints `READY <port>`
 * once listening, accepts WebSocket connections on any path and echoes
 * every message with its opcode (text stays text, binary stays binary)
 * until the peer closes; `--deflate` negotiates permessage-deflate with a
 * client that offers it. SIGUSR2 prints `MEM <json>` (process.memoryUsage()
 * after two gcs 0.1 s apart when run with --expose-gc); SIGTERM / SIGINT exit.
 *
 * Written the way Beast's websocket_server_async is: an accept loop and one
 * session per connection running read -> write -> read with callbacks (the
 * cheapest completion token), so it measures the library, not the tokens.
 */
import { parseArgs } from 'node:util';
import type { ErrorCode } from '@tsio/completion-token';
import { Acceptor, Endpoint, FlatBuffer, type TcpStream } from '@tsio/net';
import { PermessageDeflate, Stream, error as wsError } from '@tsio/websocket';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    deflate: { type: 'boolean', default: false },
  },
  strict: false,
});
const port = Number(values.port);
const host = String(values.host);
// --deflate: accept a client's permessage-deflate offer (RFC 7692); without
// it an offer is declined (left unanswered, as the RFC allows).
// zlib at the level and memory ws uses by default (zlib's own defaults: 6 and 8)
// rather than Beast's (8 and 4), so that the benchmark against ws measures
// the library, not two compression settings.
const deflate =
  values.deflate === true ? new PermessageDeflate({ server: true, compLevel: 6, memLevel: 8 }) : null;

let connections = 0;

class Session {
  private readonly ws: Stream<TcpStream>;
  private readonly buffer = new FlatBuffer();
  private finished = false;
  // Beast's bind_front_handler(&session::on_read, shared_from_this()): bound
  // once per session (a bound method keeps no closure context).
  private readonly onRead = this.handleRead.bind(this);
  private readonly onWrite = this.handleWrite.bind(this);

  constructor(socket: TcpStream) {
    socket.setNoDelay(true);
    this.ws = new Stream(socket);
    // Echo each message as one frame, as ws and the raw echo do. Beast's
    // default (autoFragment, 4 KiB frames) makes a 64 KiB echo 16 frames and
    // cost about twice the CPU (docs/performance.md).
    this.ws.autoFragment(false);
    if (deflate) this.ws.setOption(deflate);
    connections++;
  }

  run(): void {
    // A closure for the one accept; the read and write handlers below are kept for every message.
    this.ws.asyncAccept((ec) => {
      if (ec) return this.fail();
      this.doRead();
    });
  }

  private doRead(): void {
    this.ws.asyncRead(this.buffer, this.onRead);
  }

  private handleRead(ec: ErrorCode | null): void {
    // `closed`: the peer closed and the closing handshake is done.
    if (ec === wsError.closed) return this.done();
    if (ec) return this.fail();
    this.ws.text(this.ws.gotText());
    this.ws.asyncWrite(this.buffer.data(), this.onWrite);
  }

  private handleWrite(ec: ErrorCode | null): void {
    if (ec) return this.fail();
    this.buffer.consume(this.buffer.size());
    this.doRead();
  }

  private fail(): void {
    // The stream already failed the connection where the protocol says so;
    // make sure the socket is gone in every other case (a refused handshake).
    this.ws.nextLayer().close();
    this.done();
  }

  private done(): void {
    if (this.finished) return;
    this.finished = true;
    connections--;
  }
}

const acceptor = new Acceptor(undefined, new Endpoint(host, port));

const accept = (): void => {
  acceptor.asyncAccept((ec: ErrorCode | null, socket: TcpStream) => {
    if (ec) {
      if (!acceptor.isOpen()) return;
      // e.g. too many open files: keep serving the connections we have.
      process.stderr.write(`accept: ${ec.message()}\n`);
      setTimeout(accept, 10);
      return;
    }
    new Session(socket).run();
    accept();
  });
};

/**
 * Collect, let the loop turn, collect again, then report. V8 settles the
 * `external` count of ArrayBuffers freed by a collection only after its
 * concurrent sweep of them: read right after one `gc()`, `external` still
 * counted up to half a megabyte of buffers `arrayBuffers` had already let go
 * (docs/performance.md, "How the harness measures").
 */
const MEMORY_SETTLE_MS = 100;

function reportMemory(): void {
  const g = globalThis as { gc?: () => void };
  g.gc?.();
  setTimeout(() => {
    g.gc?.();
    const m = process.memoryUsage();
    process.stdout.write(`MEM ${JSON.stringify({ ...m, gc: typeof g.gc === 'function', connections })}\n`);
  }, MEMORY_SETTLE_MS);
}

acceptor.asyncListen((ec: ErrorCode | null) => {
  if (ec) {
    process.stderr.write(`listen on ${host}:${port}: ${ec.message()}\n`);
    process.exit(1);
  }
  process.on('SIGUSR2', reportMemory);
  const stop = (): void => {
    acceptor.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  accept();
  // Last: the harness may signal us the moment it reads this line.
  process.stdout.write(`READY ${acceptor.localEndpoint().port()}\n`);
});
