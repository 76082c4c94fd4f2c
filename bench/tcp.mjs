// TcpStream throughput against a raw net.Socket pipe, in one process, interleaved rounds.
// Each round sends --mib MiB over one loopback connection, writer and reader in this process,
// once through raw sockets (write until false, wait for 'drain'; count 'data' bytes) and once
// through TcpStream (writeSome loop / readSome into a caller buffer, callback tokens).
// Prints MiB/s per round and the median ratio tsio / raw for each write size.
//   npx tsc -b packages/net && node bench/tcp.mjs [--mib 256] [--rounds 5] [--sizes 65536,1024]
import { createServer, Socket } from 'node:net';
import { parseArgs } from 'node:util';
import { Acceptor, Endpoint, TcpStream } from '../packages/net/dist/index.js';

const { values: a } = parseArgs({
  options: {
    mib: { type: 'string', default: '256' },
    rounds: { type: 'string', default: '5' },
    sizes: { type: 'string', default: '65536,1024' },
  },
});
const TOTAL = Number(a.mib) * 1024 * 1024;
const ROUNDS = Number(a.rounds);
const SIZES = a.sizes.split(',').map(Number);

async function rawRound(size) {
  const server = createServer();
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const port = server.address().port;
  const accepted = new Promise((r) => server.once('connection', r));
  const client = new Socket();
  await new Promise((r) => client.connect(port, '127.0.0.1', r));
  const peer = await accepted;
  const chunk = Buffer.alloc(size, 1);
  const start = process.hrtime.bigint();
  const done = new Promise((resolve) => {
    let got = 0;
    peer.on('data', (d) => {
      got += d.length;
      if (got >= TOTAL) resolve();
    });
  });
  let sent = 0;
  const pump = () => {
    while (sent < TOTAL) {
      sent += size;
      if (!client.write(chunk)) {
        client.once('drain', pump);
        return;
      }
    }
  };
  pump();
  await done;
  const ns = Number(process.hrtime.bigint() - start);
  client.destroy();
  peer.destroy();
  server.close();
  return TOTAL / 1048576 / (ns / 1e9);
}

async function tsioRound(size) {
  const acceptor = new Acceptor(undefined, new Endpoint('127.0.0.1', 0));
  await acceptor.asyncListen();
  const client = new TcpStream();
  const [peer] = await Promise.all([
    acceptor.asyncAccept(),
    client.asyncConnect(new Endpoint('127.0.0.1', acceptor.localEndpoint().port())),
  ]);
  const chunk = Buffer.alloc(size, 1);
  const readBuf = Buffer.alloc(64 * 1024);
  const start = process.hrtime.bigint();
  const done = new Promise((resolve, reject) => {
    let got = 0;
    const onRead = (ec, n) => {
      if (ec) return reject(ec);
      got += n;
      if (got >= TOTAL) return resolve();
      peer.readSome(readBuf, onRead);
    };
    peer.readSome(readBuf, onRead);
  });
  let sent = 0;
  const onWrite = (ec, n) => {
    if (ec) throw ec;
    sent += n;
    if (sent < TOTAL) client.writeSome(chunk, onWrite);
  };
  client.writeSome(chunk, onWrite);
  await done;
  const ns = Number(process.hrtime.bigint() - start);
  client.close();
  peer.close();
  acceptor.close();
  return TOTAL / 1048576 / (ns / 1e9);
}

const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];

console.log(`tcp throughput: ${a.mib} MiB per round, ${ROUNDS} rounds, node ${process.version}`);
for (const size of SIZES) {
  const raw = [];
  const tsio = [];
  await rawRound(size); // warm-up
  await tsioRound(size);
  for (let i = 0; i < ROUNDS; i++) {
    // Alternate which goes first so drift in machine load hits both alike.
    if (i % 2 === 0) {
      raw.push(await rawRound(size));
      tsio.push(await tsioRound(size));
    } else {
      tsio.push(await tsioRound(size));
      raw.push(await rawRound(size));
    }
  }
  const fmt = (xs) => xs.map((x) => x.toFixed(0)).join(' ');
  console.log(`writes of ${size} B: raw MiB/s [${fmt(raw)}]  tsio MiB/s [${fmt(tsio)}]`);
  // Per-pair ratios: each pair ran back to back, so a load change between rounds cancels out.
  const ratios = raw.map((r, i) => tsio[i] / r);
  console.log(
    `  ratio tsio/raw: median of per-round ratios ${median(ratios).toFixed(2)}, of medians ${(median(tsio) / median(raw)).toFixed(2)}`,
  );
}
