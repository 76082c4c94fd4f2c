// Seeded, reproducible WebSocket fuzzer over real TCP (issue 9).
//
// Used by packages/websocket/test/reliability-fuzz.test.ts (a short run, with
// vitest resolving @tsio/* to the TypeScript sources) and by bench/fuzz.mjs
// (the long run, with Node resolving @tsio/* to the built dist/).
//
// Two targets:
//  - runServerFuzz: an echo server made of our Acceptor / TcpStream / Stream
//    (callback tokens), hit by raw `net` clients sending mutated handshakes
//    and frames, while well-behaved clients (our Stream) keep doing echo
//    round trips that must all come back intact;
//  - runClientFuzz: our client Stream against a hostile raw `net` server
//    sending mutated 101 responses and frames.
// Types: fuzz-engine.d.mts.
import { createHash } from 'node:crypto';
import * as nodeNet from 'node:net';
import * as tsnet from '@tsio/net';
import { Stream, Timeout } from '@tsio/websocket';

const { FlatBuffer, TcpStream, Endpoint } = tsnet;

// ---- PRNG ---------------------------------------------------------------------

/** A 32-bit state PRNG (mulberry32); `seed` makes every run reproducible. */
export class Rng {
  constructor(seed) {
    this.s = seed >>> 0;
  }
  next() {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Integer in [0, n). */
  int(n) {
    return Math.floor(this.next() * n);
  }
  chance(p) {
    return this.next() < p;
  }
  pick(arr) {
    return arr[this.int(arr.length)];
  }
  bytes(n) {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
  /** A payload length: mostly small, sometimes around the 7/16-bit length boundaries. */
  length() {
    const r = this.next();
    if (r < 0.7) return this.int(126);
    if (r < 0.9) return 126 + this.int(400);
    if (r < 0.98) return 65530 + this.int(12);
    return 70_000 + this.int(60_000);
  }
}

// ---- frames (our own serializer, independent of the code under test) ---------

/** Serializes one frame; `key` (4 bytes) masks it. */
export function buildFrame({ fin = true, rsv = 0, opcode, key = null, payload = Buffer.alloc(0) }) {
  const len = payload.length;
  const ext = len < 126 ? 0 : len < 0x10000 ? 2 : 8;
  const out = Buffer.allocUnsafe(2 + ext + (key ? 4 : 0) + len);
  out[0] = (fin ? 0x80 : 0) | ((rsv & 7) << 4) | (opcode & 0x0f);
  out[1] = (key ? 0x80 : 0) | (len < 126 ? len : len < 0x10000 ? 126 : 127);
  let o = 2;
  if (ext === 2) o = out.writeUInt16BE(len, o);
  else if (ext === 8) o = out.writeBigUInt64BE(BigInt(len), o);
  if (key) {
    key.copy(out, o);
    o += 4;
    for (let i = 0; i < len; i++) out[o + i] = payload[i] ^ key[i & 3];
  } else {
    payload.copy(out, o);
  }
  return out;
}

const TEXT_PIECES = ['a', 'hello', ' ', 'é', '€', '𝄞', 'ü', '\u0000', 'z'];

function randomText(rng, max) {
  let s = '';
  while (Buffer.byteLength(s) < max && !rng.chance(0.08)) s += rng.pick(TEXT_PIECES);
  return Buffer.from(s, 'utf8');
}

const VALID_CLOSE_CODES = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 4999];
const INVALID_CLOSE_CODES = [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535];

/**
 * A valid unit of traffic (one message, possibly fragmented, or a ping/pong),
 * as a list of frames. `masked`: client-to-server frames.
 */
export function validUnit(rng, masked) {
  const key = () => (masked ? rng.bytes(4) : null);
  const r = rng.int(10);
  if (r < 3) return [buildFrame({ opcode: 1, key: key(), payload: randomText(rng, 200) })];
  if (r < 6) return [buildFrame({ opcode: 2, key: key(), payload: rng.bytes(rng.length()) })];
  if (r < 8) {
    const opcode = rng.chance(0.5) ? 1 : 2;
    const n = 2 + rng.int(3);
    const frames = [];
    for (let i = 0; i < n; i++) {
      const payload = opcode === 1 ? Buffer.from('part', 'utf8') : rng.bytes(rng.int(300));
      frames.push(buildFrame({ fin: i === n - 1, opcode: i === 0 ? opcode : 0, key: key(), payload }));
      if (rng.chance(0.2))
        frames.push(buildFrame({ opcode: 9, key: key(), payload: rng.bytes(rng.int(20)) }));
    }
    return frames;
  }
  return [buildFrame({ opcode: rng.chance(0.5) ? 9 : 10, key: key(), payload: rng.bytes(rng.int(126)) })];
}

/** Frames built invalid on purpose (bad UTF-8, bad close payloads, oversized or fragmented control frames). */
function invalidUnit(rng, masked) {
  const key = masked ? rng.bytes(4) : null;
  switch (rng.int(6)) {
    case 0:
      return [
        buildFrame({
          opcode: 1,
          key,
          payload: Buffer.from([0x61, rng.pick([0xc0, 0xed, 0xf5, 0xff, 0x80]), 0xa0]),
        }),
      ];
    case 1: {
      const p = Buffer.alloc(2);
      p.writeUInt16BE(rng.pick(INVALID_CLOSE_CODES));
      return [buildFrame({ opcode: 8, key, payload: p })];
    }
    case 2:
      return [buildFrame({ opcode: 8, key, payload: Buffer.from([0x03, 0xe8, 0xff, 0xfe]) })];
    case 3:
      return [buildFrame({ opcode: 8, key, payload: Buffer.from([0x03]) })];
    case 4:
      return [buildFrame({ opcode: 9, key, payload: rng.bytes(126 + rng.int(200)) })];
    default:
      return [buildFrame({ fin: false, opcode: rng.pick([8, 9, 10]), key, payload: rng.bytes(rng.int(10)) })];
  }
}

/** One mutation of serialized bytes; `donor` is another frame for splicing. */
export function mutateBytes(rng, bytes, donor) {
  const b = Buffer.from(bytes);
  if (b.length === 0) return rng.bytes(1 + rng.int(16));
  switch (rng.int(9)) {
    case 0: {
      // 1–3 bit flips
      const n = 1 + rng.int(3);
      for (let i = 0; i < n; i++) b[rng.int(b.length)] ^= 1 << rng.int(8);
      return b;
    }
    case 1:
      return b.subarray(0, rng.int(b.length));
    case 2: {
      // length field corruption
      if (b.length < 2) return b;
      const sel = rng.int(4);
      if (sel === 0) b[1] = (b[1] & 0x80) | rng.int(128);
      else if (sel === 1 && b.length >= 4) {
        b[1] = (b[1] & 0x80) | 126;
        b.writeUInt16BE(rng.int(0x10000), 2);
      } else if (b.length >= 10) {
        b[1] = (b[1] & 0x80) | 127;
        b.writeUInt32BE(rng.pick([0, 0, 1, 0x7fffffff, 0x80000000, 0xffffffff]), 2);
        b.writeUInt32BE(rng.int(0x100000000), 6);
      } else b[1] = (b[1] & 0x80) | 127;
      return b;
    }
    case 3:
      b[0] = (b[0] & 0xf0) | rng.int(16);
      return b;
    case 4:
      b[0] = (b[0] & 0x8f) | (rng.int(8) << 4);
      return b;
    case 5:
      if (b.length > 1) b[1] ^= 0x80;
      return b;
    case 6: {
      const d = donor && donor.length > 0 ? donor : rng.bytes(8);
      return Buffer.concat([b.subarray(0, rng.int(b.length + 1)), d.subarray(rng.int(d.length))]);
    }
    case 7: {
      const at = rng.int(b.length + 1);
      return Buffer.concat([b.subarray(0, at), rng.bytes(1 + rng.int(8)), b.subarray(at)]);
    }
    default:
      b[0] ^= 0x80; // FIN
      return b;
  }
}

// ---- handshakes ---------------------------------------------------------------

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export function acceptFor(key) {
  return createHash('sha1')
    .update(key + GUID)
    .digest('base64');
}

export function validRequest(rng, host = '127.0.0.1') {
  const key = rng.bytes(16).toString('base64');
  const lines = [
    `GET /${rng.int(1000)} HTTP/1.1`,
    `Host: ${host}`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${key}`,
    'Sec-WebSocket-Version: 13',
  ];
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
}

/** A hostile or broken upgrade request. */
export function mutatedRequest(rng) {
  const base = validRequest(rng);
  const text = base.toString('latin1');
  switch (rng.int(10)) {
    case 0:
      return mutateBytes(rng, base, null);
    case 1:
      return base.subarray(0, rng.int(base.length));
    case 2: {
      // drop one required line
      const lines = text.split('\r\n');
      lines.splice(1 + rng.int(5), 1);
      return Buffer.from(lines.join('\r\n'), 'latin1');
    }
    case 3:
      return Buffer.from(text.replace('13', rng.pick(['8', '14', '', '13, 8'])), 'latin1');
    case 4:
      return Buffer.from(text.replace('GET', rng.pick(['POST', 'get', 'G ET', ''])), 'latin1');
    case 5:
      return Buffer.from(text.replace(/\r\n/g, rng.chance(0.5) ? '\n' : '\r'), 'latin1');
    case 6: {
      // head over the 8 KiB limit
      const big = `X-Big: ${'a'.repeat(9000)}\r\n`;
      return Buffer.from(text.replace('\r\n', `\r\n${big}`), 'latin1');
    }
    case 7: {
      // more fields than the limit
      let extra = '';
      for (let i = 0; i < 150; i++) extra += `X-F${i}: v\r\n`;
      return Buffer.from(text.replace('\r\n', `\r\n${extra}`), 'latin1');
    }
    case 8:
      return Buffer.from(
        text.replace('\r\n', `\r\n__proto__: x\r\nconstructor: y\r\nBad\u0000Name: z\r\n`),
        'latin1',
      );
    default:
      return rng.bytes(1 + rng.int(300));
  }
}

/** A 101 (or not) answer from the hostile server to `key`. */
function hostileResponse(rng, key, mutate) {
  const lines = [
    'HTTP/1.1 101 Switching Protocols',
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Accept: ${acceptFor(key)}`,
  ];
  const head = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
  if (!mutate) return head;
  switch (rng.int(6)) {
    case 0:
      return mutateBytes(rng, head, null);
    case 1:
      return head.subarray(0, rng.int(head.length));
    case 2:
      return Buffer.from(head.toString('latin1').replace(acceptFor(key), acceptFor('x')), 'latin1');
    case 3:
      return Buffer.from(head.toString('latin1').replace('101', rng.pick(['200', '400', '1O1'])), 'latin1');
    case 4:
      return Buffer.from(head.toString('latin1').replace('\r\n', `\r\nX: ${'b'.repeat(9000)}\r\n`), 'latin1');
    default:
      return rng.bytes(1 + rng.int(200));
  }
}

// ---- raw socket helpers ---------------------------------------------------------

/** Sends `data` in random chunks with random small delays; resolves when handed to the socket. */
async function sendChunked(rng, sock, data, maxDelayMs) {
  let off = 0;
  while (off < data.length) {
    if (sock.destroyed) return;
    const n = rng.chance(0.5) ? data.length - off : 1 + rng.int(data.length - off);
    sock.write(data.subarray(off, off + n));
    off += n;
    if (maxDelayMs > 0 && rng.chance(0.1)) await delay(rng.int(maxDelayMs + 1));
    else if (rng.chance(0.2)) await new Promise(setImmediate);
  }
}

function delay(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Minimal parser of frames sent to a raw peer: returns the close frame's
 * payload if one arrived, and whether the stream broke the protocol (a
 * masked frame from a server, a length that overruns).
 */
export function scanFrames(buf, expectMasked) {
  let o = 0;
  const result = { closePayload: null, frames: 0, maskViolation: false };
  while (o + 2 <= buf.length) {
    const masked = (buf[o + 1] & 0x80) !== 0;
    let len = buf[o + 1] & 0x7f;
    let h = 2;
    if (len === 126) {
      if (o + 4 > buf.length) break;
      len = buf.readUInt16BE(o + 2);
      h = 4;
    } else if (len === 127) {
      if (o + 10 > buf.length) break;
      len = Number(buf.readBigUInt64BE(o + 2));
      h = 10;
    }
    if (masked) h += 4;
    if (o + h + len > buf.length) break;
    if (masked !== expectMasked) result.maskViolation = true;
    result.frames++;
    if ((buf[o] & 0x0f) === 8 && result.closePayload === null) {
      const p = Buffer.from(buf.subarray(o + h, o + h + len));
      if (masked) for (let i = 0; i < len; i++) p[i] ^= buf[o + h - 4 + (i & 3)];
      result.closePayload = p;
    }
    o += h + len;
  }
  return result;
}

/** RFC 6455 §7.4: may this close payload appear on the wire? */
export function isValidClosePayload(p) {
  if (p.length === 0) return true;
  if (p.length === 1) return false;
  const code = p.readUInt16BE(0);
  const codeOk =
    (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
  if (!codeOk) return false;
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(p.subarray(2));
    return true;
  } catch {
    return false;
  }
}

// ---- operation bookkeeping --------------------------------------------------------

/** Counts operations started and completed; a second completion of one operation is recorded. */
export class OpTracker {
  constructor() {
    this.started = 0;
    this.completed = 0;
    this.doubleCompletions = 0;
  }
  /** Wraps a completion handler. */
  wrap(fn) {
    this.started++;
    let done = false;
    return (...args) => {
      if (done) {
        this.doubleCompletions++;
        return;
      }
      done = true;
      this.completed++;
      fn(...args);
    };
  }
  get pending() {
    return this.started - this.completed;
  }
}

// ---- the echo server under test ---------------------------------------------------------

/**
 * An echo server made of our Acceptor (or node:net if the Acceptor is not
 * exported), TcpStream and Stream, with callback tokens, as Beast's
 * async echo server. `stop()` closes the acceptor and every live session.
 */
export async function startEchoServer(opts = {}) {
  const ops = new OpTracker();
  const sessions = new Set();
  const stats = { accepted: 0, acceptFailed: 0, opened: 0, ended: 0, echoed: 0, readErrors: {} };
  const handshakeTimeout = opts.handshakeTimeout ?? 2000;
  const idleMs = opts.idleMs ?? Number.POSITIVE_INFINITY;

  const session = (tcp) => {
    // Small frames in many chunks: without this, Nagle plus delayed ACKs idles loopback for 40 ms at a time.
    tcp.setNoDelay(true);
    const ws = new Stream(tcp);
    ws.setOption(new Timeout(handshakeTimeout, Number.POSITIVE_INFINITY, false));
    if (opts.readMessageMax) ws.readMessageMax(opts.readMessageMax);
    sessions.add(ws);
    stats.accepted++;
    const buf = new FlatBuffer();
    let ended = false;
    const end = (where, ec) => {
      if (ended) return;
      ended = true;
      if (ec) {
        const key = `${where}:${ec.category?.name ?? '?'}.${ec.name ?? ec.message ?? ec}`;
        stats.readErrors[key] = (stats.readErrors[key] ?? 0) + 1;
      }
      stats.ended++;
      sessions.delete(ws);
      // The session's lifetime ends: like Beast's socket destructor, close the transport.
      tcp.close();
    };
    const armIdle = () => {
      if (Number.isFinite(idleMs)) tcp.expiresAfter(idleMs);
    };
    const read = () => {
      armIdle();
      ws.asyncRead(
        buf,
        ops.wrap((ec) => {
          if (ec) return end('read', ec);
          ws.text(ws.gotText());
          ws.asyncWrite(
            buf.data(),
            ops.wrap((wec) => {
              buf.consume(buf.size());
              if (wec) return end('write', wec);
              stats.echoed++;
              read();
            }),
          );
        }),
      );
    };
    armIdle();
    ws.asyncAccept(
      ops.wrap((ec) => {
        if (ec) {
          stats.acceptFailed++;
          return end('accept', ec);
        }
        stats.opened++;
        read();
      }),
    );
  };

  let port;
  let closeListener;
  if (typeof tsnet.Acceptor === 'function') {
    const acceptor = new tsnet.Acceptor(undefined, new Endpoint('127.0.0.1', 0));
    await acceptor.asyncListen();
    port = acceptor.localEndpoint().port();
    let open = true;
    const loop = () =>
      acceptor.asyncAccept((ec, tcp) => {
        if (ec) return;
        session(tcp);
        if (open) loop();
      });
    loop();
    closeListener = () => {
      open = false;
      acceptor.close();
    };
  } else {
    const server = nodeNet.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (s) =>
      session(new TcpStream(s)),
    );
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    port = server.address().port;
    closeListener = () => server.close();
  }
  return {
    port,
    ops,
    stats,
    sessions,
    usesAcceptor: typeof tsnet.Acceptor === 'function',
    stop() {
      closeListener();
      for (const ws of sessions) ws.nextLayer().close();
    },
  };
}

// ---- server fuzz ---------------------------------------------------------------------

function connectRaw(port) {
  return new Promise((resolve, reject) => {
    const s = nodeNet.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    s.once('connect', () => {
      s.setNoDelay(true);
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}

/** One fuzzing connection to the echo server. */
async function fuzzServerConnection(rng, port, cfg, out) {
  const sock = await connectRaw(port);
  sock.on('error', () => {});
  let rx = Buffer.alloc(0);
  let headEnd = -1;
  let closed = false;
  const closedP = new Promise((r) => sock.once('close', r)).then(() => {
    closed = true;
  });
  let headWaiter = null;
  sock.on('data', (d) => {
    rx = Buffer.concat([rx, d]);
    if (headEnd < 0) {
      const i = rx.indexOf('\r\n\r\n');
      if (i >= 0) {
        headEnd = i + 4;
        headWaiter?.();
      }
    }
  });
  const mutateHs = rng.chance(cfg.handshakeMutationRate);
  const request = mutateHs ? mutatedRequest(rng) : validRequest(rng);
  if (mutateHs) out.mutatedHandshakes++;
  else out.validHandshakes++;
  await sendChunked(rng, sock, request, cfg.maxDelayMs);
  if (mutateHs && rng.chance(0.5)) sock.end();
  // Wait for the response head or the TCP close; bounded by the server's handshake timeout.
  if (headEnd < 0) await Promise.race([new Promise((r) => (headWaiter = r)), closedP, delay(cfg.boundMs)]);
  const upgraded = headEnd >= 0 && rx.subarray(0, 12).toString('latin1') === 'HTTP/1.1 101';
  if (headEnd >= 0 && !upgraded) {
    const status = rx.subarray(9, 12).toString('latin1');
    out.refusals[status] = (out.refusals[status] ?? 0) + 1;
  }
  if (upgraded) {
    out.upgraded++;
    const n = 1 + rng.int(cfg.maxFramesPerConnection);
    let prev = null;
    for (let i = 0; i < n && !closed; i++) {
      let frames;
      if (rng.chance(cfg.frameMutationRate)) {
        out.mutatedFrames++;
        if (rng.chance(0.2)) frames = invalidUnit(rng, true);
        else {
          frames = validUnit(rng, true);
          const j = rng.int(frames.length);
          frames[j] = mutateBytes(rng, frames[j], prev);
        }
      } else {
        out.validFrames++;
        frames = validUnit(rng, true);
      }
      prev = frames[0];
      await sendChunked(rng, sock, Buffer.concat(frames), cfg.maxDelayMs);
    }
    const ending = rng.int(4);
    if (ending === 0) {
      const p = Buffer.alloc(2);
      p.writeUInt16BE(1000);
      if (!closed) sock.write(buildFrame({ opcode: 8, key: rng.bytes(4), payload: p }));
      // A peer that waits for the server's FIN after its close frame; ends its side later.
      setTimeout(() => sock.end(), rng.int(20)).unref();
    } else if (ending === 1 || ending === 2) {
      sock.end();
    } else {
      out.resets++;
      sock.resetAndDestroy();
    }
  } else if (!closed) {
    sock.end();
  }
  const t0 = performance.now();
  const timer = delay(cfg.boundMs).then(() => 'timeout');
  const r = await Promise.race([closedP, timer]);
  if (r === 'timeout') {
    out.hung++;
    sock.destroy();
  } else {
    out.maxCloseMs = Math.max(out.maxCloseMs, performance.now() - t0);
  }
  out.connections++;
  if (upgraded) {
    const scan = scanFrames(rx.subarray(headEnd), false);
    if (scan.maskViolation) out.maskedFromServer++;
    if (scan.closePayload) {
      if (isValidClosePayload(scan.closePayload)) {
        out.closedWithFrame++;
        const code = scan.closePayload.length >= 2 ? scan.closePayload.readUInt16BE(0) : 0;
        out.closeCodes[code] = (out.closeCodes[code] ?? 0) + 1;
      } else out.badCloseFrames++;
    } else out.closedWithTcp++;
  } else out.closedWithTcp++;
}

/** A well-behaved client: our Stream, echo round trips that must come back intact. */
async function goodClient(rng, port, rounds, out) {
  const tcp = new TcpStream();
  await tcp.asyncConnect(new Endpoint('127.0.0.1', port));
  tcp.setNoDelay(true);
  const ws = new Stream(tcp);
  await ws.asyncHandshake('127.0.0.1', '/good');
  ws.binary(true);
  const buf = new FlatBuffer();
  for (let i = 0; i < rounds; i++) {
    const msg = rng.bytes(rng.chance(0.9) ? rng.int(2000) : 70_000);
    await ws.asyncWrite(msg);
    await ws.asyncRead(buf);
    if (Buffer.compare(buf.data(), msg) !== 0) out.goodMismatches++;
    buf.consume(buf.size());
    out.goodRoundTrips++;
  }
  await ws.asyncClose(1000);
}

function newServerReport() {
  return {
    connections: 0,
    validHandshakes: 0,
    mutatedHandshakes: 0,
    upgraded: 0,
    refusals: {},
    validFrames: 0,
    mutatedFrames: 0,
    resets: 0,
    closedWithFrame: 0,
    closedWithTcp: 0,
    closeCodes: {},
    badCloseFrames: 0,
    maskedFromServer: 0,
    hung: 0,
    maxCloseMs: 0,
    goodRoundTrips: 0,
    goodMismatches: 0,
    goodFailures: 0,
    connectFailures: 0,
  };
}

/**
 * Fuzzes the echo server until `targetMutations` mutated frames and
 * handshakes have been sent (or `maxConnections` is reached), with
 * `concurrency` fuzzing connections and one well-behaved client at a time.
 */
export async function runServerFuzz(cfg) {
  const c = {
    seed: 1,
    targetMutations: 20_000,
    maxConnections: 1_000_000,
    concurrency: 32,
    maxFramesPerConnection: 24,
    frameMutationRate: 0.6,
    handshakeMutationRate: 0.15,
    maxDelayMs: 2,
    boundMs: 10_000,
    handshakeTimeout: 2000,
    progress: null,
    ...cfg,
  };
  const server = await startEchoServer({ handshakeTimeout: c.handshakeTimeout });
  const out = newServerReport();
  let stop = false;
  let started = 0;
  const mutations = () => out.mutatedFrames + out.mutatedHandshakes;
  const worker = async (w) => {
    while (!stop && mutations() < c.targetMutations && started < c.maxConnections) {
      started++;
      // Each connection gets its own PRNG stream derived from the run's seed: reproducible.
      const connRng = new Rng((c.seed * 0x9e3779b1 + started) >>> 0);
      try {
        await fuzzServerConnection(connRng, server.port, c, out);
      } catch {
        out.connectFailures++;
      }
      if (c.progress && started % 1000 === w) c.progress(out);
    }
  };
  const good = (async () => {
    const grng = new Rng(c.seed ^ 0x5bd1e995);
    while (!stop) {
      try {
        await goodClient(grng, server.port, 10, out);
      } catch {
        out.goodFailures++;
      }
    }
  })();
  const workers = [];
  for (let w = 0; w < c.concurrency; w++) workers.push(worker(w));
  await Promise.all(workers);
  stop = true;
  await good;
  // Give sessions that are closing a bounded time to finish.
  const t0 = performance.now();
  while ((server.ops.pending > 0 || server.sessions.size > 0) && performance.now() - t0 < c.boundMs) {
    await delay(10);
  }
  const report = {
    ...out,
    usesAcceptor: server.usesAcceptor,
    server: { ...server.stats },
    serverOpsStarted: server.ops.started,
    serverOpsPending: server.ops.pending,
    serverDoubleCompletions: server.ops.doubleCompletions,
    liveSessions: server.sessions.size,
  };
  server.stop();
  return report;
}

// ---- client fuzz -------------------------------------------------------------------

/** A hostile server: mutated 101s, mutated frames, then FIN, reset, or close without FIN. */
async function startHostileServer(seed, cfg, out) {
  let n = 0;
  const live = new Set();
  const server = nodeNet.createServer({ allowHalfOpen: true }, (sock) => {
    const rng = new Rng((seed * 0x85ebca6b + ++n) >>> 0);
    live.add(sock);
    sock.setNoDelay(true);
    sock.on('close', () => live.delete(sock));
    // Once the client has finished sending, the hostile server stops too (it never lingers half-open).
    sock.on('end', () => sock.destroy());
    sock.on('error', () => {});
    let rx = Buffer.alloc(0);
    const onData = (d) => {
      rx = Buffer.concat([rx, d]);
      const i = rx.indexOf('\r\n\r\n');
      if (i < 0) return;
      sock.off('data', onData);
      sock.resume();
      const m = /Sec-WebSocket-Key: *([^\r]*)\r\n/i.exec(rx.toString('latin1'));
      void play(rng, sock, m ? m[1] : '');
    };
    sock.on('data', onData);
  });
  const play = async (rng, sock, key) => {
    const mutate = rng.chance(cfg.handshakeMutationRate);
    if (mutate) out.mutatedHandshakes++;
    await sendChunked(rng, sock, hostileResponse(rng, key, mutate), cfg.maxDelayMs);
    const n = rng.int(cfg.maxFramesPerConnection);
    let prev = null;
    for (let i = 0; i < n && !sock.destroyed; i++) {
      let frames;
      if (rng.chance(cfg.frameMutationRate)) {
        out.mutatedFrames++;
        if (rng.chance(0.2)) frames = invalidUnit(rng, false);
        else {
          frames = validUnit(rng, false);
          const j = rng.int(frames.length);
          frames[j] = mutateBytes(rng, frames[j], prev);
        }
      } else frames = validUnit(rng, false);
      prev = frames[0];
      await sendChunked(rng, sock, Buffer.concat(frames), cfg.maxDelayMs);
    }
    if (sock.destroyed) return;
    const ending = rng.int(4);
    if (ending === 0) sock.end();
    else if (ending === 1) sock.resetAndDestroy();
    else if (ending === 2) {
      // A close frame and then silence: the client's closing handshake must be bounded by its timeout.
      const p = Buffer.alloc(2);
      p.writeUInt16BE(rng.pick(VALID_CLOSE_CODES));
      sock.write(buildFrame({ opcode: 8, payload: p }));
      out.silentAfterClose++;
    } else {
      const p = Buffer.alloc(2);
      p.writeUInt16BE(1000);
      sock.write(buildFrame({ opcode: 8, payload: p }));
      sock.end();
    }
  };
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  server.live = live;
  return server;
}

/** Our client against the hostile server: every operation completes exactly once, the stream ends closed. */
async function fuzzClientConnection(port, cfg, out, ops) {
  const tcp = new TcpStream();
  await tcp.asyncConnect(new Endpoint('127.0.0.1', port));
  tcp.setNoDelay(true);
  const ws = new Stream(tcp);
  ws.setOption(new Timeout(cfg.clientTimeout, Number.POSITIVE_INFINITY, false));
  const buf = new FlatBuffer(1 << 20);
  const t0 = performance.now();
  const finished = await new Promise((resolve) => {
    const bound = setTimeout(() => resolve(false), cfg.boundMs);
    const done = () => {
      clearTimeout(bound);
      resolve(true);
    };
    ws.asyncHandshake(
      '127.0.0.1',
      '/',
      ops.wrap((ec) => {
        if (ec) {
          out.handshakeFailed++;
          if (ws.isOpen()) out.openAfterError++;
          tcp.close();
          return done();
        }
        out.clientOpened++;
        const read = () => {
          // No websocket idle timeout yet: a peer silent in the middle of a frame is cut off by the TCP expiry.
          tcp.expiresAfter(cfg.clientIdleMs);
          ws.asyncRead(
            buf,
            ops.wrap((rec) => {
              if (rec) {
                const key = `${rec.name ?? rec}`;
                out.readEnds[key] = (out.readEnds[key] ?? 0) + 1;
                if (ws.isOpen()) out.openAfterError++;
                tcp.close();
                return done();
              }
              out.clientMessages++;
              buf.consume(buf.size());
              read();
            }),
          );
        };
        read();
      }),
    );
  });
  const ms = performance.now() - t0;
  const bucket = ms < 50 ? '<50ms' : ms < 400 ? '<400ms' : ms < 1000 ? '<1s' : ms < 3000 ? '<3s' : '>=3s';
  out.durations[bucket] = (out.durations[bucket] ?? 0) + 1;
  if (!finished) {
    out.hung++;
    const key = `${ws.impl.status}/rdBlock=${ws.impl.rdBlock?.constructor?.name}/wrBlock=${ws.impl.wrBlock?.constructor?.name}`;
    out.hungStates[key] = (out.hungStates[key] ?? 0) + 1;
    tcp.close();
  } else out.maxEndMs = Math.max(out.maxEndMs, performance.now() - t0);
  out.connections++;
}

export async function runClientFuzz(cfg) {
  const c = {
    seed: 2,
    targetMutations: 5_000,
    maxConnections: 1_000_000,
    concurrency: 32,
    maxFramesPerConnection: 16,
    frameMutationRate: 0.5,
    handshakeMutationRate: 0.2,
    maxDelayMs: 2,
    boundMs: 10_000,
    clientTimeout: 1500,
    clientIdleMs: 3000,
    ...cfg,
  };
  const out = {
    connections: 0,
    mutatedHandshakes: 0,
    mutatedFrames: 0,
    clientOpened: 0,
    handshakeFailed: 0,
    clientMessages: 0,
    silentAfterClose: 0,
    readEnds: {},
    openAfterError: 0,
    hung: 0,
    maxEndMs: 0,
    durations: {},
    hungStates: {},
    connectFailures: 0,
  };
  const ops = new OpTracker();
  const server = await startHostileServer(c.seed, c, out);
  const port = server.address().port;
  let started = 0;
  const worker = async () => {
    while (out.mutatedFrames + out.mutatedHandshakes < c.targetMutations && started < c.maxConnections) {
      started++;
      try {
        await fuzzClientConnection(port, c, out, ops);
      } catch {
        out.connectFailures++;
      }
    }
  };
  const workers = [];
  for (let w = 0; w < c.concurrency; w++) workers.push(worker());
  await Promise.all(workers);
  for (const s of server.live) s.destroy();
  await new Promise((r) => server.close(r));
  return {
    ...out,
    opsStarted: ops.started,
    opsPending: ops.pending,
    doubleCompletions: ops.doubleCompletions,
  };
}

// ---- process-level guards ---------------------------------------------------------

/** Counts uncaught exceptions and unhandled rejections while installed. */
export function installProcessGuards() {
  const counts = { uncaught: 0, unhandled: 0, messages: [] };
  const onErr = (e) => {
    counts.uncaught++;
    counts.messages.push(String(e?.stack ?? e));
  };
  const onRej = (e) => {
    counts.unhandled++;
    counts.messages.push(String(e?.stack ?? e));
  };
  process.on('uncaughtException', onErr);
  process.on('unhandledRejection', onRej);
  return {
    counts,
    remove() {
      process.off('uncaughtException', onErr);
      process.off('unhandledRejection', onRej);
    },
  };
}

/** Heap used after a full GC, in bytes (GC exposed through v8 flags if the process was not started with it). */
export async function heapAfterGc() {
  const v8 = await import('node:v8');
  const vm = await import('node:vm');
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc');
  for (let i = 0; i < 3; i++) {
    gc();
    await delay(20);
  }
  return process.memoryUsage().heapUsed;
}
