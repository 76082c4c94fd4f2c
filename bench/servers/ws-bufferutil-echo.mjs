// The `ws` echo (ws-echo.mjs) with ws's optional native helper `bufferutil` (masking and
// unmasking in C++). Fails at start if the addon cannot be loaded, so a "ws+bufferutil" row
// is never silently plain ws.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
require('bufferutil');
process.env.TSIO_BENCH_WS_BUFFERUTIL = '1';
await import('./ws-echo.mjs');
