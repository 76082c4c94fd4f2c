// Client throughput: one fast echo server (bench/servers/raw-echo.mjs, pinned to CPU 0) and the
// WebSocket clients in bench/clients/ (each run by lib/client-runner.mjs in its own process,
// pinned to CPU 1), interleaved per cell within each round; medians and the ratio to the ws client.
// The bench's own load generator (1 connection) is shown as a reference: a client doing almost no work.
//   node bench/client-throughput.mjs [--quick] [--rounds 3] [--duration 3000] [--sizes 32,1024,65536] [--depths 1,16]
import { parseArgs } from 'node:util';
import {
  applyMallocTrimThreshold,
  describeMallocTrim,
  machineInfo,
  runChild,
  startServer,
  warnIfBusy,
  writeResult,
} from './lib/proc.mjs';
import { fmtCount, fmtCpu, fmtFaults, fmtMB, fmtRatio, fmtSize, fmtUs, median, table } from './lib/stats.mjs';

/** Client contenders, in run order. Adding one: a bench/clients/<name>-client.mjs adapter + a line here. */
export const clients = [
  { name: 'tsio', optional: true },
  { name: 'ws', baseline: true },
  { name: 'ws+bufferutil' },
  { name: 'undici' },
];

const { values: a } = parseArgs({
  options: {
    'malloc-trim-threshold': { type: 'string' },
    quick: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    duration: { type: 'string' },
    warmup: { type: 'string' },
    sizes: { type: 'string' },
    depths: { type: 'string' },
    'no-reference': { type: 'boolean', default: false },
  },
});
const list = (s, d) => (s ? s.split(',').map(Number) : d);
const cfg = {
  rounds: Number(a.rounds ?? (a.quick ? 1 : 3)),
  durationMs: Number(a.duration ?? (a.quick ? 1000 : 3000)),
  warmupMs: Number(a.warmup ?? (a.quick ? 200 : 500)),
  sizes: list(a.sizes, [32, 1024, 65536]),
  depths: list(a.depths, [1, 16]),
  connections: 1,
};
const mallocTrim = applyMallocTrimThreshold(a['malloc-trim-threshold']);
const machine = machineInfo();
warnIfBusy(machine);
console.log(
  `client throughput against bench/servers/raw-echo.mjs: node ${machine.node}, ws ${machine.ws}, undici ${machine.undici}; ` +
    `${cfg.rounds} round(s) × ${cfg.warmupMs}+${cfg.durationMs} ms per cell; ` +
    describeMallocTrim(mallocTrim),
);

const status = {};
const samples = {};
const errors = [];
const server = await startServer({ name: 'raw', script: 'bench/servers/raw-echo.mjs' });
const runners = [...clients.map((c) => c.name), ...(a['no-reference'] ? [] : ['loadgen'])];

function runOne(name, params) {
  const timeoutMs = cfg.warmupMs + cfg.durationMs + 30000;
  if (name === 'loadgen') {
    return runChild('lib/loadgen.mjs', { ...params, port: server.port, connections: 1 }, { timeoutMs });
  }
  return runChild('lib/client-runner.mjs', { ...params, client: name, port: server.port }, { timeoutMs });
}

try {
  for (const name of runners) {
    try {
      for (const size of cfg.sizes) await runOne(name, { mode: 'check', size, depth: 4, count: 16 });
      status[name] = 'ok';
    } catch (e) {
      status[name] = e.exitCode === 78 ? 'not built' : `FAILED check: ${e.message}`;
      console.log(`${name}: ${status[name]}`);
    }
  }
  const active = runners.filter((n) => status[n] === 'ok');
  for (let r = 0; r < cfg.rounds; r++) {
    for (const size of cfg.sizes) {
      for (const depth of cfg.depths) {
        for (const name of active) {
          const params = { mode: 'echo', size, depth, warmupMs: cfg.warmupMs, durationMs: cfg.durationMs };
          try {
            const res = await runOne(name, params);
            const k = `${size}/${depth}`;
            samples[k] ??= {};
            samples[k][name] ??= [];
            samples[k][name].push({ round: r, ...res });
          } catch (e) {
            errors.push({ round: r, client: name, ...params, error: e.message });
            console.log(`  round ${r + 1} ${fmtSize(size)} ×${depth} ${name}: ERROR ${e.message}`);
          }
        }
      }
    }
    console.log(`round ${r + 1}/${cfg.rounds} done`);
  }
} finally {
  await server.stop();
}

const rows = [];
const summary = [];
for (const size of cfg.sizes) {
  for (const depth of cfg.depths) {
    const per = samples[`${size}/${depth}`] ?? {};
    const med = {};
    for (const n of runners) {
      const xs = per[n];
      med[n] = xs
        ? {
            msgsPerSec: median(xs.map((x) => x.msgsPerSec)),
            mbPerSec: median(xs.map((x) => x.mbPerSec)),
            p50us: median(xs.map((x) => x.p50us)),
            p99us: median(xs.map((x) => x.p99us)),
            clientCpu: median(xs.map((x) => x.clientCpu)),
            clientCpuPerMsgUs: median(xs.map((x) => x.clientCpuPerMsgUs)),
            clientFaultsPerMsg: median(xs.map((x) => x.clientFaultsPerMsg)),
          }
        : null;
    }
    const ws = med.ws?.msgsPerSec ?? null;
    summary.push({ size, depth, medians: med });
    for (const n of runners) {
      const m = med[n];
      const label = n === 'loadgen' ? 'loadgen (ref.)' : n;
      if (!m)
        rows.push([
          fmtSize(size),
          depth,
          label,
          status[n] === 'ok' ? 'error' : status[n],
          '',
          '',
          '',
          '',
          '',
          '',
          '',
        ]);
      else {
        rows.push([
          fmtSize(size),
          depth,
          label,
          fmtCount(m.msgsPerSec),
          fmtMB(m.mbPerSec),
          fmtUs(m.p50us),
          fmtUs(m.p99us),
          fmtRatio(m.msgsPerSec, ws),
          m.clientCpu === null ? '—' : `${Math.round(m.clientCpu * 100)}%`,
          // The reference load generator reports only its CPU share: its CPU per message from that.
          fmtCpu(
            m.clientCpuPerMsgUs ??
              (m.clientCpu === null || !m.msgsPerSec ? null : (m.clientCpu * 1e6) / m.msgsPerSec),
          ),
          fmtFaults(m.clientFaultsPerMsg),
        ]);
      }
    }
  }
}
console.log(
  `\nmedians over ${cfg.rounds} round(s), 1 connection; client CPU = share of one core used by the client process;\n` +
    'CPU/msg = its user+system CPU time in the window per message echoed (less noisy than msg/s when the server is the limit);\n' +
    'faults/msg = its minor page faults in the window per message (memory its allocator gave back and touched again)',
);
console.log(
  table(
    [
      'payload',
      'in flight',
      'client',
      'msg/s',
      'MB/s',
      'p50',
      'p99',
      '×ws',
      'client CPU',
      'CPU/msg',
      'faults/msg',
    ],
    rows,
  ),
);
const file = writeResult('client', {
  bench: 'client-throughput',
  date: new Date().toISOString(),
  machine,
  config: cfg,
  server: 'bench/servers/raw-echo.mjs',
  status,
  summary,
  samples,
  errors,
});
console.log(`wrote ${file}`);
