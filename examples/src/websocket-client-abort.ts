/**
 * Example: cancelling WebSocket operations with an `AbortSignal`.
 *
 * No single Beast file: this is the awaitable client
 * (boostorg/beast `example/websocket/client/awaitable/websocket_client_awaitable.cpp`)
 * with Asio's per-operation cancellation, which Beast code writes as
 * `net::bind_cancellation_slot(signal.slot(), token)` or
 * `net::cancel_after(5s, token)`. In tsio the token is
 * `net.withAbortSignal(signal, token?)`, so any `AbortSignal` — a timeout,
 * a user's button, a request being abandoned — cancels the operation, which
 * then completes with `net.error.operationAborted`.
 *
 * It sends `<text>`, reads the echo with a deadline, then starts a read for
 * a message the echo server will never send and aborts it, and finally
 * closes. Beast documents terminal cancellation of a read as leaving the
 * stream usable only for closing, which is what it does.
 *
 * Usage: node examples/dist/websocket-client-abort.js <host> <port> <text>
 */
import { pathToFileURL } from 'node:url';
import { beast, net, websocket } from 'tsio';

export async function doSession(host: string, port: string, text: string): Promise<void> {
  // One signal for the whole session: Ctrl-C cancels whatever is pending.
  const session = new AbortController();
  const onSigint = () => session.abort();
  process.once('SIGINT', onSigint);
  try {
    const resolver = new net.ip.tcp.Resolver();
    const ws = new websocket.Stream(new beast.TcpStream());

    // Every step is bounded by the session signal and its own deadline.
    const deadline = (ms: number) => AbortSignal.any([session.signal, AbortSignal.timeout(ms)]);
    const within = (ms: number) => net.withAbortSignal(deadline(ms));

    const results = await resolver.asyncResolve(host, port, within(5_000));
    const ep = await beast.getLowestLayer(ws).asyncConnect(results, within(5_000));
    await ws.asyncHandshake(`${host}:${ep.port()}`, '/', within(5_000));
    await ws.asyncWrite(net.buffer(text), within(5_000));

    const buffer = new beast.FlatBuffer();
    await ws.asyncRead(buffer, within(5_000));
    console.log(beast.makePrintable(buffer.data()));
    buffer.consume(buffer.size());

    // Nothing more will arrive: abort this read from a controller. asTuple
    // gives the error code as a value instead of a rejected promise.
    const controller = new AbortController();
    const pending = ws.asyncRead(buffer, net.withAbortSignal(controller.signal, net.asTuple()));
    setTimeout(() => controller.abort(), 100);
    const [ec] = await pending;
    console.log(`read cancelled: ${ec === net.error.operationAborted ? 'operationAborted' : String(ec)}`);

    // After a terminal cancellation only closing is guaranteed. The close
    // may fail (the cancelled read may have left a frame half read); the
    // socket is closed either way.
    const [closeEc] = await ws.asyncClose(
      websocket.closeCode.normal,
      net.withAbortSignal(deadline(5_000), net.asTuple()),
    );
    console.log(`closed: ${closeEc ? closeEc.message() : 'ok'}`);
    beast.getLowestLayer(ws).close();
  } finally {
    process.off('SIGINT', onSigint);
  }
}

export async function main(argv: string[]): Promise<number> {
  if (argv.length !== 3) {
    console.error('Usage: websocket-client-abort <host> <port> <text>');
    return 1;
  }
  const [host, port, text] = argv as [string, string, string];
  try {
    await doSession(host, port, text);
    return 0;
  } catch (e) {
    console.error(`Error: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2));
}
