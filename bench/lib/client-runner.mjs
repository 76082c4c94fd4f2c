// Runs one client adapter (bench/clients/<name>-client.mjs) against an echo server in its own
// process: node bench/lib/client-runner.mjs '<json>' -> "RESULT <json>", or exit 78 "NOT_BUILT".
// One connection keeping `depth` binary messages in flight for warmupMs + durationMs
// (mode 'echo'), or exactly `count` messages with every echoed byte compared (mode 'check').
import { performance } from 'node:perf_hooks';
import { makePayload } from './frames.mjs';

const p = {
  mode: 'echo',
  host: '127.0.0.1',
  size: 32,
  depth: 1,
  warmupMs: 250,
  durationMs: 3000,
  count: 16,
  ...JSON.parse(process.argv[2] ?? '{}'),
};
setTimeout(
  () => {
    process.stderr.write('client-runner: watchdog fired\n');
    process.exit(2);
  },
  p.warmupMs + p.durationMs + 30000,
).unref();

const client = await import(`../clients/${p.client}-client.mjs`);
if (!client.built) {
  process.stdout.write('NOT_BUILT\n');
  process.exit(78);
}

const payload = makePayload(p.size, 'binary');
const checking = p.mode === 'check';
const times = new Float64Array(p.depth);
let head = 0;
let tail = 0;
let inFlight = 0;
let sent = 0;
let received = 0;
let measuring = false;
let stopped = false;
let messages = 0;
let failure = null;
let done = null;
let lat = new Float64Array(1 << 16);
let nLat = 0;

const asBytes = (d) => (d instanceof ArrayBuffer ? new Uint8Array(d) : d);

function onMessage(data) {
  const now = performance.now();
  const bytes = asBytes(data);
  if (bytes.byteLength !== p.size) failure ??= new Error(`echo is ${bytes.byteLength} bytes, sent ${p.size}`);
  else if (
    checking &&
    Buffer.compare(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), payload) !== 0
  ) {
    failure ??= new Error('echoed content differs from what was sent');
  }
  if (failure || inFlight === 0) {
    failure ??= new Error('more echoes than messages sent');
    done?.();
    return;
  }
  if (measuring) {
    if (nLat === lat.length) {
      const b = new Float64Array(lat.length * 2);
      b.set(lat);
      lat = b;
    }
    lat[nLat++] = (now - times[head]) * 1000;
    messages++;
  }
  head = head + 1 === p.depth ? 0 : head + 1;
  inFlight--;
  received++;
  if (checking && received === p.count) return done?.();
  if (!stopped && (!checking || sent < p.count)) send(now);
}

let conn;
function send(now) {
  times[tail] = now;
  tail = tail + 1 === p.depth ? 0 : tail + 1;
  inFlight++;
  sent++;
  conn.send(payload);
}

try {
  conn = await client.open(`ws://${p.host}:${p.port}/`, onMessage);
} catch (e) {
  process.stderr.write(`client-runner: ${p.client}: ${e.message}\n`);
  process.exit(e.code === 'NOT_BUILT' ? 78 : 1);
}
const t0 = performance.now();
for (let k = 0; k < p.depth && (!checking || sent < p.count); k++) send(t0);
let seconds;
let cpu = null;
let cpuPerMsgUs = null;
let faultsPerMsg = null;
if (checking) {
  await new Promise((resolve) => {
    done = resolve;
    setTimeout(() => {
      failure ??= new Error(`check timed out after ${received} echoes`);
      resolve();
    }, 15000);
  });
  seconds = (performance.now() - t0) / 1000;
} else {
  await new Promise((r) => setTimeout(r, p.warmupMs));
  const w0 = performance.now();
  const c0 = process.cpuUsage();
  const f0 = process.resourceUsage().minorPageFault;
  measuring = !failure;
  await new Promise((resolve) => {
    const t = setTimeout(resolve, p.durationMs);
    done = () => {
      clearTimeout(t);
      resolve();
    };
  });
  measuring = false;
  seconds = (performance.now() - w0) / 1000;
  const c = process.cpuUsage(c0);
  cpu = (c.user + c.system) / 1e6 / seconds;
  if (messages > 0) {
    cpuPerMsgUs = (c.user + c.system) / messages;
    faultsPerMsg = (process.resourceUsage().minorPageFault - f0) / messages;
  }
}
stopped = true;
conn.close();
if (failure) {
  process.stderr.write(`client-runner: ${p.client}: ${failure.message}\n`);
  process.exit(1);
}
if (!checking && messages === 0) {
  process.stderr.write(`client-runner: ${p.client}: no echoes in the window\n`);
  process.exit(1);
}
const sorted = lat.subarray(0, nLat).sort();
const pct = (q) => (nLat ? sorted[Math.min(nLat - 1, Math.ceil(q * nLat) - 1)] : null);
const result = {
  client: p.client,
  size: p.size,
  depth: p.depth,
  seconds,
  messages: checking ? received : messages,
  msgsPerSec: checking ? null : messages / seconds,
  mbPerSec: checking ? null : (messages * p.size) / seconds / 1e6,
  p50us: pct(0.5),
  p99us: pct(0.99),
  clientCpu: cpu,
  // The client's user+system CPU time and minor page faults in the window, per message echoed.
  clientCpuPerMsgUs: cpuPerMsgUs,
  clientFaultsPerMsg: faultsPerMsg,
};
process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
process.exit(0);
