// Executor throughput: post / dispatch on tsio's default executor and on an
// IoContext, against raw queueMicrotask and setImmediate, in one run,
// interleaved over several rounds. Prints medians and ratios to
// queueMicrotask. Run after `npx tsc -b`: `node bench/executor.mjs [--quick]`.
import { defaultExecutor, dispatch, IoContext, post } from '../packages/executor/dist/index.js';

const quick = process.argv.includes('--quick');
const N = quick ? 200_000 : 1_000_000;
const ROUNDS = quick ? 3 : 5;

/** Each contender runs N handlers as a chain (each handler schedules the next) and resolves. */
const contenders = {
  queueMicrotask: () =>
    new Promise((resolve) => {
      let n = 0;
      const step = () => (++n < N ? queueMicrotask(step) : resolve());
      queueMicrotask(step);
    }),
  setImmediate: () =>
    new Promise((resolve) => {
      let n = 0;
      const M = N / 20; // a macrotask per handler is ~20x slower; scale so the round stays short
      const step = () => (++n < M ? setImmediate(step) : resolve());
      setImmediate(step);
    }).then(() => 20),
  'tsio post (default executor)': () =>
    new Promise((resolve) => {
      const ex = defaultExecutor();
      let n = 0;
      const step = () => (++n < N ? ex.post(step) : resolve());
      post(ex, step);
    }),
  'tsio dispatch from inside (inline)': () =>
    new Promise((resolve) => {
      const ex = defaultExecutor();
      let n = 0;
      // dispatch runs inline when already inside the executor: a loop, not a queue
      ex.post(() => {
        while (n < N) dispatch(ex, () => n++);
        resolve();
      });
    }),
  'tsio post (IoContext.run)': async () => {
    const ioc = new IoContext();
    const ex = ioc.getExecutor();
    let n = 0;
    const step = () => {
      if (++n < N) ex.post(step);
    };
    ex.post(step);
    await ioc.run();
  },
};

const results = Object.fromEntries(Object.keys(contenders).map((k) => [k, []]));
for (let r = 0; r < ROUNDS; r++) {
  for (const [name, run] of Object.entries(contenders)) {
    const t0 = process.hrtime.bigint();
    const scale = (await run()) ?? 1;
    const ns = Number(process.hrtime.bigint() - t0);
    results[name].push((N / scale / ns) * 1e9);
  }
}
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const base = median(results.queueMicrotask);
console.log(
  `executor throughput, ${N} handlers x ${ROUNDS} rounds (median handlers/s, ratio to queueMicrotask)`,
);
for (const [name, xs] of Object.entries(results)) {
  const m = median(xs);
  console.log(`  ${name.padEnd(38)} ${(m / 1e6).toFixed(2).padStart(8)} M/s   ${(m / base).toFixed(2)}x`);
}
