// Token overhead: one trivial operation (completes at once, so the
// never-inline rule posts its completion) through each completion token,
// against a raw callback posted to the same executor. Sequential round trips,
// interleaved rounds, medians and ratios to the raw callback.
// Run after `npx tsc -b`: `node bench/tokens.mjs [--quick]`.
import {
  asTuple,
  asyncInitiate,
  useObservable,
  usePromise,
  withAbortSignal,
} from '../packages/completion-token/dist/index.js';
import { defaultExecutor } from '../packages/executor/dist/index.js';

const quick = process.argv.includes('--quick');
const N = quick ? 100_000 : 500_000;
const ROUNDS = quick ? 3 : 5;
const ex = defaultExecutor();

const op = (token) => asyncInitiate((handler) => handler(null, 42), token);

const contenders = {
  'raw callback (post)': () =>
    new Promise((resolve) => {
      let n = 0;
      const step = () => (++n < N ? ex.post(step) : resolve());
      ex.post(step);
    }),
  'callback token': () =>
    new Promise((resolve) => {
      let n = 0;
      const step = () => (++n < N ? op(step) : resolve());
      op(step);
    }),
  'promise token': async () => {
    for (let i = 0; i < N; i++) await op(usePromise);
  },
  'asTuple(promise)': async () => {
    for (let i = 0; i < N; i++) await op(asTuple());
  },
  'observable token': () =>
    new Promise((resolve) => {
      let n = 0;
      const step = () => (++n < N ? op(useObservable).subscribe({ complete: step }) : resolve());
      step();
    }),
  'AbortSignal token': async () => {
    const signal = new AbortController().signal;
    for (let i = 0; i < N; i++) await op(withAbortSignal(signal));
  },
};

const results = Object.fromEntries(Object.keys(contenders).map((k) => [k, []]));
for (let r = 0; r < ROUNDS; r++) {
  for (const [name, run] of Object.entries(contenders)) {
    const t0 = process.hrtime.bigint();
    await run();
    results[name].push(Number(process.hrtime.bigint() - t0) / N);
  }
}
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const base = median(results['raw callback (post)']);
console.log(
  `token overhead, ${N} sequential operations x ${ROUNDS} rounds (median ns/op, ratio to raw callback)`,
);
for (const [name, xs] of Object.entries(results)) {
  const m = median(xs);
  console.log(`  ${name.padEnd(24)} ${m.toFixed(0).padStart(6)} ns/op   ${(m / base).toFixed(2)}x`);
}
