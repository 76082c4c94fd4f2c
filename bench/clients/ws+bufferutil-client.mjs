// The ws client adapter (ws-client.mjs) with ws's optional native helper `bufferutil`. Fails at
// start if the addon cannot be loaded, so this row is never silently plain ws.
import { createRequire } from 'node:module';

createRequire(import.meta.url)('bufferutil');
process.env.TSIO_BENCH_WS_BUFFERUTIL = '1';
const adapter = await import('./ws-client.mjs');

export const built = adapter.built;
export const open = adapter.open;
