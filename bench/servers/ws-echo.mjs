// The `ws` WebSocketServer echo: every message is sent back with the same binary/text flag.
// permessage-deflate is off unless --deflate is given (then ws's defaults, threshold 1024 bytes).
import { WebSocketServer } from 'ws';
import { serve, serverArgs } from './common.mjs';

const { port, host, deflate } = serverArgs();
const wss = new WebSocketServer({ host, port, perMessageDeflate: deflate, backlog: 4096 });
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', () => {});
});
wss.on('listening', () => serve(wss, () => ({ connections: wss.clients.size })));
