// The `ws` WebSocketServer echo: every message is sent back with the same binary/text flag.
// permessage-deflate is off unless --deflate is given (then ws's defaults, threshold 1024 bytes).
// ws uses its optional native helper `bufferutil` when it can load it; this contender runs
// without it (WS_NO_BUFFER_UTIL, ws's own switch), ws-bufferutil-echo.mjs with it.
import { serve, serverArgs } from './common.mjs';

if (process.env.TSIO_BENCH_WS_BUFFERUTIL !== '1') process.env.WS_NO_BUFFER_UTIL = '1';
// Imported after the switch is set: ws reads it when it loads.
const { WebSocketServer } = await import('ws');

const { port, host, deflate } = serverArgs();
const wss = new WebSocketServer({ host, port, perMessageDeflate: deflate, backlog: 4096 });
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', () => {});
});
wss.on('listening', () => serve(wss, () => ({ connections: wss.clients.size })));
