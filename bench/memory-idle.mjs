// Memory per idle connection: for each server (one at a time), measure its own
// process.memoryUsage() (after two global.gc() 0.1 s apart, servers run with --expose-gc) before and after the
// load generator opens N idle WebSocket connections; report RSS and heap per connection.
// Servers report memory by printing `MEM <json>` on SIGUSR2 (see docs/performance.md).
//   node bench/memory-idle.mjs [--quick] [--connections 2000] [--rounds 3] [--warmup 200] [--after-echo 32]
import { parseArgs } from 'node:util';
import { availableContenders } from './contenders.mjs';
import { machineInfo, runChild, startServer, warnIfBusy, writeResult } from './lib/proc.mjs';
import { median, table } from './lib/stats.mjs';

const { values: a } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    connections: { type: 'string', default: '2000' },
    rounds: { type: 'string' },
    only: { type: 'string' },
    settle: { type: 'string', default: '500' },
    warmup: { type: 'string', default: '200' },
    'after-echo': { type: 'string', default: '0' },
  },
});
const N = Number(a.connections);
const rounds = Number(a.rounds ?? (a.quick ? 1 : 3));
const settleMs = Number(a.settle);
const warmup = Number(a.warmup);
// --after-echo SIZE: each measured connection first echoes one SIZE-byte message, so what an
// idle connection keeps after it has been used is measured (0: idle straight after the handshake).
const afterEcho = Number(a['after-echo']);
// Each side needs N sockets plus slack; bash 'ulimit -n' is raised only where the soft limit is lower.
const nofile = Math.max(8192, N * 2 + 256);

const { run, missing } = availableContenders({ only: a.only?.split(',') });
const machine = machineInfo();
warnIfBusy(machine);
console.log(
  `memory per idle connection: ${N} connections, ${rounds} round(s)${afterEcho > 0 ? `, each idle after one ${afterEcho}-byte echo` : ''}; node ${machine.node}`,
);
for (const m of missing) console.log(`${m.name}: not built (${m.script} does not exist)`);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const results = {};
const errors = [];

// Opens `count` idle connections from a load-generator process and resolves, once they are all
// open, with how many opened and a function that closes them (and waits for the process to end).
async function openIdle(port, count, echoSize = 0) {
  let opened;
  let holder;
  const echo = echoSize > 0 ? { echoFirst: true, size: echoSize } : {};
  const holding = runChild(
    'lib/loadgen.mjs',
    { mode: 'idle', port, connections: count, holdMs: 60000, ...echo },
    {
      nofile,
      timeoutMs: 120000,
      onLine: (line, child) => {
        if (line.startsWith('OPEN ')) {
          holder = child;
          opened?.(Number(line.slice(5)));
        }
      },
    },
  );
  const n = await Promise.race([
    new Promise((r) => {
      opened = r;
    }),
    holding.then(() => {
      throw new Error('load generator ended before opening connections');
    }),
  ]);
  return {
    n,
    close: async () => {
      holder.stdin.end('close\n');
      await holding;
    },
  };
}

async function measure(c) {
  const server = await startServer(c, { nofile });
  try {
    let cold;
    try {
      cold = await server.memory();
    } catch (e) {
      throw new Error(`no MEM reply to SIGUSR2 (${e.message})`);
    }
    // Warm-up: the code a server compiles for its first connections (handshake, accept, read
    // paths) stays in its heap whatever the number of connections — a fixed cost, not a
    // per-connection one. Open and close a first batch so that "before" already holds it;
    // `cold` (memory before any connection) still gives the old measure alongside.
    if (warmup > 0) {
      const first = await openIdle(server.port, warmup, afterEcho);
      await first.close();
      await sleep(settleMs);
    }
    const before = warmup > 0 ? await server.memory() : cold;
    const held = await openIdle(server.port, N, afterEcho);
    const count = held.n;
    await sleep(settleMs);
    const after = await server.memory();
    await held.close();
    const per = (k, from = before) => (after[k] - from[k]) / count;
    return {
      connections: count,
      serverReported: after.connections ?? null,
      cold,
      before,
      after,
      perConnection: {
        rss: per('rss'),
        heapUsed: per('heapUsed'),
        external: per('external'),
        arrayBuffers: per('arrayBuffers'),
        heapUsedCold: per('heapUsed', cold),
      },
    };
  } finally {
    await server.stop();
  }
}

for (let r = 0; r < rounds; r++) {
  for (const c of run) {
    try {
      const res = await measure(c);
      results[c.name] ??= [];
      results[c.name].push(res);
    } catch (e) {
      errors.push({ round: r, contender: c.name, error: e.message });
      console.log(`  round ${r + 1} ${c.name}: ERROR ${e.message}`);
    }
  }
}

const kb = (x) => (x === null ? '—' : `${(x / 1024).toFixed(2)} KB`);
const rows = [];
const summary = {};
for (const c of [...run, ...missing]) {
  const xs = results[c.name];
  if (!xs) {
    rows.push([c.name, missing.includes(c) ? 'not built' : 'error', '', '', '']);
    continue;
  }
  const m = (k) => median(xs.map((x) => x.perConnection[k]));
  summary[c.name] = {
    rss: m('rss'),
    heapUsed: m('heapUsed'),
    heapUsedCold: m('heapUsedCold'),
    external: m('external'),
    arrayBuffers: m('arrayBuffers'),
  };
  rows.push([
    c.name,
    kb(m('rss')),
    kb(m('heapUsed')),
    kb(m('heapUsedCold')),
    kb(m('external')),
    xs[0].serverReported ?? '—',
  ]);
}
console.log(
  `\nper idle connection (median of ${rounds}; KB = 1024 bytes; after minus before, divided by ${N})`,
);
console.log(
  `heapUsed after ${warmup} connections opened and closed first; "cold": from before any connection, code compiled for the first ones included`,
);
console.log(table(['server', 'RSS', 'heapUsed', 'heapUsed (cold)', 'external', 'server-side count'], rows));
const file = writeResult('memory-idle', {
  bench: 'memory-idle',
  date: new Date().toISOString(),
  machine,
  config: { connections: N, rounds, settleMs, warmup, afterEcho },
  summary,
  results,
  errors,
  notBuilt: missing.map((m) => m.name),
});
console.log(`wrote ${file}`);
