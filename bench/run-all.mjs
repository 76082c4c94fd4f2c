// Every benchmark in quick mode, one after another (npm run bench). Each runs in its own process;
// a bench that fails or exceeds its time budget is reported and the rest still run.
//   node bench/run-all.mjs [--full] [--malloc-trim-threshold BYTES]
//   (--full: default rounds and durations, takes much longer; --malloc-trim-threshold: every
//   process with the same glibc trim threshold, see lib/proc.mjs and docs/performance.md)
import { spawn } from 'node:child_process';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { applyMallocTrimThreshold, benchDir, stopChild } from './lib/proc.mjs';

const { values: a } = parseArgs({
  options: { full: { type: 'boolean', default: false }, 'malloc-trim-threshold': { type: 'string' } },
});
// Set here, inherited by every bench below and everything they start.
applyMallocTrimThreshold(a['malloc-trim-threshold']);
const full = a.full;
const q = full ? [] : ['--quick'];
const steps = [
  { script: 'executor.mjs', args: [...q], budgetS: full ? 300 : 60 },
  { script: 'tokens.mjs', args: [...q], budgetS: full ? 300 : 60 },
  {
    script: 'inproc-echo.mjs',
    args: full ? [] : ['--echoes', '100000', '--rounds', '3'],
    budgetS: full ? 300 : 60,
  },
  { script: 'echo-throughput.mjs', args: [...q], budgetS: full ? 1200 : 150 },
  { script: 'echo-throughput.mjs', args: [...q, '--deflate'], budgetS: full ? 400 : 60 },
  { script: 'memory-idle.mjs', args: [...q], budgetS: full ? 300 : 60 },
  { script: 'client-throughput.mjs', args: [...q], budgetS: full ? 600 : 90 },
];

const failed = [];
const t0 = Date.now();
for (const s of steps) {
  const label = [s.script, ...s.args].join(' ');
  console.log(`\n=== ${label}`);
  const code = await new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(benchDir, s.script), ...s.args], { stdio: 'inherit' });
    const t = setTimeout(() => {
      console.log(`${label}: over its ${s.budgetS} s budget, stopping it`);
      stopChild(child);
    }, s.budgetS * 1000);
    child.once('exit', (c, sig) => {
      clearTimeout(t);
      resolve(c ?? sig);
    });
  });
  if (code !== 0) failed.push(`${label} (exit ${code})`);
}
console.log(`\nall benchmarks done in ${((Date.now() - t0) / 1000).toFixed(0)} s; results in bench/results/`);
if (failed.length) {
  console.log(`failed: ${failed.join(', ')}`);
  process.exit(1);
}
