/**
 * Example: multi-client chat server, broadcasting with rxjs.
 *
 * Ports boostorg/beast `example/websocket/server/chat-multi/` (main.cpp,
 * listener.cpp, http_session.cpp, shared_state.cpp, websocket_session.cpp),
 * in one file:
 *
 * - `SharedState` is `shared_state`: it holds the sessions and `send`s a
 *   message to all of them. Here it is an rxjs `Subject`; joining is
 *   subscribing and leaving is unsubscribing, so there is no session set
 *   and no mutex.
 * - `WebsocketSession` is `websocket_session`. Beast keeps a queue of
 *   messages and writes one at a time (`on_send` pushes, `on_write` pops
 *   and writes the next). Here `concatMap` over the broadcast *is* that
 *   queue: each write is an Observable (`net.useObservable`) and the next
 *   one starts when the previous completes. Incoming messages come from
 *   `websocket.messages$(ws)`.
 * - `listener` + `http_session` are Node's HTTP server: it serves a tiny
 *   page for plain requests and hands upgrades to `websocket.acceptUpgrade`.
 *
 * Every message is sent to every client, the sender included (as in Beast),
 * so any of the echo clients works against it.
 *
 * Usage: node examples/dist/websocket-server-chat-multi.js <address> <port>
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { concatMap, filter, Subject, type Subscription, takeUntil } from 'rxjs';
import { beast, http, net, websocket } from 'tsio';

interface ChatMessage {
  from: WebsocketSession;
  data: Buffer;
  binary: boolean;
}

// Represents the shared server state
export class SharedState {
  private readonly messages = new Subject<ChatMessage>();
  private readonly sessionCount = { value: 0 };

  // Broadcast a message to all websocket client sessions
  send(message: ChatMessage): void {
    this.messages.next(message);
  }

  // A session's view of the broadcast: every message, its own included
  // (filter is where a "don't echo to the sender" rule would go).
  feed(_session: WebsocketSession) {
    return this.messages.pipe(filter(() => true));
  }

  join(): number {
    return ++this.sessionCount.value;
  }

  leave(): number {
    return --this.sessionCount.value;
  }

  /** Ends every session's feed (server shutdown). */
  close(): void {
    this.messages.complete();
  }
}

// Represents an active WebSocket connection to the server
class WebsocketSession {
  private subscription: Subscription | null = null;
  private readonly left = new Subject<void>();

  constructor(
    private readonly ws: websocket.Stream<beast.TcpStream>,
    private readonly state: SharedState,
  ) {}

  run(): void {
    this.state.join();

    // Outgoing: the broadcast, written one message at a time.
    this.subscription = this.state
      .feed(this)
      .pipe(
        takeUntil(this.left),
        concatMap((msg) => {
          this.ws.binary(msg.binary);
          return this.ws.asyncWrite(msg.data, net.useObservable);
        }),
      )
      .subscribe({ error: (e: unknown) => this.fail(e, 'write') });

    // Incoming: every message goes to the shared state.
    websocket.messages$(this.ws).subscribe({
      next: (msg) => this.state.send({ from: this, data: msg.data, binary: msg.binary }),
      // messages$ completes on websocket.error.closed: the peer said goodbye.
      complete: () => this.leave(),
      error: (e: unknown) => {
        this.fail(e, 'read');
        this.leave();
      },
    });
  }

  private leave(): void {
    this.left.next();
    this.subscription?.unsubscribe();
    this.state.leave();
    // Make sure the socket is gone whatever state the stream is in.
    beast.getLowestLayer(this.ws).close();
  }

  private fail(e: unknown, what: string): void {
    // Don't report these
    if (
      e instanceof net.SystemError &&
      (e.code === net.error.operationAborted || e.code === websocket.error.closed)
    )
      return;
    console.error(`${what}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

const page = `<!doctype html><title>tsio chat</title>
<input id="m"><pre id="log"></pre>
<script>
const ws = new WebSocket('ws://' + location.host + '/');
ws.onmessage = (e) => { log.textContent += e.data + '\\n'; };
m.onkeydown = (e) => { if (e.key === 'Enter') { ws.send(m.value); m.value = ''; } };
</script>`;

/** Starts the chat server; resolves once it listens. */
export function listen(address: string, port: number, state = new SharedState()): Promise<Server> {
  // http_session: plain requests get the page, upgrades become websocket sessions.
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(page);
  });
  server.on('upgrade', (req, socket, head) => {
    websocket.acceptUpgrade(
      req,
      socket,
      head,
      (ec, ws) => {
        if (ec) return console.error(`accept: ${ec.message()}`);
        new WebsocketSession(ws, state).run();
      },
      (ws) => {
        ws.setOption(websocket.streamBase.timeout.suggested(beast.roleType.server));
        ws.setOption(
          new websocket.streamBase.Decorator((res) => {
            res.set(http.field.server, 'tsio websocket-chat-multi');
          }),
        );
      },
    );
  });
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
      'Usage: websocket-server-chat-multi <address> <port>\nExample:\n    websocket-server-chat-multi 0.0.0.0 8080',
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
