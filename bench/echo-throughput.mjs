// Server echo throughput: every contender in contenders.mjs, measured by the same load generator
// (lib/loadgen.mjs, pinned to CPU 1; servers pinned to CPU 0), interleaved A/B/C per cell within
// each round, several rounds; prints medians with ratios to ws and to raw, writes JSON.
//   node bench/echo-throughput.mjs [--quick] [--rounds 3] [--duration 3000] [--warmup 500]
//        [--deflate] [--sizes 32,1024] [--connections 1,64] [--depths 1,16] [--only ws,raw]
//        [--max-inflight-mb 64] [--verify content] [--malloc-trim-threshold BYTES]
import { parseArgs } from 'node:util';
import { availableContenders } from './contenders.mjs';
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

const { values: a } = parseArgs({
  options: {
    'malloc-trim-threshold': { type: 'string' },
    quick: { type: 'boolean', default: false },
    deflate: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    duration: { type: 'string' },
    warmup: { type: 'string' },
    sizes: { type: 'string' },
    connections: { type: 'string' },
    depths: { type: 'string' },
    only: { type: 'string' },
    'max-inflight-mb': { type: 'string', default: '64' },
    verify: { type: 'string', default: 'length' },
  },
});
const list = (s, d) => (s ? s.split(',').map(Number) : d);
const deflate = a.deflate;
const cfg = {
  mode: deflate ? 'deflate' : 'binary',
  rounds: Number(a.rounds ?? (a.quick ? 1 : 3)),
  durationMs: Number(a.duration ?? (a.quick ? 1000 : 3000)),
  warmupMs: Number(a.warmup ?? (a.quick ? 200 : 500)),
  sizes: list(a.sizes, deflate ? [1024, 65536] : [32, 1024, 65536, 1048576]),
  connections: list(a.connections, [1, 64]),
  depths: list(a.depths, [1, 16]),
  maxInflightBytes: Number(a['max-inflight-mb']) * 1024 * 1024,
  verify: a.verify,
};

const { run, missing } = availableContenders({ deflate, only: a.only?.split(',') });
const mallocTrim = applyMallocTrimThreshold(a['malloc-trim-threshold']);
const machine = machineInfo();
warnIfBusy(machine);
console.log(
  `echo throughput (${cfg.mode}): ${machine.cpuModel}, ${machine.nproc} CPUs, node ${machine.node}, ws ${machine.ws}` +
    ` (the ws row without bufferutil${machine.bufferutil ? `, ws+bufferutil with bufferutil ${machine.bufferutil}` : ''}); ` +
    `${cfg.rounds} round(s) × ${cfg.warmupMs}+${cfg.durationMs} ms per cell; ` +
    describeMallocTrim(mallocTrim),
);
for (const m of missing) console.log(`${m.name}: not built (${m.script} does not exist)`);

const cells = [];
for (const size of cfg.sizes) {
  for (const connections of cfg.connections) {
    for (const depth of cfg.depths) {
      const skip = size * connections * depth > cfg.maxInflightBytes;
      cells.push({ size, connections, depth, skip });
    }
  }
}

const servers = new Map();
const status = {};
for (const m of missing) status[m.name] = 'not built';

async function ensureServer(c) {
  const s = servers.get(c.name);
  if (s?.alive()) return s;
  if (s) console.log(`  ${c.name}: server died, restarting`);
  const fresh = await startServer(c, { deflate, nofile: 8192 });
  servers.set(c.name, fresh);
  return fresh;
}

const samples = {}; // key -> contender -> [result]
const errors = [];
const key = (c) => `${c.size}/${c.connections}/${c.depth}`;

try {
  // Start every server, then verify echoed content for every payload size before measuring.
  for (const c of run) {
    try {
      const s = await ensureServer(c);
      for (const size of cfg.sizes) {
        await runChild(
          'lib/loadgen.mjs',
          {
            mode: 'check',
            port: s.port,
            size,
            connections: 2,
            depth: 4,
            count: size >= 1 << 20 ? 4 : 16,
            deflate,
          },
          { timeoutMs: 30000 },
        );
      }
      status[c.name] = 'ok';
    } catch (e) {
      status[c.name] = `FAILED check: ${e.message}`;
      console.log(`${c.name}: ${status[c.name]} — not measured`);
    }
  }
  const measured = run.filter((c) => status[c.name] === 'ok');
  console.log(`content check passed: ${measured.map((c) => c.name).join(', ') || 'none'}`);

  for (let r = 0; r < cfg.rounds; r++) {
    for (const cell of cells) {
      if (cell.skip) continue;
      for (const c of measured) {
        const params = {
          mode: 'echo',
          size: cell.size,
          connections: cell.connections,
          depth: cell.depth,
          warmupMs: cfg.warmupMs,
          durationMs: cfg.durationMs,
          deflate,
          verify: cfg.verify,
        };
        try {
          const s = await ensureServer(c);
          const res = await runChild(
            'lib/loadgen.mjs',
            { ...params, port: s.port, serverPid: s.pid },
            { timeoutMs: cfg.warmupMs + cfg.durationMs + 30000 },
          );
          samples[key(cell)] ??= {};
          samples[key(cell)][c.name] ??= [];
          samples[key(cell)][c.name].push({ round: r, ...res });
        } catch (e) {
          errors.push({ round: r, contender: c.name, ...params, error: e.message });
          console.log(
            `  round ${r + 1} ${fmtSize(cell.size)} ${cell.connections}c×${cell.depth} ${c.name}: ERROR ${e.message}`,
          );
        }
      }
    }
    console.log(`round ${r + 1}/${cfg.rounds} done`);
  }
} finally {
  for (const s of servers.values()) await s.stop();
}

// Medians and ratios.
const rows = [];
const summary = [];
for (const cell of cells) {
  const per = samples[key(cell)] ?? {};
  const med = {};
  for (const c of run) {
    const xs = per[c.name] ?? [];
    med[c.name] = xs.length
      ? {
          rounds: xs.length,
          msgsPerSec: median(xs.map((x) => x.msgsPerSec)),
          mbPerSec: median(xs.map((x) => x.mbPerSec)),
          p50us: median(xs.map((x) => x.p50us)),
          p99us: median(xs.map((x) => x.p99us)),
          clientCpu: median(xs.map((x) => x.clientCpu)),
          serverUsPerMsg: xs.every((x) => typeof x.serverCpu === 'number' && x.messages > 0)
            ? median(xs.map((x) => (x.serverCpu * 1e6) / x.messages))
            : null,
          serverUserUsPerMsg: xs.every((x) => typeof x.serverUserCpu === 'number' && x.messages > 0)
            ? median(xs.map((x) => (x.serverUserCpu * 1e6) / x.messages))
            : null,
          serverFaultsPerMsg: xs.every((x) => typeof x.serverFaults === 'number' && x.messages > 0)
            ? median(xs.map((x) => x.serverFaults / x.messages))
            : null,
        }
      : null;
  }
  const ws = med.ws?.msgsPerSec ?? null;
  const wsBu = med['ws+bufferutil']?.msgsPerSec ?? null;
  const raw = med.raw?.msgsPerSec ?? null;
  const entry = { ...cell, medians: med };
  if (ws !== null || raw !== null) {
    entry.ratios = Object.fromEntries(
      Object.entries(med).map(([n, m]) => [
        n,
        {
          toWs: m && ws ? m.msgsPerSec / ws : null,
          toWsBufferutil: m && wsBu ? m.msgsPerSec / wsBu : null,
          toRaw: m && raw ? m.msgsPerSec / raw : null,
        },
      ]),
    );
  }
  summary.push(entry);
  const label = [fmtSize(cell.size), cell.connections, cell.depth];
  if (cell.skip) {
    rows.push([
      ...label,
      '(all)',
      `skipped: ${fmtSize(cell.size * cell.connections * cell.depth)} in flight`,
      '',
      '',
      '',
      '',
      '',
      '',
      '',
      '',
      '',
    ]);
    continue;
  }
  for (const c of [...run, ...missing]) {
    const m = med[c.name];
    if (!m) {
      rows.push([
        ...label,
        c.name,
        status[c.name] === 'ok' ? 'error' : status[c.name],
        '',
        '',
        '',
        '',
        '',
        '',
        '',
        '',
        '',
        '',
      ]);
      continue;
    }
    rows.push([
      ...label,
      c.name,
      fmtCount(m.msgsPerSec),
      fmtMB(m.mbPerSec),
      fmtUs(m.p50us),
      fmtUs(m.p99us),
      fmtRatio(m.msgsPerSec, ws),
      wsBu === null ? '—' : fmtRatio(m.msgsPerSec, wsBu),
      fmtRatio(m.msgsPerSec, raw),
      m.clientCpu === null ? '—' : `${Math.round(m.clientCpu * 100)}%`,
      fmtCpu(m.serverUsPerMsg),
      fmtCpu(m.serverUserUsPerMsg),
      fmtFaults(m.serverFaultsPerMsg),
    ]);
  }
}

console.log(
  `\nmedians over ${cfg.rounds} round(s); MB/s = 10^6 payload bytes echoed per second; latency = round trip;\nloadgen CPU = share of one core the load generator used (near 100%: the client may be the limit);\nserver CPU/msg = the server's user+system CPU time in the window per message echoed (/proc; less noisy than msg/s);\nuser/msg = its user-mode part (the server's own code; system time on loopback also carries the peer's wake-ups);\nfaults/msg = the server's minor page faults in the window per message (memory its allocator gave back and touched again)`,
);
console.log(
  table(
    [
      'payload',
      'conns',
      'depth',
      'server',
      'msg/s',
      'MB/s',
      'p50',
      'p99',
      '×ws',
      '×ws+bu',
      '×raw',
      'loadgen CPU',
      'server CPU/msg',
      'user/msg',
      'faults/msg',
    ],
    rows,
  ),
);
// A server that page-faults about once per message or more was measured together with its
// allocator (docs/performance.md, "The allocator"): say so next to the table.
const faulting = summary.flatMap((e) =>
  Object.entries(e.medians ?? {})
    .filter(([, m]) => m !== null && m.serverFaultsPerMsg !== null && m.serverFaultsPerMsg >= 1)
    .map(
      ([name, m]) =>
        `${name} at ${fmtSize(e.size)} ${e.connections} × ${e.depth} (${m.serverFaultsPerMsg.toFixed(1)})`,
    ),
);
if (faulting.length && mallocTrim === null)
  console.log(
    `page faults per message ≥ 1: ${faulting.join(', ')} — these cells measure the allocator too; ` +
      'compare with --malloc-trim-threshold 268435456',
  );
if (errors.length) console.log(`${errors.length} run(s) failed; see JSON`);
const file = writeResult(deflate ? 'echo-deflate' : 'echo', {
  bench: 'echo-throughput',
  date: new Date().toISOString(),
  machine,
  config: cfg,
  contenders: Object.fromEntries(
    [...run, ...missing].map((c) => [c.name, { script: c.script, status: status[c.name] }]),
  ),
  loadgen: deflate
    ? 'bench/lib/loadgen.mjs, permessage-deflate with client_no_context_takeover + server_no_context_takeover, text'
    : 'bench/lib/loadgen.mjs, binary',
  summary,
  samples,
  errors,
});
console.log(`wrote ${file}`);
