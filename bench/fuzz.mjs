// The long fuzz run (issue 9): 1,000,000 mutated frames and handshakes by
// default, against the built dist/ (run `npm run build` first).
//
//   node bench/fuzz.mjs [--mutations 1000000] [--seed 1] [--client-share 0.1] [--concurrency 64]
//
// Prints a JSON report per target and a summary line; exits 1 if any
// invariant failed (a hung connection, a bad close code, an operation that
// completed twice or never, a broken echo, an uncaught error, heap growth).
import { heapAfterGc, installProcessGuards, runClientFuzz, runServerFuzz } from './lib/fuzz-engine.mjs';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const total = opt('mutations', 1_000_000);
const seed = opt('seed', 1);
const clientShare = opt('client-share', 0.1);
const concurrency = opt('concurrency', 64);

const guards = installProcessGuards();
const t0 = performance.now();
await runServerFuzz({ seed: seed + 1000, targetMutations: 500, concurrency: 8 });
const heapBefore = await heapAfterGc();
const serverTarget = Math.round(total * (1 - clientShare));
const server = await runServerFuzz({
  seed,
  targetMutations: serverTarget,
  concurrency,
  progress: (r) =>
    process.stderr.write(
      `server: ${r.mutatedFrames + r.mutatedHandshakes} mutations, ${r.connections} connections, ${r.goodRoundTrips} good echoes\n`,
    ),
});
const client = await runClientFuzz({ seed: seed + 1, targetMutations: total - serverTarget, concurrency });
const heapAfter = await heapAfterGc();
const seconds = (performance.now() - t0) / 1000;
guards.remove();

const failures = [];
const check = (ok, what) => {
  if (!ok) failures.push(what);
};
check(server.hung === 0 && client.hung === 0, 'hung connections');
check(server.badCloseFrames === 0 && server.maskedFromServer === 0, 'invalid close frames from the server');
check(server.serverDoubleCompletions === 0 && client.doubleCompletions === 0, 'operations completed twice');
check(server.serverOpsPending === 0 && client.opsPending === 0, 'operations never completed');
check(server.goodMismatches === 0 && server.goodFailures === 0, 'well-behaved client disturbed');
check(client.openAfterError === 0, 'stream open after an error');
check(guards.counts.uncaught + guards.counts.unhandled === 0, 'uncaught errors');
check(heapAfter - heapBefore < 32 * 1024 * 1024, 'heap did not return near baseline');

console.log(JSON.stringify({ server }, null, 1));
console.log(JSON.stringify({ client }, null, 1));
console.log(
  `fuzz: seed ${seed}, ${server.mutatedFrames + server.mutatedHandshakes + client.mutatedFrames + client.mutatedHandshakes} mutated frames+handshakes ` +
    `(server ${server.mutatedFrames}+${server.mutatedHandshakes}, client ${client.mutatedFrames}+${client.mutatedHandshakes}), ` +
    `${server.connections + client.connections} connections, ${server.goodRoundTrips} good echoes, ` +
    `hung ${server.hung + client.hung}, bad close frames ${server.badCloseFrames}, ` +
    `uncaught ${guards.counts.uncaught + guards.counts.unhandled}, heap ${(heapBefore / 2 ** 20).toFixed(1)} -> ${(heapAfter / 2 ** 20).toFixed(1)} MiB, ` +
    `${seconds.toFixed(0)} s: ${failures.length === 0 ? 'PASS' : `FAIL (${failures.join(', ')})`}`,
);
process.exitCode = failures.length === 0 ? 0 : 1;
