// Orchestration helpers: CPU pinning with taskset, file-descriptor limits, starting bench servers
// and child processes, and killing exactly the processes we started (by PID) when done.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

export const benchDir = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
export const repoRoot = path.dirname(benchDir);

const live = new Map(); // pid -> ChildProcess

function killAll() {
  for (const pid of live.keys()) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
  }
  live.clear();
}
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => {
    killAll();
    process.exit(130);
  });
}

function track(child) {
  if (child.pid === undefined) return child;
  live.set(child.pid, child);
  child.once('exit', () => live.delete(child.pid));
  return child;
}

let pinInfo;
/** { enabled, server, client, reason } — server on CPU 0, load generator on CPU 1. */
export function pinning() {
  if (pinInfo) return pinInfo;
  const cpus = os.availableParallelism ? os.availableParallelism() : os.cpus().length;
  const r = spawnSync('taskset', ['-c', '0', 'true']);
  if (r.error || r.status !== 0) {
    pinInfo = { enabled: false, reason: 'taskset not available' };
  } else if (cpus < 2) {
    pinInfo = { enabled: false, reason: `only ${cpus} CPU` };
  } else {
    pinInfo = { enabled: true, server: '0', client: '1' };
  }
  if (!pinInfo.enabled)
    console.warn(`warning: not pinning server and load generator to CPUs (${pinInfo.reason})`);
  return pinInfo;
}

let nofileCache;
export function currentNofile() {
  if (nofileCache === undefined) {
    const r = spawnSync('bash', ['-c', 'ulimit -n'], { encoding: 'utf8' });
    const v = r.stdout?.trim();
    nofileCache = v === 'unlimited' ? Number.POSITIVE_INFINITY : Number(v) || 1024;
  }
  return nofileCache;
}

/**
 * The argv that runs `node <args>` pinned to `cpu` (if pinning works) and, when `nofile` exceeds
 * the current soft limit, under `bash -c 'ulimit -n N; exec "$@"'` (exec keeps the PID).
 */
export function nodeCommand(args, { cpu, nofile, nodeFlags = [] } = {}) {
  let argv = [process.execPath, ...nodeFlags, ...args];
  const pin = pinning();
  if (cpu !== undefined && pin.enabled) argv = ['taskset', '-c', String(cpu), ...argv];
  if (nofile && currentNofile() < nofile) {
    argv = [
      'bash',
      '-c',
      `ulimit -n ${nofile} || echo "warning: ulimit -n ${nofile} failed" >&2; exec "$@"`,
      'bench',
      ...argv,
    ];
  }
  return argv;
}

export async function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function waitExit(child, ms) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve(true);
    const t = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

export async function stopChild(child, ms = 3000) {
  if (!child || child.pid === undefined) return;
  if (child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(child.pid, 'SIGTERM');
  } catch {}
  if (!(await waitExit(child, ms))) {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {}
    await waitExit(child, 1000);
  }
}

/**
 * Start a contender server: `node --expose-gc <script> --port P [--deflate]` pinned to the server
 * CPU. We choose a free port ourselves so a server that prints a bare "READY" still works.
 */
export async function startServer(contender, { deflate = false, nofile, readyMs = 15000 } = {}) {
  const port = await freePort();
  const args = [path.resolve(repoRoot, contender.script), '--port', String(port)];
  if (deflate) args.push('--deflate');
  const argv = nodeCommand(args, { cpu: pinning().server, nofile, nodeFlags: ['--expose-gc'] });
  const child = track(spawn(argv[0], argv.slice(1), { cwd: repoRoot, stdio: ['pipe', 'pipe', 'inherit'] }));
  child.stdin.on('error', () => {});
  const lines = readline.createInterface({ input: child.stdout });
  const waiters = [];
  let exited = false;
  lines.on('line', (line) => {
    for (let k = 0; k < waiters.length; k++) {
      if (line.startsWith(waiters[k].prefix)) {
        const w = waiters.splice(k, 1)[0];
        w.resolve(line.slice(w.prefix.length).trim());
        return;
      }
    }
  });
  const waitLine = (prefix, ms) =>
    new Promise((resolve, reject) => {
      if (exited) return reject(new Error(`${contender.name} server exited`));
      const t = setTimeout(() => {
        waiters.splice(waiters.indexOf(w), 1);
        reject(new Error(`${contender.name}: no "${prefix}" line within ${ms} ms`));
      }, ms);
      const w = {
        prefix,
        resolve: (v) => {
          clearTimeout(t);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(t);
          reject(e);
        },
      };
      waiters.push(w);
    });
  child.once('exit', (code, sig) => {
    exited = true;
    for (const w of waiters.splice(0))
      w.reject(new Error(`${contender.name} server exited (${code ?? sig})`));
  });
  const ready = await waitLine('READY', readyMs).catch(async (e) => {
    await stopChild(child);
    throw e;
  });
  const printed = Number(ready.split(/\s+/)[0]);
  return {
    name: contender.name,
    pid: child.pid,
    port: printed > 0 ? printed : port,
    child,
    /** Ask for MEM <json> with SIGUSR2 (the documented contract). */
    async memory(ms = 5000) {
      const p = waitLine('MEM', ms);
      process.kill(child.pid, 'SIGUSR2');
      return JSON.parse(await p);
    },
    alive: () => !exited,
    stop: () => stopChild(child),
  };
}

/**
 * Run a bench child (`node <script> <json>`) pinned to the client CPU; resolves with the object
 * printed on its `RESULT ` line. Rejects (after killing it) on timeout or a non-zero exit.
 */
export function runChild(script, params, { timeoutMs, nofile, cpu = pinning().client, onLine } = {}) {
  const argv = nodeCommand([path.resolve(benchDir, script), JSON.stringify(params)], { cpu, nofile });
  return new Promise((resolve, reject) => {
    const child = track(spawn(argv[0], argv.slice(1), { cwd: repoRoot, stdio: ['pipe', 'pipe', 'pipe'] }));
    child.stdin.on('error', () => {});
    let result;
    let err = '';
    const lines = readline.createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      if (line.startsWith('RESULT ')) result = JSON.parse(line.slice(7));
      else onLine?.(line, child);
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    const t = setTimeout(() => {
      err += `\ntimed out after ${timeoutMs} ms`;
      stopChild(child, 500);
    }, timeoutMs);
    child.once('close', (code, sig) => {
      clearTimeout(t);
      if (result && code === 0) resolve(result);
      else {
        const e = new Error(
          (err.trim().split('\n').slice(-3).join(' | ') || `exit ${code ?? sig}`).slice(0, 300),
        );
        e.exitCode = code;
        e.result = result;
        reject(e);
      }
    });
  });
}

export function machineInfo() {
  let cpuModel = 'unknown';
  try {
    const m = /model name\s*:\s*(.*)/.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) cpuModel = m[1].trim();
  } catch {}
  const version = (p) => {
    try {
      return JSON.parse(fs.readFileSync(path.join(benchDir, 'node_modules', p, 'package.json'), 'utf8'))
        .version;
    } catch {
      return null;
    }
  };
  return {
    nproc: os.availableParallelism ? os.availableParallelism() : os.cpus().length,
    cpuModel,
    node: process.version,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    ws: version('ws'),
    bufferutil: version('bufferutil'),
    undici: version('undici'),
    pinning: pinning(),
    loadavg: os.loadavg(),
    mallocTrimThreshold: process.env.MALLOC_TRIM_THRESHOLD_ ?? null,
  };
}

/**
 * `--malloc-trim-threshold BYTES`: sets glibc's `MALLOC_TRIM_THRESHOLD_` for
 * every process the bench starts from here on (servers, load generators and
 * clients inherit the environment), so every contender runs with the same
 * allocator setting. Why it matters (docs/performance.md, "The allocator"):
 * Node allocates a fresh 64 KiB buffer for every socket read; V8 frees them
 * ~32 MiB at a time, and glibc then returns the top of its heap to the
 * kernel unless that exceeds the trim threshold, so the next reads fault
 * every page in again. The default threshold (128 KiB, raised by glibc when
 * the process happens to free a large mapped block, as loading ws does)
 * makes large-message cells measure page faults more than the servers.
 * Returns the value in force (null: glibc's default).
 */
export function applyMallocTrimThreshold(bytes) {
  if (bytes !== undefined) {
    if (!/^\d+$/.test(bytes)) throw new Error(`--malloc-trim-threshold: not a byte count: ${bytes}`);
    process.env.MALLOC_TRIM_THRESHOLD_ = bytes;
  }
  return process.env.MALLOC_TRIM_THRESHOLD_ ?? null;
}

/** The header line's words for the trim threshold in force (`applyMallocTrimThreshold`'s result). */
export function describeMallocTrim(value) {
  return `MALLOC_TRIM_THRESHOLD_ ${value ?? "unset (glibc's dynamic default)"}`;
}

/** Warn when other work is running: on a 2-CPU box, anything else skews the numbers badly. */
export function warnIfBusy(machine) {
  const load = machine.loadavg[0];
  if (load > 0.5) {
    console.warn(
      `warning: 1-minute load average is ${load.toFixed(2)} before starting; other processes compete ` +
        'for the pinned CPUs and the numbers will be noisy (medians over rounds only partly help)',
    );
  }
}

export function writeResult(prefix, data) {
  const dir = path.join(benchDir, 'results');
  fs.mkdirSync(dir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const file = path.join(dir, `${prefix}-${stamp}.json`);
  fs.writeFileSync(file, `${JSON.stringify(data, null, 2)}\n`);
  return path.relative(repoRoot, file);
}
