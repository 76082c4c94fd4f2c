// The long soak (issue 9), against the built dist/ (run `npx tsc -b` first):
//
//   node bench/soak.mjs [--connections 10000] [--messages 20] [--idle-ms 2000] [--seed 1]
//                       [--concurrency 256] [--clients auto|inline|child]
//
// N concurrent websocket connections over loopback to an in-process echo
// server (Acceptor + TcpStream + Stream); K echoed messages on each, every
// echo compared; then a sixth of the connections each: normal close from
// the client / from the server, RST from the client / from the server,
// websocket idle timeout on the server / on the client. Prints progress on
// stderr, the JSON report and a PASS/FAIL line on stdout; exits 1 on FAIL.
// On PASS the process exits on its own (nothing is left holding the loop).
//
// Descriptors: in one process each connection costs two (client + server).
// If the soft limit is too low the script re-executes itself under
// `bash -c 'ulimit -n 65536; exec node ...'`; if the hard limit still does
// not allow 2 per connection, the clients run in a child process (one
// descriptor per connection in each process) and the server stays here.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  finishClients,
  finishServer,
  installGuards,
  ioResources,
  memoryAfterGc,
  resourcesBeyond,
  runSoak,
  runSoakClients,
  startSoakServer,
  summarize,
} from './lib/soak-engine.mjs';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const cfg = {
  connections: Number(opt('connections', 10_000)),
  messages: Number(opt('messages', 20)),
  window: 4,
  connectConcurrency: Number(opt('concurrency', 256)),
  idleMs: Number(opt('idle-ms', 2000)),
  handshakeTimeoutMs: 60_000,
  phaseBoundMs: Number(opt('phase-bound-ms', 600_000)),
  drainBoundMs: 60_000,
  seed: Number(opt('seed', 1)),
  progress: (line) => process.stderr.write(`soak: ${line}\n`),
};
const self = fileURLToPath(import.meta.url);
const SLACK = 512;

/** The soft and hard `RLIMIT_NOFILE` of this process (Linux /proc; elsewhere a large guess). */
function fileLimits() {
  try {
    const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    const n = (s) => (s === 'unlimited' ? Number.POSITIVE_INFINITY : Number(s));
    if (m) return { soft: n(m[1]), hard: n(m[2]) };
  } catch {}
  return { soft: Number.POSITIVE_INFINITY, hard: Number.POSITIVE_INFINITY };
}

function waitExit(child, ms) {
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      // Only the child this script started, by its PID.
      process.kill(child.pid, 'SIGKILL');
      resolve({ code: null, killed: true });
    }, ms);
    child.once('exit', (code) => {
      clearTimeout(t);
      resolve({ code, killed: false });
    });
  });
}

function print(report) {
  console.log(JSON.stringify(report, null, 1));
  const m = report.messages;
  const mem = report.memoryMiB;
  console.log(
    `soak: ${report.connections} connections (${report.mode}), peak ${report.peakServerSessions} concurrent, ` +
      `${m.sent} messages sent, ${m.echoedIntact} echoed intact, lost ${m.lost}, corrupted ${m.corrupted}, ` +
      `operations ${report.operations.client.started + report.operations.server.started} started, never completed ${report.operations.neverCompleted}, ` +
      `handles left ${Object.values(report.handlesLeft).reduce((a, b) => a + b, 0)}, ` +
      `server RSS ${mem.before.rss} -> ${mem.after.rss} MiB, heap after GC ${mem.before.heapAfterGc} -> ${mem.after.heapAfterGc} MiB, ` +
      `${report.seconds.total} s: ${report.pass ? 'PASS' : `FAIL (${report.failures.join('; ')})`}`,
  );
}

// ---- the client process (split mode) ----------------------------------------------
if (args.includes('--as-clients')) {
  const port = Number(opt('port', 0));
  const guards = installGuards();
  const before = ioResources();
  const memoryBefore = await memoryAfterGc();
  const client = finishClients(await runSoakClients(port, cfg));
  let left = {};
  const t0 = performance.now();
  while (performance.now() - t0 < 5000) {
    left = resourcesBeyond(ioResources(), before);
    if (Object.keys(left).length === 0) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const memoryAfter = await memoryAfterGc();
  guards.remove();
  process.stdout.write(
    `${JSON.stringify({ ...client, resourcesLeft: left, memory: { before: memoryBefore, after: memoryAfter }, uncaught: guards.counts })}\n`,
  );
  // Nothing else: the process must exit on its own (the parent waits for it, bounded).
} else {
  const need = { inline: 2 * cfg.connections + SLACK, child: cfg.connections + SLACK };
  const lim = fileLimits();
  const wanted = opt('clients', 'auto');
  if (lim.soft < need.inline && !process.env.TSIO_SOAK_REEXEC) {
    process.stderr.write(
      `soak: file limit ${lim.soft} (hard ${lim.hard}); re-executing under a raised ulimit -n\n`,
    );
    const child = spawn(
      'bash',
      [
        '-c',
        'ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$0" "$@"',
        process.execPath,
        ...process.execArgv,
        self,
        ...args,
      ],
      { stdio: 'inherit', env: { ...process.env, TSIO_SOAK_REEXEC: '1' } },
    );
    child.once('exit', (code) => {
      process.exitCode = code ?? 1;
    });
  } else {
    const mode = wanted === 'auto' ? (lim.soft >= need.inline ? 'inline' : 'child') : wanted;
    if (lim.soft < need[mode]) {
      console.log(
        `soak: FAIL (file limit ${lim.soft} < ${need[mode]} needed for ${cfg.connections} connections, mode ${mode})`,
      );
      process.exitCode = 1;
    } else if (mode === 'inline') {
      // Warm-up (JIT, pools, module state) so the memory baseline is not the cold process.
      await runSoak({ ...cfg, connections: 60, messages: 3, idleMs: 100, progress: null });
      process.stderr.write(`soak: ${cfg.connections} connections in one process (file limit ${lim.soft})\n`);
      const report = await runSoak(cfg);
      print(report);
      process.exitCode = report.pass ? 0 : 1;
      // A leak would keep the process alive: make that a bounded failure, not a hang.
      if (Object.keys(report.handlesLeft).length > 0) process.exit(1);
    } else {
      process.stderr.write(
        `soak: ${cfg.connections} connections, clients in a child process (file limit ${lim.soft}, hard ${lim.hard}, ${need.inline} needed in one process)\n`,
      );
      await runSoak({ ...cfg, connections: 60, messages: 3, idleMs: 100, progress: null });
      const t0 = performance.now();
      const guards = installGuards();
      const before = ioResources();
      const memoryBefore = await memoryAfterGc();
      const server = await startSoakServer(cfg);
      const child = spawn(
        process.execPath,
        [...process.execArgv, self, ...args, '--as-clients', '--port', String(server.port)],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      let out = '';
      child.stdout.setEncoding('utf8');
      child.stdout.on('data', (d) => {
        out += d;
      });
      const exited = await waitExit(child, 3 * cfg.phaseBoundMs + 120_000);
      const line = out.trim().split('\n').pop() ?? '';
      let client;
      try {
        client = JSON.parse(line);
      } catch {
        client = null;
      }
      const report = await finishServer(server, cfg);
      server.streams.length = 0;
      let left = {};
      const t1 = performance.now();
      while (performance.now() - t1 < 5000) {
        left = resourcesBeyond(ioResources(), before);
        if (Object.keys(left).length === 0) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      const memoryAfter = await memoryAfterGc();
      guards.remove();
      if (client === null) {
        console.log(
          `soak: FAIL (client process ended with ${exited.code}${exited.killed ? ', killed at its bound' : ''}, no report)`,
        );
        process.exit(1);
      }
      const clientLeft = Object.fromEntries(
        Object.entries(client.resourcesLeft).map(([k, v]) => [`clients:${k}`, v]),
      );
      const mib = (b) => Number((b / 2 ** 20).toFixed(1));
      const summary = summarize({
        cfg,
        mode: 'server here, clients in a child process',
        client,
        server: report,
        streamsOpen: client.streamsOpen + report.serverStreamsOpen,
        timersArmed: client.timersArmed + report.serverTimersArmed,
        resourcesLeft: { ...left, ...clientLeft },
        memory: {
          before: memoryBefore,
          after: memoryAfter,
          clientProcess: {
            before: { rss: mib(client.memory.before.rss), heapAfterGc: mib(client.memory.before.heapUsed) },
            after: { rss: mib(client.memory.after.rss), heapAfterGc: mib(client.memory.after.heapUsed) },
          },
        },
        uncaught: {
          uncaught: guards.counts.uncaught + client.uncaught.uncaught,
          messages: [...guards.counts.messages, ...client.uncaught.messages],
        },
        seconds: { ...client.seconds, total: Number(((performance.now() - t0) / 1000).toFixed(2)) },
      });
      if (exited.killed || exited.code !== 0) {
        summary.failures.push(
          `client process did not exit on its own (code ${exited.code}, killed ${exited.killed})`,
        );
        summary.pass = false;
      }
      print(summary);
      process.exitCode = summary.pass ? 0 : 1;
      if (Object.keys(left).length > 0) process.exit(1);
    }
  }
}
