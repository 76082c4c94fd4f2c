// Memory per idle connection: for each server (one at a time), measure its own
// process.memoryUsage() (after global.gc(), servers run with --expose-gc) before and after the
// load generator opens N idle WebSocket connections; report RSS and heap per connection.
// Servers report memory by printing `MEM <json>` on SIGUSR2 (see docs/performance.md).
//   node bench/memory-idle.mjs [--quick] [--connections 2000] [--rounds 3]
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
  },
});
const N = Number(a.connections);
const rounds = Number(a.rounds ?? (a.quick ? 1 : 3));
const settleMs = Number(a.settle);
// Each side needs N sockets plus slack; bash 'ulimit -n' is raised only where the soft limit is lower.
const nofile = Math.max(8192, N * 2 + 256);

const { run, missing } = availableContenders({ only: a.only?.split(',') });
const machine = machineInfo();
warnIfBusy(machine);
console.log(`memory per idle connection: ${N} connections, ${rounds} round(s); node ${machine.node}`);
for (const m of missing) console.log(`${m.name}: not built (${m.script} does not exist)`);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const results = {};
const errors = [];

async function measure(c) {
  const server = await startServer(c, { nofile });
  let holder;
  try {
    let before;
    try {
      before = await server.memory();
    } catch (e) {
      throw new Error(`no MEM reply to SIGUSR2 (${e.message})`);
    }
    let opened;
    const holding = runChild(
      'lib/loadgen.mjs',
      { mode: 'idle', port: server.port, connections: N, holdMs: 60000 },
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
    const count = await Promise.race([
      new Promise((r) => {
        opened = r;
      }),
      holding.then(() => {
        throw new Error('load generator ended before opening connections');
      }),
    ]);
    await sleep(settleMs);
    const after = await server.memory();
    holder.stdin.end('close\n');
    await holding;
    const per = (k) => (after[k] - before[k]) / count;
    return {
      connections: count,
      serverReported: after.connections ?? null,
      before,
      after,
      perConnection: {
        rss: per('rss'),
        heapUsed: per('heapUsed'),
        external: per('external'),
        arrayBuffers: per('arrayBuffers'),
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
    external: m('external'),
    arrayBuffers: m('arrayBuffers'),
  };
  rows.push([c.name, kb(m('rss')), kb(m('heapUsed')), kb(m('external')), xs[0].serverReported ?? '—']);
}
console.log(
  `\nper idle connection (median of ${rounds}; KB = 1024 bytes; after minus before, divided by ${N})`,
);
console.log(table(['server', 'RSS', 'heapUsed', 'external', 'server-side count'], rows));
const file = writeResult('memory-idle', {
  bench: 'memory-idle',
  date: new Date().toISOString(),
  machine,
  config: { connections: N, rounds, settleMs },
  summary,
  results,
  errors,
  notBuilt: missing.map((m) => m.name),
});
console.log(`wrote ${file}`);
