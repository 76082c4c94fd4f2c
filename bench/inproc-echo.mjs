// The library's own CPU per echo, without sockets: a server `Stream` over a fake next layer that
// answers every `readSome` with 16 prebuilt masked frames and completes every `writeSome` at once.
// No kernel, no load generator, no second process: the least noisy number this bench directory
// has, for comparing two builds of tsio (it does not compare with ws, which has no such seam).
//   node bench/inproc-echo.mjs [--size 32] [--echoes 300000] [--rounds 7] [--root DIR]
// --root: the repository whose built packages (packages/*/dist) are measured, default this one;
// point it at a second checkout, built, to compare before and after a change.
// Prints min and median CPU µs per echo (read + write) over the rounds, for the callback token and
// for `await` (the promise token), and the ratio of the medians.
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { repoRoot } from './lib/proc.mjs';

const { values: a } = parseArgs({
  options: {
    size: { type: 'string', default: '32' },
    echoes: { type: 'string', default: '300000' },
    rounds: { type: 'string', default: '7' },
    root: { type: 'string' },
  },
});
const root = path.resolve(a.root ?? repoRoot);
const load = (pkg) => import(pathToFileURL(path.join(root, 'packages', pkg, 'dist', 'index.js')).href);
const [{ asyncInitiate }, { defaultExecutor }, { Stream }, { FlatBuffer }] = await Promise.all([
  load('completion-token'),
  load('executor'),
  load('websocket'),
  load('net'),
]);

const size = Number(a.size);
const N = Number(a.echoes);
const ROUNDS = Number(a.rounds);
const BATCH = 16;
const KEY = [1, 2, 3, 4];

function maskedFrame(len) {
  const h = len < 126 ? 2 : 4;
  const b = Buffer.alloc(h + 4 + len);
  b[0] = 0x82;
  if (h === 2) b[1] = 0x80 | len;
  else {
    b[1] = 0x80 | 126;
    b.writeUInt16BE(len, 2);
  }
  b.set(KEY, h);
  for (let i = 0; i < len; i++) b[h + 4 + i] = (i & 0xff) ^ KEY[i & 3];
  return b;
}

const chunk = Buffer.concat(Array.from({ length: BATCH }, () => maskedFrame(size)));
const upgrade = Buffer.from(
  'GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
);

/** The fake next layer: the upgrade request first, then the same 16 frames forever. */
class Feed {
  ex = defaultExecutor();
  pending = upgrade;
  off = 0;
  getExecutor() {
    return this.ex;
  }
  readSome(buffers, token) {
    return asyncInitiate(
      {
        executor: this.ex,
        initiate: (h) => {
          const b = Array.isArray(buffers) ? buffers[0] : buffers;
          if (this.off === this.pending.length) {
            this.pending = chunk;
            this.off = 0;
          }
          const n = Math.min(b.length, this.pending.length - this.off);
          b.set(this.pending.subarray(this.off, this.off + n));
          this.off += n;
          h(null, n);
        },
      },
      token,
    );
  }
  writeSome(buffers, token) {
    return asyncInitiate(
      {
        executor: this.ex,
        initiate: (h) => {
          let n = 0;
          for (const b of Array.isArray(buffers) ? buffers : [buffers]) n += b.length;
          h(null, n);
        },
      },
      token,
    );
  }
  shutdown() {
    return null;
  }
  close() {}
}

async function opened() {
  const ws = new Stream(new Feed());
  ws.autoFragment(false);
  await ws.asyncAccept();
  return ws;
}

async function callbackRound() {
  const ws = await opened();
  const buf = new FlatBuffer();
  return new Promise((resolve, reject) => {
    let left = N;
    const t0 = process.cpuUsage();
    const onWrite = (ec) => {
      if (ec) return reject(new Error(ec.message()));
      buf.consume(buf.size());
      if (--left === 0) {
        const d = process.cpuUsage(t0);
        return resolve((d.user + d.system) / N);
      }
      ws.asyncRead(buf, onRead);
    };
    const onRead = (ec) => {
      if (ec) return reject(new Error(ec.message()));
      ws.asyncWrite(buf.data(), onWrite);
    };
    ws.asyncRead(buf, onRead);
  });
}

async function promiseRound() {
  const ws = await opened();
  const buf = new FlatBuffer();
  const t0 = process.cpuUsage();
  for (let i = 0; i < N; i++) {
    await ws.asyncRead(buf);
    await ws.asyncWrite(buf.data());
    buf.consume(buf.size());
  }
  const d = process.cpuUsage(t0);
  return (d.user + d.system) / N;
}

const cb = [];
const pr = [];
for (let r = 0; r < ROUNDS; r++) {
  cb.push(await callbackRound());
  pr.push(await promiseRound());
}
cb.sort((x, y) => x - y);
pr.sort((x, y) => x - y);
const med = (xs) => xs[Math.floor(xs.length / 2)];
console.log(`in-process echo, ${size} B payloads, ${N} echoes × ${ROUNDS} rounds, packages from ${root}`);
console.log(`  callback token  min ${cb[0].toFixed(3)} µs  median ${med(cb).toFixed(3)} µs per echo`);
console.log(`  promise token   min ${pr[0].toFixed(3)} µs  median ${med(pr).toFixed(3)} µs per echo`);
console.log(`  promise / callback (medians) ${(med(pr) / med(cb)).toFixed(2)}×`);
