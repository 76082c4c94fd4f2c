/**
 * `npm run demo`: an echo server and three clients in one process.
 *
 * The server accepts on an ephemeral loopback port and echoes every
 * message. The same client session — connect, handshake, write, read,
 * close — then runs three times, once per completion token: a callback,
 * a promise (`await`), and an rxjs Observable. Each prints what it sent,
 * what came back, and how the connection closed (the close code and
 * reason the peer sent back). No IoContext: everything runs on the
 * default executor, Node's own event loop.
 */
import { concatMap, firstValueFrom, map } from 'rxjs';
import { beast, net, websocket } from 'tsio';

type Ws = websocket.Stream<beast.TcpStream>;
type ErrorCode = net.ErrorCode;

const describe = (cr: websocket.CloseReason) => `code ${cr.code}, reason ${JSON.stringify(cr.reason)}`;

// ---- the echo server -------------------------------------------------------

async function echoSession(ws: Ws, id: number): Promise<void> {
  await ws.asyncAccept();
  const buffer = new beast.FlatBuffer();
  for (;;) {
    const [ec] = await ws.asyncRead(buffer, net.asTuple());
    // A read that reports `closed` is a clean closure: the closing
    // handshake is done and the socket is closed.
    if (ec === websocket.error.closed) {
      console.log(`  server #${id}: client closed with ${describe(ws.reason())}`);
      return;
    }
    if (ec) throw new net.SystemError(ec, 'server read');
    ws.text(ws.gotText());
    await ws.asyncWrite(buffer.data());
    buffer.consume(buffer.size());
  }
}

interface Server {
  acceptor: net.ip.tcp.Acceptor;
  /** One promise per accepted session, settled when the session ends. */
  sessions: Promise<void>[];
}

async function startServer(): Promise<Server> {
  const acceptor = new net.ip.tcp.Acceptor(undefined, new net.ip.tcp.Endpoint('127.0.0.1', 0));
  await acceptor.asyncListen();
  const sessions: Promise<void>[] = [];
  let accepted = 0;
  const loop = (): void => {
    acceptor.asyncAccept((ec, socket) => {
      if (ec) return; // the acceptor was closed
      sessions.push(echoSession(new websocket.Stream(socket), ++accepted));
      loop();
    });
  };
  loop();
  return { acceptor, sessions };
}

// ---- the client, three times -----------------------------------------------

async function connect(port: number): Promise<Ws> {
  const ws = new websocket.Stream(new beast.TcpStream());
  await beast.getLowestLayer(ws).asyncConnect(new net.ip.tcp.Endpoint('127.0.0.1', port));
  return ws;
}

/** Callbacks: each step starts the next from its completion handler, as Beast's async examples do. */
function withCallbacks(ws: Ws, port: number, text: string, done: (ec: ErrorCode | null) => void): void {
  const buffer = new beast.FlatBuffer();
  ws.asyncHandshake(`127.0.0.1:${port}`, '/', (ec) => {
    if (ec) return done(ec);
    console.log(`  sent:     ${JSON.stringify(text)}`);
    ws.asyncWrite(net.buffer(text), (ec) => {
      if (ec) return done(ec);
      ws.asyncRead(buffer, (ec) => {
        if (ec) return done(ec);
        console.log(`  received: ${JSON.stringify(beast.buffersToString(buffer.data()))}`);
        ws.asyncClose({ code: websocket.closeCode.normal, reason: 'callback done' }, (ec) => {
          if (!ec) console.log(`  closed:   the server answered with ${describe(ws.reason())}`);
          done(ec);
        });
      });
    });
  });
}

/** Promises: the default token; an error rejects with a SystemError. */
async function withPromises(ws: Ws, port: number, text: string): Promise<void> {
  const buffer = new beast.FlatBuffer();
  await ws.asyncHandshake(`127.0.0.1:${port}`, '/');
  console.log(`  sent:     ${JSON.stringify(text)}`);
  await ws.asyncWrite(net.buffer(text));
  await ws.asyncRead(buffer);
  console.log(`  received: ${JSON.stringify(beast.buffersToString(buffer.data()))}`);
  await ws.asyncClose({ code: websocket.closeCode.normal, reason: 'promise done' });
  console.log(`  closed:   the server answered with ${describe(ws.reason())}`);
}

/** Observables: cold, so each step starts when concatMap subscribes to it. */
function withObservables(ws: Ws, port: number, text: string) {
  const buffer = new beast.FlatBuffer();
  return ws.asyncHandshake(`127.0.0.1:${port}`, '/', net.useObservable).pipe(
    concatMap(() => {
      console.log(`  sent:     ${JSON.stringify(text)}`);
      return ws.asyncWrite(net.buffer(text), net.useObservable);
    }),
    concatMap(() => ws.asyncRead(buffer, net.useObservable)),
    map(() => console.log(`  received: ${JSON.stringify(beast.buffersToString(buffer.data()))}`)),
    concatMap(() =>
      ws.asyncClose({ code: websocket.closeCode.normal, reason: 'observable done' }, net.useObservable),
    ),
    map(() => console.log(`  closed:   the server answered with ${describe(ws.reason())}`)),
  );
}

async function main(): Promise<void> {
  const { acceptor, sessions } = await startServer();
  // Each server session ends once the closing handshake is done on its side too.
  const serverDone = async () => {
    while (sessions.length === 0) await new Promise((resolve) => setImmediate(resolve));
    await sessions.shift();
  };
  const port = acceptor.localEndpoint().port();
  console.log(`echo server listening on ${acceptor.localEndpoint()}`);
  try {
    console.log('\n1. callback token');
    const ws1 = await connect(port);
    await new Promise<void>((resolve, reject) =>
      withCallbacks(ws1, port, 'hello from a callback', (ec) =>
        ec ? reject(new net.SystemError(ec)) : resolve(),
      ),
    );
    await serverDone();

    console.log('\n2. promise token (the default)');
    await withPromises(await connect(port), port, 'hello from a promise');
    await serverDone();

    console.log('\n3. useObservable token');
    await firstValueFrom(withObservables(await connect(port), port, 'hello from an Observable'));
    await serverDone();
    console.log('\ndemo finished: 3 round trips, 3 clean closing handshakes');
  } finally {
    acceptor.close();
  }
}

main().catch((e: unknown) => {
  console.error('demo failed:', e);
  process.exitCode = 1;
});
