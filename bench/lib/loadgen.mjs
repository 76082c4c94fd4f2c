// The bench's own load generator: a minimal RFC 6455 client over raw node:net sockets, so every
// server is measured by the same client. Runs as its own process:
//   node bench/lib/loadgen.mjs '<json params>'   -> prints "RESULT <json>" and exits
// Modes:
//   echo  (default) `connections` sockets, each keeping `depth` messages in flight for
//         warmupMs + durationMs; counts echoes and round-trip latency inside the window only.
//   check like echo but sends exactly `count` messages per connection and compares every echoed
//         byte with what was sent (a broken server can't look fast: run this before measuring).
//   idle  opens `connections` sockets, handshakes (with echoFirst, echoes one `size`-byte
//         message on each), prints "OPEN <n>", then holds them until
//         stdin closes / says "close" or holdMs passes.
// Every message is one FIN frame masked with a fixed key and prebuilt once, so the client's cost
// per message is a write of an existing buffer plus a minimal header parse of the echo.
// Echoed payload length is always verified; content too in check mode or with verify:'content'.
import crypto from 'node:crypto';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { acceptKey, deflateMessage, encodeMaskedFrame, inflateMessage, makePayload } from './frames.mjs';

const DEFAULTS = {
  mode: 'echo',
  host: '127.0.0.1',
  port: 0,
  size: 32,
  connections: 1,
  depth: 1,
  warmupMs: 250,
  durationMs: 3000,
  count: 20,
  verify: 'length',
  deflate: false,
  holdMs: 60000,
  connectConcurrency: 128,
};

function openConnection(host, port, { deflate }) {
  return new Promise((resolve, reject) => {
    const key = crypto.randomBytes(16).toString('base64');
    const sock = net.connect({ host, port, noDelay: true });
    let acc = null;
    const fail = (e) => {
      sock.destroy();
      reject(e);
    };
    const timer = setTimeout(() => fail(new Error('handshake timed out')), 10000);
    sock.on('error', (e) => {
      clearTimeout(timer);
      fail(e);
    });
    sock.on('connect', () => {
      const ext = deflate
        ? 'Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover; server_no_context_takeover\r\n'
        : '';
      sock.write(
        `GET / HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n${ext}\r\n`,
      );
    });
    const onData = (chunk) => {
      acc = acc === null ? chunk : Buffer.concat([acc, chunk]);
      const end = acc.indexOf('\r\n\r\n');
      if (end < 0) return;
      clearTimeout(timer);
      sock.removeListener('data', onData);
      sock.removeAllListeners('error');
      const head = acc.toString('latin1', 0, end);
      if (!/^HTTP\/1\.1 101/.test(head)) return fail(new Error(`upgrade refused: ${head.split('\r\n')[0]}`));
      const accept = /\r\nsec-websocket-accept:[ \t]*([^\r\n]+)/i.exec(head);
      if (!accept || accept[1].trim() !== acceptKey(key)) return fail(new Error('bad Sec-WebSocket-Accept'));
      const exts = /\r\nsec-websocket-extensions:[ \t]*([^\r\n]+)/i.exec(head);
      if (deflate) {
        const e = exts ? exts[1] : '';
        if (!/permessage-deflate/i.test(e))
          return fail(new Error('server did not negotiate permessage-deflate'));
        if (!/server_no_context_takeover/i.test(e)) {
          return fail(new Error('server did not accept server_no_context_takeover'));
        }
      } else if (exts) {
        return fail(new Error(`server negotiated an extension that was not offered: ${exts[1]}`));
      }
      sock.pause();
      resolve({ sock, rest: acc.subarray(end + 4) });
    };
    sock.on('data', onData);
  });
}

async function openAll(p) {
  const out = new Array(p.connections);
  let next = 0;
  const worker = async () => {
    while (next < p.connections) {
      const k = next++;
      out[k] = await openConnection(p.host, p.port, p);
    }
  };
  await Promise.all(Array.from({ length: Math.min(p.connections, p.connectConcurrency) }, worker));
  return out;
}

/** Growable Float64Array of latency samples (µs). */
class Samples {
  constructor() {
    this.a = new Float64Array(1 << 16);
    this.n = 0;
  }
  add(v) {
    if (this.n === this.a.length) {
      const b = new Float64Array(this.a.length * 2);
      b.set(this.a);
      this.a = b;
    }
    this.a[this.n++] = v;
  }
  sorted() {
    return this.a.subarray(0, this.n).sort();
  }
}

const HEADER = 0;
const PAYLOAD = 1;

/** Minimal parser for unmasked server frames; collects messages and verifies them. */
class Reader {
  constructor(expected, { content, deflate }) {
    this.expected = expected;
    this.content = content;
    this.deflate = deflate;
    this.state = HEADER;
    this.hbuf = Buffer.allocUnsafe(14);
    this.hHave = 0;
    this.remaining = 0;
    this.fin = false;
    this.control = 0;
    this.msgLen = 0;
    this.compressed = false;
    this.chunks = [];
  }

  /** Returns the number of complete, verified messages in `buf`; throws on a protocol/echo error. */
  feed(buf) {
    const len = buf.length;
    let i = 0;
    let done = 0;
    while (i < len) {
      if (this.state === PAYLOAD) {
        const take = Math.min(this.remaining, len - i);
        if (this.control === 0) {
          if (this.compressed) this.chunks.push(Buffer.from(buf.subarray(i, i + take)));
          else if (this.content) this.compare(buf, i, take);
          this.msgLen += take;
        }
        this.remaining -= take;
        i += take;
        if (this.remaining === 0 && this.endFrame()) done++;
        continue;
      }
      let h = this.hbuf;
      let o = 0;
      const l7direct = len - i >= 2 && this.hHave === 0 ? buf[i + 1] & 127 : -1;
      const needDirect = l7direct < 0 ? 0 : l7direct < 126 ? 2 : l7direct === 126 ? 4 : 10;
      if (needDirect > 0 && len - i >= needDirect) {
        h = buf;
        o = i;
        i += needDirect;
      } else {
        let need = 0;
        while (i < len) {
          this.hbuf[this.hHave++] = buf[i++];
          if (this.hHave >= 2) {
            const l7 = this.hbuf[1] & 127;
            need = l7 < 126 ? 2 : l7 === 126 ? 4 : 10;
            if (this.hHave === need) break;
          }
        }
        if (need === 0 || this.hHave < need) break;
        this.hHave = 0;
      }
      const b0 = h[o];
      const b1 = h[o + 1];
      if (b1 & 0x80) throw new Error('server frame is masked');
      const l7 = b1 & 127;
      const n =
        l7 < 126
          ? l7
          : l7 === 126
            ? h.readUInt16BE(o + 2)
            : h.readUInt32BE(o + 2) * 2 ** 32 + h.readUInt32BE(o + 6);
      const op = b0 & 0x0f;
      this.fin = (b0 & 0x80) !== 0;
      if (op >= 8) {
        if (op === 8) throw new Error('server sent a close frame');
        this.control = op;
      } else {
        this.control = 0;
        if (op !== 0) {
          this.msgLen = 0;
          this.compressed = (b0 & 0x40) !== 0;
          if (this.compressed && !this.deflate) throw new Error('RSV1 set without permessage-deflate');
          this.chunks.length = 0;
        }
      }
      this.remaining = n;
      this.state = PAYLOAD;
      if (n === 0 && this.endFrame()) done++;
    }
    return done;
  }

  compare(buf, i, take) {
    const e = this.expected;
    if (this.msgLen + take > e.length || buf.compare(e, this.msgLen, this.msgLen + take, i, i + take) !== 0) {
      throw new Error(`echoed content differs from what was sent (at byte ${this.msgLen})`);
    }
  }

  /** End of a frame's payload; true when it completed a data message. */
  endFrame() {
    this.state = HEADER;
    if (this.control !== 0 || !this.fin) return false;
    let got = this.msgLen;
    if (this.compressed) {
      const msg = inflateMessage(this.chunks);
      this.chunks.length = 0;
      got = msg.length;
      if (this.content && !msg.equals(this.expected))
        throw new Error('inflated echo differs from what was sent');
    }
    if (got !== this.expected.length) {
      throw new Error(`echoed message is ${got} bytes, sent ${this.expected.length}`);
    }
    return true;
  }
}

async function runEcho(p) {
  const deflate = Boolean(p.deflate);
  const payload = makePayload(p.size, deflate ? 'text' : 'binary');
  const frame = deflate ? encodeMaskedFrame(1, deflateMessage(payload), true) : encodeMaskedFrame(2, payload);
  const depth = p.depth;
  // Small frames: one write of k back-to-back frames; large ones: k writes of the same buffer.
  const batch = frame.length * depth <= 256 * 1024 ? Buffer.concat(Array(depth).fill(frame)) : null;
  const checking = p.mode === 'check';
  const content = checking || p.verify === 'content';
  const conns = await openAll({ ...p, deflate });

  const samples = new Samples();
  let measuring = false;
  let stopped = false;
  let messages = 0;
  let total = 0;
  let failure = null;
  let finishCheck = null;
  let checkRemaining = conns.length;

  const t0 = performance.now();
  const states = conns.map(({ sock, rest }) => {
    const st = {
      sock,
      reader: new Reader(payload, { content, deflate }),
      times: new Float64Array(depth),
      head: 0,
      tail: 0,
      inFlight: 0,
      sent: 0,
      received: 0,
    };
    const send = (k, now) => {
      if (checking) k = Math.min(k, p.count - st.sent);
      if (k <= 0) return;
      for (let j = 0; j < k; j++) {
        st.times[st.tail] = now;
        st.tail = st.tail + 1 === depth ? 0 : st.tail + 1;
      }
      st.inFlight += k;
      st.sent += k;
      if (batch !== null) sock.write(k === depth ? batch : batch.subarray(0, k * frame.length));
      else for (let j = 0; j < k; j++) sock.write(frame);
    };
    const onData = (buf) => {
      if (failure) return;
      const now = performance.now();
      let k;
      try {
        k = st.reader.feed(buf);
      } catch (e) {
        failure = e;
        finishCheck?.();
        return;
      }
      if (k === 0) return;
      if (k > st.inFlight) {
        failure = new Error('more echoes than messages sent');
        finishCheck?.();
        return;
      }
      for (let j = 0; j < k; j++) {
        if (measuring) samples.add((now - st.times[st.head]) * 1000);
        st.head = st.head + 1 === depth ? 0 : st.head + 1;
      }
      st.inFlight -= k;
      st.received += k;
      total += k;
      if (measuring) messages += k;
      if (checking && st.received === p.count) {
        if (--checkRemaining === 0) finishCheck?.();
        return;
      }
      if (!stopped) send(k, now);
    };
    sock.on('data', onData);
    sock.on('error', (e) => {
      if (!stopped && !failure) failure = e;
      finishCheck?.();
    });
    sock.on('close', () => {
      if (!stopped && !failure) failure = new Error('server closed the connection');
      finishCheck?.();
    });
    st.start = () => {
      sock.resume();
      if (rest.length > 0) onData(rest);
      send(depth, performance.now());
    };
    return st;
  });
  for (const st of states) st.start();

  let seconds;
  let cpu0 = null;
  let server0 = null;
  let serverCpu = null;
  let serverUserCpu = null;
  let serverFaults = null;
  if (checking) {
    await new Promise((resolve) => {
      finishCheck = resolve;
      setTimeout(() => {
        if (!failure && checkRemaining > 0) failure = new Error(`check timed out (${total} echoes received)`);
        resolve();
      }, p.checkTimeoutMs ?? 15000);
    });
    stopped = true;
    seconds = (performance.now() - t0) / 1000;
  } else {
    await new Promise((r) => setTimeout(r, p.warmupMs));
    const w0 = performance.now();
    cpu0 = process.cpuUsage();
    server0 = serverUsage(p.serverPid);
    measuring = !failure;
    await new Promise((resolve) => {
      const t = setTimeout(resolve, p.durationMs);
      finishCheck = () => {
        clearTimeout(t);
        resolve();
      };
    });
    measuring = false;
    stopped = true;
    seconds = (performance.now() - w0) / 1000;
    const c = process.cpuUsage(cpu0);
    cpu0 = (c.user + c.system) / 1e6 / seconds;
    const server1 = serverUsage(p.serverPid);
    if (server0 !== null && server1 !== null) {
      serverCpu = server1.cpuSeconds - server0.cpuSeconds;
      serverUserCpu = server1.userSeconds - server0.userSeconds;
      serverFaults = server1.minorFaults - server0.minorFaults;
    }
  }
  for (const st of states) st.sock.destroy();
  if (failure) throw failure;
  if (!checking && messages === 0) throw new Error('no echoes received in the measurement window');
  const sorted = samples.sorted();
  const pct = (q) =>
    sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] : null;
  return {
    mode: p.mode,
    size: p.size,
    connections: p.connections,
    depth,
    deflate,
    seconds,
    messages: checking ? total : messages,
    msgsPerSec: checking ? null : messages / seconds,
    mbPerSec: checking ? null : (messages * p.size) / seconds / 1e6,
    p50us: pct(0.5),
    p99us: pct(0.99),
    verified: content ? 'content' : 'length',
    // Fraction of one CPU the load generator used in the window: near 1.0 means the client, not
    // the server, may be the bottleneck for this cell.
    clientCpu: checking ? null : cpu0,
    // The server's CPU seconds (user + system) in the window, when its pid was given and /proc has
    // it: divided by the echoes, the cost per message, much less sensitive than msg/s to how much
    // of its core the server got on a shared machine.
    serverCpu: checking ? null : serverCpu,
    // The user-mode part of serverCpu: the server's own code (JavaScript, Node, V8). The rest,
    // system time, is its system calls — and on loopback also the receiving side's TCP work and
    // the wake-up of a load generator that was waiting, which a write pays for in the writer's
    // process: a server that keeps its peer waiting pays more per write (docs/performance.md).
    serverUserCpu: checking ? null : serverUserCpu,
    // The server's minor page faults in the window: memory its allocator had given back to the
    // kernel and touched again (docs/performance.md, "The allocator").
    serverFaults: checking ? null : serverFaults,
  };
}

/**
 * Process `pid`'s user + system CPU seconds (utime + stime), its user CPU seconds alone, and its
 * minor page faults (minflt) so far, from one read of /proc/<pid>/stat; null without a pid or
 * /proc (not Linux).
 */
function serverUsage(pid) {
  if (!pid) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start after the last ')':
    // proc(5) field N is index N - 3 here.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return {
      cpuSeconds: (Number(f[11]) + Number(f[12])) / CLOCK_TICKS,
      userSeconds: Number(f[11]) / CLOCK_TICKS,
      minorFaults: Number(f[7]),
    };
  } catch {
    return null;
  }
}

/** USER_HZ: the unit of /proc/<pid>/stat's utime and stime (100 on Linux on every common arch). */
const CLOCK_TICKS = 100;

/** Sends one binary message of `size` bytes on each connection and waits for every echo. */
async function echoOnce(conns, size) {
  const frame = encodeMaskedFrame(2, makePayload(size, 'binary'));
  const expected = (size < 126 ? 2 : size < 65536 ? 4 : 10) + size;
  await Promise.all(
    conns.map(
      ({ sock, rest }) =>
        new Promise((resolve, reject) => {
          let got = rest.length;
          const timer = setTimeout(() => reject(new Error('no echo within 10 s')), 10000);
          const onData = (chunk) => {
            got += chunk.length;
            if (got < expected) return;
            clearTimeout(timer);
            sock.removeListener('data', onData);
            sock.pause();
            resolve();
          };
          sock.on('data', onData);
          sock.resume();
          sock.write(frame);
        }),
    ),
  );
}

async function runIdle(p) {
  const conns = await openAll(p);
  for (const { sock } of conns) {
    sock.on('error', () => {});
  }
  // Idle after one message each, rather than straight after the handshake.
  if (p.echoFirst) await echoOnce(conns, p.size);
  process.stdout.write(`OPEN ${conns.length}\n`);
  await new Promise((resolve) => {
    const t = setTimeout(resolve, p.holdMs);
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (s) => {
      if (s.includes('close')) {
        clearTimeout(t);
        resolve();
      }
    });
    process.stdin.on('end', () => {
      clearTimeout(t);
      resolve();
    });
  });
  for (const { sock } of conns) sock.destroy();
  return { mode: 'idle', connections: conns.length };
}

async function main() {
  const p = { ...DEFAULTS, ...JSON.parse(process.argv[2] ?? '{}') };
  // Hard stop no matter what: nothing here may outlive its budget.
  const budget = p.mode === 'idle' ? p.holdMs + 60000 : p.warmupMs + p.durationMs + 30000;
  setTimeout(() => {
    process.stderr.write(`loadgen: watchdog fired after ${budget} ms\n`);
    process.exit(2);
  }, budget).unref();
  const result = p.mode === 'idle' ? await runIdle(p) : await runEcho(p);
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
  process.exit(0);
}

main().catch((e) => {
  process.stderr.write(`loadgen: ${e?.message ?? e}\n`);
  process.exit(1);
});
