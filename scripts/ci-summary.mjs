// Prints CI's closing line from vitest's JSON report and exits non-zero on
// any failure, including a failure before vitest ran (install, build, lint).
import { existsSync, readFileSync } from 'node:fs';

const [file = '.vitest-results.json', statusArg = '0'] = process.argv.slice(2);
const status = Number(statusArg);
if (!existsSync(file)) {
  console.log(`ci: no vitest report (${file}); npm test exited with ${status} before the tests ran`);
  console.log('0 passed, 1 failed');
  process.exit(1);
}
const r = JSON.parse(readFileSync(file, 'utf8'));
const passed = r.numPassedTests ?? 0;
// A test file that fails to load counts as a failure even though no test in it ran.
const failed =
  (r.numFailedTests ?? 0) +
  ((r.numFailedTestSuites ?? 0) ? Math.max(0, r.numFailedTestSuites - countSuitesWithFailedTests(r)) : 0);
const skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
const failedTotal = failed + (status !== 0 && failed === 0 ? 1 : 0);
console.log(`${passed} passed, ${failedTotal} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failedTotal > 0 || status !== 0 ? 1 : 0);

function countSuitesWithFailedTests(report) {
  return (report.testResults ?? []).filter((s) =>
    (s.assertionResults ?? []).some((a) => a.status === 'failed'),
  ).length;
}
