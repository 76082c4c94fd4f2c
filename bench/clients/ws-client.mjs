// Client adapter for the `ws` WebSocket client (permessage-deflate off, binary messages).
// Adapter shape shared by every client in client-throughput.mjs:
//   export const built: boolean
//   export async function open(url, onMessage): Promise<{ send(buf: Buffer): void, close(): void }>
//   onMessage(data) gets each whole message (Buffer, ArrayBuffer or Uint8Array).
import WebSocket from 'ws';

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
