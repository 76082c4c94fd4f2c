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
// A test file that fails to load has no failed test but is a failure.
const brokenFiles = (r.testResults ?? []).filter(
  (f) => f.status === 'failed' && !(f.assertionResults ?? []).some((a) => a.status === 'failed'),
).length;
const failed =
  (r.numFailedTests ?? 0) +
  brokenFiles +
  (status !== 0 && (r.numFailedTests ?? 0) + brokenFiles === 0 ? 1 : 0);
const skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 ? 1 : 0);
