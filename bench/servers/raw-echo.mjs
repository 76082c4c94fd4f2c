// The ceiling: a raw node:net WebSocket echo doing the least framing work that is still correct
// for the bench's traffic. Minimal upgrade handshake (no extensions, no subprotocols), then per
// data chunk: parse each client frame header, unmask the payload in place, rewrite the header
// in place as an unmasked server frame with the same first byte (FIN/RSV/opcode; ping -> pong,
// close is echoed and the socket ended), compact small frames, and issue one write per chunk.
// Not a general-purpose server: no UTF-8 validation, no limits, no fragmentation bookkeeping.
import net from 'node:net';
import { acceptKey, unmaskInPlace } from '../lib/frames.mjs';
import { serve, serverArgs } from './common.mjs';

const { port, host } = serverArgs();
let connections = 0;

// Output assembly for one data event (synchronous, so module-level scratch is safe).
let cur = null;
let runS = 0;
let runE = 0;
const pieces = [];

function emit(buf, s, e) {
  if (cur === buf) {
    if (runE === s) {
      runE = e;
      return;
    }
    if (e - s <= 2048) {
      buf.copyWithin(runE, s, e);
      runE += e - s;
      return;
    }
  }
  if (cur !== null) pieces.push(cur.subarray(runS, runE));
  cur = buf;
  runS = s;
  runE = e;
}

function flush(sock) {
  if (cur === null) return;
  const last = cur.subarray(runS, runE);
  cur = null;
  if (pieces.length === 0) {
    sock.write(last);
    return;
  }
  sock.cork();
  for (const p of pieces) sock.write(p);
  sock.write(last);
  sock.uncork();
  pieces.length = 0;
}

function serverFirstByte(b0) {
  return (b0 & 0x0f) === 0x9 ? (b0 & 0xf0) | 0xa : b0;
}

function onFrames(sock, st, buf) {
  const len = buf.length;
  let i = 0;
  while (i < len) {
    if (st.remaining > 0) {
      const take = Math.min(st.remaining, len - i);
      st.phase = unmaskInPlace(buf, i, i + take, st.mask, st.phase);
      emit(buf, i, i + take);
      st.remaining -= take;
      i += take;
      continue;
    }
    if (st.hHave === 0 && len - i >= 6) {
      const b0 = buf[i];
      const l7 = buf[i + 1] & 127;
      const hl = l7 < 126 ? 2 : l7 === 126 ? 4 : 10;
      if (len - i >= hl + 4) {
        const n =
          l7 < 126
            ? l7
            : l7 === 126
              ? buf.readUInt16BE(i + 2)
              : buf.readUInt32BE(i + 2) * 2 ** 32 + buf.readUInt32BE(i + 6);
        const p = i + hl + 4;
        buf.copy(st.mask, 0, p - 4, p);
        // Server header goes in the last hl bytes before the payload.
        if (hl > 2) buf.copyWithin(i + 6, i + 2, i + hl);
        buf[i + 4] = serverFirstByte(b0);
        buf[i + 5] = l7;
        if ((b0 & 0x0f) === 0x8) st.closing = true;
        const take = Math.min(n, len - p);
        st.phase = unmaskInPlace(buf, p, p + take, st.mask, 0);
        emit(buf, p - hl, p + take);
        st.remaining = n - take;
        i = p + take;
        continue;
      }
    }
    // Slow path: the header is split across chunks.
    const h = st.hbuf;
    let need = 0;
    while (i < len) {
      h[st.hHave++] = buf[i++];
      if (st.hHave >= 2) {
        const l7 = h[1] & 127;
        need = (l7 < 126 ? 2 : l7 === 126 ? 4 : 10) + 4;
        if (st.hHave === need) break;
      }
    }
    if (need === 0 || st.hHave < need) continue;
    const l7 = h[1] & 127;
    const hl = need - 4;
    const n =
      l7 < 126 ? l7 : l7 === 126 ? h.readUInt16BE(2) : h.readUInt32BE(2) * 2 ** 32 + h.readUInt32BE(6);
    h.copy(st.mask, 0, hl, hl + 4);
    const out = Buffer.allocUnsafe(hl);
    h.copy(out, 0, 0, hl);
    out[0] = serverFirstByte(h[0]);
    out[1] = l7;
    if ((h[0] & 0x0f) === 0x8) st.closing = true;
    emit(out, 0, hl);
    st.remaining = n;
    st.phase = 0;
    st.hHave = 0;
  }
  flush(sock);
  if (st.closing && st.remaining === 0) sock.end();
}

function onConnection(sock) {
  connections++;
  sock.setNoDelay(true);
  const st = {
    hHave: 0,
    hbuf: Buffer.allocUnsafe(14),
    mask: Buffer.allocUnsafe(4),
    remaining: 0,
    phase: 0,
    closing: false,
  };
  let hs = null;
  const onHandshake = (chunk) => {
    hs = hs === null ? chunk : Buffer.concat([hs, chunk]);
    const end = hs.indexOf('\r\n\r\n');
    if (end < 0) {
      if (hs.length > 16384) sock.destroy();
      return;
    }
    const head = hs.toString('latin1', 0, end);
    const m = /\r\nsec-websocket-key:[ \t]*([^\r\n]+)/i.exec(head);
    if (!m) {
      sock.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      return;
    }
    sock.write(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptKey(m[1].trim())}\r\n\r\n`,
    );
    const rest = hs.subarray(end + 4);
    hs = null;
    sock.removeListener('data', onHandshake);
    sock.on('data', (buf) => onFrames(sock, st, buf));
    if (rest.length > 0) onFrames(sock, st, rest);
  };
  sock.on('data', onHandshake);
  sock.on('error', () => {});
  sock.on('close', () => {
    connections--;
  });
}

const server = net.createServer({ noDelay: true }, onConnection);
server.listen({ port, host, backlog: 4096 }, () => serve(server, () => ({ connections })));
