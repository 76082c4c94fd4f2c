// Shared helpers for the bench's own minimal RFC 6455 code: payload generation,
// masked client frames, the Sec-WebSocket-Accept computation, in-place unmasking.
import crypto from 'node:crypto';
import zlib from 'node:zlib';

export const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** Fixed, non-zero client mask: servers still have to do the XOR work, the client pays nothing. */
export const CLIENT_MASK = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);

export function acceptKey(key) {
  return crypto
    .createHash('sha1')
    .update(key + WS_GUID)
    .digest('base64');
}

/** Deterministic xorshift32 so every run and every contender gets the same bytes. */
function xorshift(seed) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

const WORDS = (
  'the quick brown fox jumps over lazy dog websocket frame payload message stream ' +
  'socket buffer executor strand token promise observable cancel close handshake ' +
  '{"id": "name": "value": true, false, null, [1, 2, 3], "type": "event", "ts": '
).split(' ');

/**
 * kind 'binary': pseudo-random bytes (incompressible, every byte matters for content checks).
 * kind 'text': ASCII words from a small vocabulary (compressible about 3-5x), valid UTF-8.
 */
export function makePayload(size, kind = 'binary', seed = 0x9e3779b9) {
  const rnd = xorshift(seed ^ size);
  const buf = Buffer.allocUnsafe(size);
  if (kind === 'binary') {
    let i = 0;
    for (; i + 4 <= size; i += 4) buf.writeUInt32LE(rnd(), i);
    for (; i < size; i++) buf[i] = rnd() & 0xff;
    return buf;
  }
  let i = 0;
  while (i < size) {
    const w = WORDS[rnd() % WORDS.length];
    for (let k = 0; k < w.length && i < size; k++) buf[i++] = w.charCodeAt(k);
    if (i < size) buf[i++] = 0x20;
  }
  return buf;
}

/** Raw DEFLATE of one message for permessage-deflate (no context takeover): trailing 00 00 ff ff removed. */
export function deflateMessage(payload) {
  const out = zlib.deflateRawSync(payload, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  return out.subarray(0, out.length - 4);
}

const INFLATE_TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);
export function inflateMessage(chunks) {
  return zlib.inflateRawSync(Buffer.concat([...chunks, INFLATE_TAIL]), {
    finishFlush: zlib.constants.Z_SYNC_FLUSH,
  });
}

/** One complete, masked client frame (FIN set). */
export function encodeMaskedFrame(opcode, payload, rsv1 = false, mask = CLIENT_MASK) {
  const n = payload.length;
  const hl = n < 126 ? 2 : n < 65536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(hl + 4 + n);
  frame[0] = 0x80 | (rsv1 ? 0x40 : 0) | opcode;
  if (n < 126) {
    frame[1] = 0x80 | n;
  } else if (n < 65536) {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(n, 2);
  } else {
    frame[1] = 0x80 | 127;
    frame.writeUInt32BE(Math.floor(n / 2 ** 32), 2);
    frame.writeUInt32BE(n >>> 0, 6);
  }
  mask.copy(frame, hl);
  for (let i = 0; i < n; i++) frame[hl + 4 + i] = payload[i] ^ mask[i & 3];
  return frame;
}

/**
 * XOR buf[start, end) in place with the 4-byte mask, starting at mask phase `phase`.
 * Byte loop for short runs, 32 bits at a time over the aligned middle of long ones.
 * Returns the mask phase after the last byte.
 */
export function unmaskInPlace(buf, start, end, mask, phase) {
  let i = start;
  if (end - i >= 64) {
    const base = buf.byteOffset;
    while (((base + i) & 3) !== 0) {
      buf[i++] ^= mask[phase];
      phase = (phase + 1) & 3;
    }
    const words = (end - i) >>> 2;
    const key =
      (mask[phase] |
        (mask[(phase + 1) & 3] << 8) |
        (mask[(phase + 2) & 3] << 16) |
        (mask[(phase + 3) & 3] << 24)) >>>
      0;
    const u32 = new Uint32Array(buf.buffer, base + i, words);
    for (let j = 0; j < words; j++) u32[j] ^= key;
    i += words << 2;
  }
  for (; i < end; i++) {
    buf[i] ^= mask[phase];
    phase = (phase + 1) & 3;
  }
  return phase;
}
