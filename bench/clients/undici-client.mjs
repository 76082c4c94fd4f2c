// Client adapter for undici's WHATWG WebSocket (binaryType 'arraybuffer'). See ws-client.mjs for the shape.
import { WebSocket } from 'undici';

export const built = true;

export function open(url, onMessage) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.binaryType = 'arraybuffer';
    ws.onmessage = (ev) => onMessage(ev.data);
    ws.onerror = (ev) => reject(ev.error ?? new Error('undici WebSocket error'));
    ws.onopen = () => {
      ws.onerror = () => {};
      resolve({ send: (buf) => ws.send(buf), close: () => ws.close() });
    };
  });
}
