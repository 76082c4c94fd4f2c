// The server contenders, in the order they run within each round (interleaved A/B/C/A/B/C).
// Adding one is one entry: a script (repo-relative) that takes `--port P [--deflate]`, prints
// `READY [port]` once listening on 127.0.0.1, prints `MEM <json>` on SIGUSR2, exits on SIGTERM.
//   name      label in tables and JSON
//   script    path from the repo root, run as `node --expose-gc <script> --port P`
//   optional  if true and `script` does not exist, the contender is reported "<name>: not built"
//   deflate   whether it takes part in the permessage-deflate mode (--deflate)
//   baseline  'ws' is the ratio reference, 'raw' the ceiling
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from './lib/proc.mjs';

export const contenders = [
  { name: 'tsio', script: 'examples/dist/echo-server.js', optional: true, deflate: true },
  { name: 'ws', script: 'bench/servers/ws-echo.mjs', deflate: true, baseline: 'ws' },
  // ws with its native helper (issue 8: never below ws "with or without bufferutil").
  { name: 'ws+bufferutil', script: 'bench/servers/ws-bufferutil-echo.mjs', deflate: true },
  { name: 'raw', script: 'bench/servers/raw-echo.mjs', deflate: false, baseline: 'raw' },
];

// TSIO_BASE=<another checkout, built>: its echo server runs as a second contender, `tsio-base`,
// interleaved with the others, for a before/after comparison over sockets in one run.
if (process.env.TSIO_BASE) {
  contenders.splice(1, 0, {
    name: 'tsio-base',
    script: path.resolve(process.env.TSIO_BASE, 'examples/dist/echo-server.js'),
    optional: true,
    deflate: true,
  });
}

/** Split into those that can run and those reported as "not built". */
export function availableContenders({ deflate = false, only } = {}) {
  const run = [];
  const missing = [];
  for (const c of contenders) {
    if (deflate && !c.deflate) continue;
    if (only && !only.includes(c.name)) continue;
    if (fs.existsSync(path.resolve(repoRoot, c.script))) run.push(c);
    else if (c.optional) missing.push(c);
    else throw new Error(`contender ${c.name}: ${c.script} is missing`);
  }
  return { run, missing };
}
