// What every bench server does besides echoing: --port / --deflate flags, "READY <port>" on stdout,
// "MEM <json>" on SIGUSR2 or on a "mem" line on stdin (after two global.gc() 0.1 s apart when run
// with --expose-gc), and a clean exit on SIGTERM / SIGINT.
import { parseArgs } from 'node:util';

export function serverArgs() {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '0' },
      host: { type: 'string', default: '127.0.0.1' },
      deflate: { type: 'boolean', default: false },
    },
    strict: false,
  });
  return { port: Number(values.port), host: String(values.host), deflate: Boolean(values.deflate) };
}

// Collect, let the loop turn, collect again, then report: V8 settles the `external` count of the
// ArrayBuffers a collection freed only after its concurrent sweep of them, so a report right after
// one gc() still counted buffers already gone (up to ~0.5 MB; docs/performance.md).
const MEMORY_SETTLE_MS = 100;

export function reportMemory(extra = {}) {
  globalThis.gc?.();
  setTimeout(() => {
    globalThis.gc?.();
    const m = process.memoryUsage();
    process.stdout.write(
      `MEM ${JSON.stringify({ ...m, gc: typeof globalThis.gc === 'function', ...extra })}\n`,
    );
  }, MEMORY_SETTLE_MS);
}

/** Wire up READY, MEM and SIGTERM for a listening net.Server (or anything with address()/close()). */
export function serve(server, getExtra = () => ({})) {
  process.on('SIGUSR2', () => reportMemory(getExtra()));
  process.stdin.setEncoding('utf8');
  let pending = '';
  process.stdin.on('data', (s) => {
    pending += s;
    let nl = pending.indexOf('\n');
    while (nl >= 0) {
      if (pending.slice(0, nl).trim() === 'mem') reportMemory(getExtra());
      pending = pending.slice(nl + 1);
      nl = pending.indexOf('\n');
    }
  });
  process.stdin.on('error', () => {});
  // stdin closing (parent gone) must not keep us alive nor kill us; SIGTERM is the stop signal.
  process.stdin.unref?.();
  const stop = () => {
    server.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // Last: the parent may signal us the moment it reads this line.
  process.stdout.write(`READY ${server.address().port}\n`);
}
