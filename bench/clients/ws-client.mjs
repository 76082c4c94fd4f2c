// Client adapter for the `ws` WebSocket client (permessage-deflate off, binary messages).
// Adapter shape shared by every client in client-throughput.mjs:
//   export const built: boolean
//   export async function open(url, onMessage): Promise<{ send(buf: Buffer): void, close(): void }>
//   onMessage(data) gets each whole message (Buffer, ArrayBuffer or Uint8Array).
// Without ws's optional native helper bufferutil (WS_NO_BUFFER_UTIL, ws's own switch) unless run
// as the ws+bufferutil client; ws reads the switch when it loads, hence the dynamic import.
if (process.env.TSIO_BENCH_WS_BUFFERUTIL !== '1') process.env.WS_NO_BUFFER_UTIL = '1';
const { default: WebSocket } = await import('ws');

export const built = true;

export function open(url, onMessage) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.binaryType = 'nodebuffer';
    ws.on('message', (data) => onMessage(data));
    ws.once('error', reject);
    ws.once('open', () => {
      ws.on('error', () => {});
      resolve({ send: (buf) => ws.send(buf, { binary: true }), close: () => ws.terminate() });
    });
  });
}
