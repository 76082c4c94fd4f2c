// Soak under load (issue 9): N concurrent websocket connections over
// loopback to an echo server made of our Acceptor / TcpStream / Stream, K
// echoed messages on each, then a mix of endings: normal closes from either
// side, abrupt resets from either side, and idle timeouts on either side
// (the websocket `Timeout` idle option).
//
// Used by packages/websocket/test/reliability-soak.test.ts (a short run, with
// vitest resolving @tsio/* to the TypeScript sources) and by bench/soak.mjs
// (10,000 connections, with Node resolving @tsio/* to the built dist/).
// Types: soak-engine.d.mts.
//
// Every asynchronous operation (connect, accept, handshake, read, write,
// close) is started through a counting wrapper, so the report can say how
// many were started and never completed. Every phase has a time bound.
import { randomFillSync } from 'node:crypto';
import * as tsnet from '@tsio/net';
import { closeCode, RequestFilter, Stream, Timeout, error as wsError } from '@tsio/websocket';
import { Rng } from './fuzz-engine.mjs';

const { Acceptor, Endpoint, FlatBuffer, TcpStream, beastError } = tsnet;

/** How a connection ends after its traffic. */
export const ENDINGS = [
  'client-close',
  'server-close',
  'client-reset',
  'server-reset',
  'server-idle',
  'client-idle',
];

// ---- bookkeeping ------------------------------------------------------------------

/** Counts operations by kind; a handler invoked twice is counted, not run. */
export class OpCounter {
  constructor() {
    this.started = {};
    this.completed = {};
    this.doubleCompletions = 0;
  }
  wrap(kind, fn) {
    this.started[kind] = (this.started[kind] ?? 0) + 1;
    let done = false;
    return (...args) => {
      if (done) {
        this.doubleCompletions++;
        return;
      }
      done = true;
      this.completed[kind] = (this.completed[kind] ?? 0) + 1;
      fn(...args);
    };
  }
  /** Starts an operation with a counted callback; resolves with the handler's arguments. */
  call(kind, start) {
    return new Promise((resolve) => start(this.wrap(kind, (...args) => resolve(args))));
  }
  get totalStarted() {
    return Object.values(this.started).reduce((a, b) => a + b, 0);
  }
  get pending() {
    let n = 0;
    for (const k of Object.keys(this.started)) n += this.started[k] - (this.completed[k] ?? 0);
    return n;
  }
  summary() {
    const pendingByKind = {};
    for (const k of Object.keys(this.started)) {
      const p = this.started[k] - (this.completed[k] ?? 0);
      if (p !== 0) pendingByKind[k] = p;
    }
    return {
      started: this.totalStarted,
      neverCompleted: this.pending,
      doubleCompletions: this.doubleCompletions,
      startedByKind: { ...this.started },
      pendingByKind,
    };
  }
}

function errName(ec) {
  return ec ? `${ec.category?.name ?? '?'}.${ec.name ?? String(ec)}` : 'ok';
}

function bump(map, key) {
  map[key] = (map[key] ?? 0) + 1;
}

function delay(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

/** Resolves with the promise's value, or with `onTimeout` after `ms` (the timer is cleared either way). */
async function bounded(promise, ms, onTimeout) {
  let timer;
  const t = new Promise((r) => {
    timer = setTimeout(() => r(onTimeout), ms);
  });
  try {
    return await Promise.race([promise, t]);
  } finally {
    clearTimeout(timer);
  }
}

/** Waits (bounded) until `cond()` holds; returns whether it did. */
async function waitFor(cond, ms, stepMs = 10) {
  const t0 = performance.now();
  while (!cond()) {
    if (performance.now() - t0 > ms) return false;
    await delay(stepMs);
  }
  return true;
}

/** Sockets, servers, timers and pending socket requests of this thread, by name. */
export function ioResources() {
  const out = {};
  for (const name of process.getActiveResourcesInfo()) {
    if (/TCP|Timeout|Immediate|Shutdown|WriteWrap|ProcessWrap|UDP/.test(name)) bump(out, name);
  }
  return out;
}

/** What `after` holds beyond `baseline`, by name. */
export function resourcesBeyond(after, baseline) {
  const extra = {};
  for (const [k, v] of Object.entries(after)) {
    const d = v - (baseline[k] ?? 0);
    if (d > 0) extra[k] = d;
  }
  return extra;
}

/** Heap used after a full GC and the RSS, in bytes. */
export async function memoryAfterGc() {
  const v8 = await import('node:v8');
  const vm = await import('node:vm');
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc');
  for (let i = 0; i < 3; i++) {
    gc();
    await delay(20);
  }
  const m = process.memoryUsage();
  return { heapUsed: m.heapUsed, rss: m.rss };
}

/** Counts uncaught exceptions and unhandled rejections while installed. */
export function installGuards() {
  const counts = { uncaught: 0, messages: [] };
  const on = (e) => {
    counts.uncaught++;
    if (counts.messages.length < 5) counts.messages.push(String(e?.stack ?? e));
  };
  process.on('uncaughtException', on);
  process.on('unhandledRejection', on);
  return {
    counts,
    remove() {
      process.off('uncaughtException', on);
      process.off('unhandledRejection', on);
    },
  };
}

// ---- the echo server ---------------------------------------------------------------

/**
 * The echo server: Beast's async echo server shape (callback tokens).
 * Text messages starting with `cmd:` are commands from the soak client:
 * `cmd:close` (close normally), `cmd:reset` (start a read, then reset the
 * TCP connection), `cmd:idle:<ms>` (set the websocket idle timeout and wait
 * for data that never comes). The handshake target `/soak/<i>/<ending>`
 * tells the session how its connection is meant to end, so it can check
 * its own side of that ending.
 */
export async function startSoakServer(opts = {}) {
  const handshakeTimeout = opts.handshakeTimeoutMs ?? 30_000;
  const ops = new OpCounter();
  const sessions = new Set();
  const streams = [];
  const stats = {
    accepted: 0,
    acceptFailed: 0,
    opened: 0,
    peakSessions: 0,
    echoed: 0,
    ended: 0,
    /** server-idle sessions whose websocket timer was armed right after the idle option was set (proves `armedTimers` sees one). */
    idleTimersSeenArmed: 0,
    endings: {},
  };
  let open = 0;
  for (const k of ENDINGS) stats.endings[k] = { n: 0, ok: 0, errors: {} };

  const session = (tcp) => {
    tcp.setNoDelay(true);
    const ws = new Stream(tcp);
    ws.setOption(new Timeout(handshakeTimeout, Number.POSITIVE_INFINITY, false));
    const s = { ws, tcp, kind: null, ended: false };
    ws.setOption(
      new RequestFilter((req) => {
        const m = /^\/soak\/\d+\/([a-z-]+)$/.exec(req.target);
        s.kind = m && ENDINGS.includes(m[1]) ? m[1] : null;
        return null;
      }),
    );
    sessions.add(s);
    streams.push(ws);
    stats.accepted++;
    const buf = new FlatBuffer();
    let wasOpen = false;

    /** The session is over; `ok` says whether its side of the intended ending was seen. */
    const end = (ok, ec) => {
      if (s.ended) return;
      s.ended = true;
      if (wasOpen) open--;
      stats.ended++;
      if (s.kind !== null) {
        const e = stats.endings[s.kind];
        e.n++;
        if (ok) e.ok++;
        bump(e.errors, errName(ec));
      }
      sessions.delete(s);
      // The session owns the transport, as a Beast session owns its socket.
      tcp.close();
    };

    /** What a read error means for this session's intended ending. */
    const readEnded = (ec) => {
      switch (s.kind) {
        case 'client-close':
          return end(ec === wsError.closed && ws.reason().code === closeCode.normal, ec);
        case 'server-idle':
          return end(ec === beastError.timeout, ec);
        default:
          // Resets and the client's idle timeout: the read fails, with whatever error the transport gave.
          return end(ec !== null && s.kind !== 'server-close', ec);
      }
    };

    const command = (text) => {
      if (text === 'cmd:close') {
        ws.asyncClose(
          closeCode.normal,
          ops.wrap('server.close', (ec) => end(ec === null && s.kind === 'server-close', ec)),
        );
        return;
      }
      if (text === 'cmd:reset') {
        read();
        tcp.socket().resetAndDestroy();
        return;
      }
      const idle = /^cmd:idle:(\d+)$/.exec(text);
      if (idle) {
        ws.setOption(new Timeout(handshakeTimeout, Number(idle[1]), false));
        if (armedTimers([ws]) === 1) stats.idleTimersSeenArmed++;
        read();
        return;
      }
      end(false, null);
    };

    const read = () => {
      ws.asyncRead(
        buf,
        ops.wrap('server.read', (ec) => {
          if (ec) return readEnded(ec);
          const text = ws.gotText();
          if (text && buf.size() < 64) {
            const t = Buffer.from(buf.data()).toString('utf8');
            if (t.startsWith('cmd:')) {
              buf.consume(buf.size());
              return command(t);
            }
          }
          ws.text(text);
          ws.asyncWrite(
            buf.data(),
            ops.wrap('server.write', (wec) => {
              buf.consume(buf.size());
              if (wec) return end(false, wec);
              stats.echoed++;
              read();
            }),
          );
        }),
      );
    };

    ws.asyncAccept(
      ops.wrap('server.accept', (ec) => {
        if (ec) {
          stats.acceptFailed++;
          return end(false, ec);
        }
        stats.opened++;
        wasOpen = true;
        open++;
        if (open > stats.peakSessions) stats.peakSessions = open;
        read();
      }),
    );
  };

  const acceptor = new Acceptor(undefined, new Endpoint('127.0.0.1', 0));
  const [lec] = await ops.call('server.listen', (h) => acceptor.asyncListen(h));
  if (lec) throw new Error(`listen failed: ${errName(lec)}`);
  const port = acceptor.localEndpoint().port();
  let listening = true;
  const acceptLoop = () =>
    acceptor.asyncAccept(
      ops.wrap('server.acceptConnection', (ec, tcp) => {
        if (ec) return;
        session(tcp);
        if (listening) acceptLoop();
      }),
    );
  acceptLoop();

  return {
    port,
    ops,
    stats,
    sessions,
    streams,
    /** Stops accepting; the pending accept completes with operationAborted. */
    stopListening() {
      listening = false;
      acceptor.close();
    },
    /** Closes every live session's transport (after a phase overran its bound). */
    closeAll() {
      for (const s of sessions) s.tcp.close();
    },
  };
}

// ---- the clients ---------------------------------------------------------------------

const TEXT_PIECES = ['a', 'é', '€', '𝄞', ' ', 'z'].map((text) => ({ text, bytes: Buffer.byteLength(text) }));

/** A message of soak traffic: mostly small, some medium, a few over the 16-bit length boundary. */
function makeMessage(rng) {
  const r = rng.next();
  const size =
    r < 0.8
      ? rng.int(126)
      : r < 0.97
        ? 126 + rng.int(4000)
        : r < 0.995
          ? 16_000 + rng.int(20_000)
          : 65_536 + rng.int(8000);
  if (size <= 4000 && rng.chance(0.3)) {
    // Text that can never look like a command (no 'c' anywhere).
    const parts = [];
    let n = 0;
    while (n < size) {
      const piece = TEXT_PIECES[rng.int(TEXT_PIECES.length)];
      parts.push(piece.text);
      n += piece.bytes;
    }
    return { text: true, bytes: Buffer.from(parts.join(''), 'utf8') };
  }
  return { text: false, bytes: randomFillSync(Buffer.allocUnsafe(size)) };
}

function newClientReport() {
  const endings = {};
  for (const k of ENDINGS) endings[k] = { n: 0, ok: 0, errors: {} };
  return {
    connectFailed: 0,
    handshakeFailed: 0,
    connected: 0,
    sent: 0,
    echoedIntact: 0,
    corrupted: 0,
    unexpected: 0,
    writeFailed: 0,
    readFailed: 0,
    endings,
    streamsOpenAfterEnd: 0,
  };
}

/** Runs `fn` over `items` with at most `limit` at a time. */
async function forEachLimited(items, limit, fn) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i], i);
    }
  };
  const workers = [];
  for (let w = 0; w < Math.min(limit, items.length); w++) workers.push(worker());
  await Promise.all(workers);
}

async function connectClient(i, kind, port, cfg, ops, rep) {
  const tcp = new TcpStream();
  const [cec] = await ops.call('client.connect', (h) => tcp.asyncConnect(new Endpoint('127.0.0.1', port), h));
  if (cec) {
    rep.connectFailed++;
    tcp.close();
    return null;
  }
  tcp.setNoDelay(true);
  const ws = new Stream(tcp);
  ws.setOption(new Timeout(cfg.handshakeTimeoutMs, Number.POSITIVE_INFINITY, false));
  const [hec] = await ops.call('client.handshake', (h) =>
    ws.asyncHandshake('127.0.0.1', `/soak/${i}/${kind}`, h),
  );
  if (hec) {
    rep.handshakeFailed++;
    tcp.close();
    return null;
  }
  rep.connected++;
  return { i, kind, tcp, ws };
}

/** K messages written while their echoes are read (at most `window` ahead); every echo compared. */
async function traffic(c, cfg, ops, rep) {
  const rng = new Rng((cfg.seed * 0x9e3779b1 + c.i) >>> 0);
  const expected = [];
  let wakeWriter = null;
  let failed = false;
  const writer = async () => {
    for (let k = 0; k < cfg.messages && !failed; k++) {
      while (expected.length >= cfg.window && !failed) await new Promise((r) => (wakeWriter = r));
      if (failed) break;
      const m = makeMessage(rng);
      c.ws.text(m.text);
      expected.push(m);
      rep.sent++;
      const [ec] = await ops.call('client.write', (h) => c.ws.asyncWrite(m.bytes, h));
      if (ec) {
        rep.writeFailed++;
        failed = true;
      }
    }
  };
  const reader = async () => {
    const buf = new FlatBuffer();
    for (let k = 0; k < cfg.messages && !failed; k++) {
      const [ec] = await ops.call('client.read', (h) => c.ws.asyncRead(buf, h));
      if (ec) {
        rep.readFailed++;
        failed = true;
        break;
      }
      const m = expected.shift();
      if (m === undefined) rep.unexpected++;
      else if (c.ws.gotText() === m.text && Buffer.compare(Buffer.from(buf.data()), m.bytes) === 0)
        rep.echoedIntact++;
      else rep.corrupted++;
      buf.consume(buf.size());
      const w = wakeWriter;
      wakeWriter = null;
      w?.();
    }
    failed = true;
    const w = wakeWriter;
    wakeWriter = null;
    w?.();
  };
  await Promise.all([writer(), reader()]);
}

/** Ends the connection the way its `kind` says; returns whether the client saw what it should. */
async function ending(c, cfg, ops) {
  const { ws, tcp } = c;
  const buf = new FlatBuffer();
  const say = async (text) => {
    ws.text(true);
    const [ec] = await ops.call('client.write', (h) => ws.asyncWrite(Buffer.from(text, 'utf8'), h));
    return ec;
  };
  const read = () => ops.call('client.read', (h) => ws.asyncRead(buf, h));
  switch (c.kind) {
    case 'client-close': {
      const [ec] = await ops.call('client.close', (h) => ws.asyncClose(closeCode.normal, h));
      return [ec === null, ec];
    }
    case 'server-close': {
      const wec = await say('cmd:close');
      const [ec] = await read();
      return [wec === null && ec === wsError.closed && ws.reason().code === closeCode.normal, ec];
    }
    case 'client-reset': {
      const pending = read();
      tcp.socket().resetAndDestroy();
      const [ec] = await pending;
      return [ec !== null, ec];
    }
    case 'server-reset': {
      const wec = await say('cmd:reset');
      const [ec] = await read();
      return [wec === null && ec !== null, ec];
    }
    case 'server-idle': {
      const wec = await say(`cmd:idle:${cfg.idleMs}`);
      const [ec] = await read();
      return [wec === null && ec !== null, ec];
    }
    default: {
      // client-idle: the server says nothing; the client's own idle timeout ends the read.
      ws.setOption(new Timeout(cfg.handshakeTimeoutMs, cfg.idleMs, false));
      const [ec] = await read();
      return [ec === beastError.timeout, ec];
    }
  }
}

/**
 * The client side of the soak: connects `connections` clients (at most
 * `connectConcurrency` handshakes at a time) and keeps them all open, then
 * runs the traffic on all of them at once, then ends them all at once.
 */
export async function runSoakClients(port, cfg) {
  const ops = new OpCounter();
  const rep = newClientReport();
  const streams = [];
  const failures = [];
  const seconds = {};
  const kinds = [];
  for (let i = 0; i < cfg.connections; i++) kinds.push(ENDINGS[i % ENDINGS.length]);
  const clients = [];

  const phase = async (name, boundMs, run) => {
    const t0 = performance.now();
    const r = await bounded(
      run().then(() => 'done'),
      boundMs,
      'overran',
    );
    seconds[name] = Number(((performance.now() - t0) / 1000).toFixed(2));
    if (r === 'overran') {
      failures.push(`${name} phase overran its ${boundMs} ms bound`);
      for (const c of clients) c.tcp.close();
    }
    cfg.progress?.(`${name}: ${seconds[name]} s`);
    return r === 'done';
  };

  const connectedAll = await phase('connect', cfg.phaseBoundMs, () =>
    forEachLimited(kinds, cfg.connectConcurrency, async (kind, i) => {
      const c = await connectClient(i, kind, port, cfg, ops, rep);
      if (c) {
        clients.push(c);
        streams.push(c.ws);
      }
    }),
  );
  if (rep.connected !== cfg.connections)
    failures.push(`${cfg.connections - rep.connected} clients did not connect`);
  rep.openAtOnce = clients.filter((c) => c.ws.isOpen()).length;
  if (connectedAll) {
    const trafficDone = await phase('traffic', cfg.phaseBoundMs, () =>
      Promise.all(clients.map((c) => traffic(c, cfg, ops, rep))),
    );
    if (trafficDone) {
      await phase('endings', cfg.phaseBoundMs, () =>
        Promise.all(
          clients.map(async (c) => {
            const [ok, ec] = await ending(c, cfg, ops);
            const e = rep.endings[c.kind];
            e.n++;
            if (ok) e.ok++;
            bump(e.errors, errName(ec));
            // The client owns its transport and closes it whatever happened.
            c.tcp.close();
            if (c.ws.isOpen()) rep.streamsOpenAfterEnd++;
          }),
        ),
      );
    }
  }
  for (const c of clients) c.tcp.close();
  rep.lost = rep.sent - rep.echoedIntact;
  return { rep, ops, streams, failures, seconds };
}

// ---- checks shared by the script and the test -----------------------------------------

/** Streams whose websocket timer is still armed (the stream's own timer; it is unref'd, so not in the resource list). */
export function armedTimers(streams) {
  return streams.filter((ws) => ws.impl.timerArmed()).length;
}

/**
 * The whole soak in one process (server and clients): used by the CI test
 * and by the script when the file limit allows 2 descriptors per connection.
 */
export async function runSoak(cfgIn) {
  const cfg = {
    connections: 300,
    messages: 10,
    window: 4,
    connectConcurrency: 128,
    idleMs: 300,
    handshakeTimeoutMs: 30_000,
    phaseBoundMs: 120_000,
    drainBoundMs: 15_000,
    seed: 1,
    progress: null,
    ...cfgIn,
  };
  const t0 = performance.now();
  const guards = installGuards();
  const resourcesBefore = ioResources();
  const memoryBefore = await memoryAfterGc();
  const server = await startSoakServer(cfg);
  const client = finishClients(await runSoakClients(server.port, cfg));
  const report = await finishServer(server, cfg);
  const streamsOpen = client.streamsOpen + report.serverStreamsOpen;
  const timersArmed = client.timersArmed + report.serverTimersArmed;
  server.streams.length = 0;
  // Sockets close asynchronously: give their handles a bounded time to go.
  let resourcesLeft = {};
  await waitFor(
    () => {
      resourcesLeft = resourcesBeyond(ioResources(), resourcesBefore);
      return Object.keys(resourcesLeft).length === 0;
    },
    5000,
    20,
  );
  const memoryAfter = await memoryAfterGc();
  guards.remove();
  return summarize({
    cfg,
    mode: 'in-process',
    client,
    server: report,
    streamsOpen,
    timersArmed,
    resourcesLeft,
    memory: { before: memoryBefore, after: memoryAfter },
    uncaught: guards.counts,
    seconds: { ...client.seconds, total: Number(((performance.now() - t0) / 1000).toFixed(2)) },
  });
}

/** The client side's figures as plain data (the script's client process prints them); drops the streams. */
export function finishClients(client) {
  const out = {
    rep: client.rep,
    ops: client.ops.summary(),
    failures: client.failures,
    seconds: client.seconds,
    streamsOpen: client.streams.filter((ws) => ws.isOpen()).length,
    timersArmed: armedTimers(client.streams),
  };
  client.streams.length = 0;
  return out;
}

/** Waits (bounded) for the server's sessions to end, stops listening, and reports the server's side. */
export async function finishServer(server, cfg) {
  const drained = await waitFor(
    () => server.sessions.size === 0 && server.ops.pending <= 1,
    cfg.drainBoundMs,
  );
  const failures = [];
  if (!drained) {
    failures.push(
      `${server.sessions.size} server sessions still live ${cfg.drainBoundMs} ms after the clients ended`,
    );
    server.closeAll();
  }
  server.stopListening();
  // The pending accept completes through the executor: a bounded wait for it.
  await waitFor(() => server.ops.pending === 0, 2000);
  return {
    stats: server.stats,
    ops: server.ops.summary(),
    serverStreamsOpen: server.streams.filter((ws) => ws.isOpen()).length,
    serverTimersArmed: armedTimers(server.streams),
    failures,
  };
}

/** The report and its verdict: every invariant the soak promises. */
export function summarize(r) {
  const { cfg, client, server } = r;
  const c = client.rep;
  const failures = [...client.failures, ...server.failures];
  const check = (ok, what) => {
    if (!ok) failures.push(what);
  };
  const clientOps = client.ops;
  const expectedSent = cfg.connections * cfg.messages;
  check(c.sent === expectedSent, `sent ${c.sent} of ${expectedSent} messages`);
  check(c.lost === 0, `${c.lost} messages lost`);
  check(
    c.corrupted === 0 && c.unexpected === 0,
    `${c.corrupted} echoes corrupted, ${c.unexpected} unexpected`,
  );
  check(
    server.stats.peakSessions === cfg.connections,
    `peak ${server.stats.peakSessions} concurrent server sessions`,
  );
  const neverCompleted = clientOps.neverCompleted + server.ops.neverCompleted;
  check(neverCompleted === 0, `${neverCompleted} operations never completed`);
  check(clientOps.doubleCompletions + server.ops.doubleCompletions === 0, 'operations completed twice');
  for (const k of ENDINGS) {
    const ce = c.endings[k];
    const se = server.stats.endings[k];
    const want =
      Math.floor(cfg.connections / ENDINGS.length) +
      (ENDINGS.indexOf(k) < cfg.connections % ENDINGS.length ? 1 : 0);
    check(ce.n === want && ce.ok === want, `${k}: client saw ${ce.ok}/${ce.n} of ${want} as expected`);
    check(se.n === want && se.ok === want, `${k}: server saw ${se.ok}/${se.n} of ${want} as expected`);
  }
  check(r.streamsOpen === 0 && c.streamsOpenAfterEnd === 0, `${r.streamsOpen} streams still open`);
  check(r.timersArmed === 0, `${r.timersArmed} websocket timers still armed`);
  const idleSessions = server.stats.endings['server-idle'].n;
  check(
    server.stats.idleTimersSeenArmed === idleSessions,
    `the timer check saw ${server.stats.idleTimersSeenArmed} of ${idleSessions} idle timers armed`,
  );
  const left = Object.values(r.resourcesLeft).reduce((a, b) => a + b, 0);
  check(left === 0, `handles left open: ${JSON.stringify(r.resourcesLeft)}`);
  check(r.uncaught.uncaught === 0, `${r.uncaught.uncaught} uncaught errors`);
  const mib = (b) => Number((b / 2 ** 20).toFixed(1));
  return {
    mode: r.mode,
    connections: cfg.connections,
    messagesPerConnection: cfg.messages,
    idleMs: cfg.idleMs,
    seed: cfg.seed,
    connected: c.connected,
    openAtOnce: c.openAtOnce,
    peakServerSessions: server.stats.peakSessions,
    idleTimersSeenArmed: server.stats.idleTimersSeenArmed,
    messages: {
      sent: c.sent,
      echoedIntact: c.echoedIntact,
      lost: c.lost,
      corrupted: c.corrupted,
      serverEchoed: server.stats.echoed,
    },
    endings: Object.fromEntries(
      ENDINGS.map((k) => [k, { client: c.endings[k], server: server.stats.endings[k] }]),
    ),
    operations: {
      client: clientOps,
      server: server.ops,
      neverCompleted,
    },
    streamsOpen: r.streamsOpen,
    timersArmed: r.timersArmed,
    handlesLeft: r.resourcesLeft,
    memoryMiB: {
      before: { rss: mib(r.memory.before.rss), heapAfterGc: mib(r.memory.before.heapUsed) },
      after: { rss: mib(r.memory.after.rss), heapAfterGc: mib(r.memory.after.heapUsed) },
      ...(r.memory.clientProcess ? { clientProcess: r.memory.clientProcess } : {}),
    },
    uncaught: r.uncaught.uncaught,
    uncaughtMessages: r.uncaught.messages,
    seconds: r.seconds,
    failures,
    pass: failures.length === 0,
  };
}
