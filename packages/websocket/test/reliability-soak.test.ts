/*
 * Soak under load (issue 9), the short CI variant of bench/soak.mjs: 300
 * concurrent websocket connections over loopback to an echo server made of
 * Acceptor + TcpStream + Stream, 10 echoed messages on each (every echo
 * compared), then as many connections of each ending: normal close from
 * the client and from the server, RST from the client and from the server,
 * websocket idle timeout (`Timeout` idleTimeout) on the server and on the
 * client. The engine is shared with the script; here vitest resolves
 * @tsio/* to the sources.
 */

import { createServer } from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  ENDINGS,
  ioResources,
  resourcesBeyond,
  runSoak,
  type SoakReport,
} from '../../../bench/lib/soak-engine.mjs';

const CONNECTIONS = 300;
const MESSAGES = 10;

describe(`soak: ${CONNECTIONS} concurrent connections, ${MESSAGES} messages each, then mixed endings`, () => {
  let r: SoakReport;

  beforeAll(async () => {
    // Warm-up (JIT, pools) so the memory baseline of the real run is not the cold process.
    await runSoak({ connections: 24, messages: 3, idleMs: 100, seed: 7 });
    r = await runSoak({ connections: CONNECTIONS, messages: MESSAGES, idleMs: 300, seed: 20260102 });
    console.log('soak', JSON.stringify(r));
  }, 180_000);

  it('all connections were open at the same time', () => {
    expect(r.connected).toBe(CONNECTIONS);
    expect(r.openAtOnce).toBe(CONNECTIONS);
    expect(r.peakServerSessions).toBe(CONNECTIONS);
  });

  it('no message lost or corrupted: every one of the N*K echoes came back intact', () => {
    expect(r.messages.sent).toBe(CONNECTIONS * MESSAGES);
    expect(r.messages.echoedIntact).toBe(CONNECTIONS * MESSAGES);
    expect(r.messages.lost).toBe(0);
    expect(r.messages.corrupted).toBe(0);
    expect(r.messages.serverEchoed).toBe(CONNECTIONS * MESSAGES);
  });

  it('each ending happened as intended on both sides', () => {
    for (const k of ENDINGS) {
      const { client, server } = r.endings[k]!;
      expect({ k, n: client.n, ok: client.ok }).toEqual({ k, n: CONNECTIONS / ENDINGS.length, ok: client.n });
      expect({ k, n: server.n, ok: server.ok }).toEqual({ k, n: CONNECTIONS / ENDINGS.length, ok: server.n });
    }
    // The idle timeouts were the websocket's own (beast timeout), not a TCP expiry.
    expect(r.endings['server-idle']!.server.errors).toEqual({
      'beast.timeout': CONNECTIONS / ENDINGS.length,
    });
    expect(r.endings['client-idle']!.client.errors).toEqual({
      'beast.timeout': CONNECTIONS / ENDINGS.length,
    });
    expect(r.endings['client-close']!.server.errors).toEqual({
      'websocket.closed': CONNECTIONS / ENDINGS.length,
    });
    expect(r.endings['server-close']!.client.errors).toEqual({
      'websocket.closed': CONNECTIONS / ENDINGS.length,
    });
  });

  it('every operation started completed, exactly once', () => {
    expect(r.operations.client.started).toBeGreaterThan(CONNECTIONS * (2 * MESSAGES + 2));
    expect(r.operations.server.started).toBeGreaterThan(CONNECTIONS * (2 * MESSAGES + 1));
    expect(r.operations.client.pendingByKind).toEqual({});
    expect(r.operations.server.pendingByKind).toEqual({});
    expect(r.operations.neverCompleted).toBe(0);
    expect(r.operations.client.doubleCompletions + r.operations.server.doubleCompletions).toBe(0);
  });

  it('no stream open, no websocket timer armed, no socket/server/timer handle left', () => {
    expect(r.streamsOpen).toBe(0);
    expect(r.timersArmed).toBe(0);
    // The timer check is not vacuous: it saw each server-idle session's timer armed.
    expect(r.idleTimersSeenArmed).toBe(CONNECTIONS / ENDINGS.length);
    expect(r.handlesLeft).toEqual({});
  });

  it('the handle check sees a listening server and a pending timer (it is not vacuous)', async () => {
    const before = ioResources();
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const timer = setTimeout(() => undefined, 60_000);
    const extra = resourcesBeyond(ioResources(), before);
    clearTimeout(timer);
    await new Promise<void>((resolve) => server.close(() => resolve()));
    expect(extra).toEqual({ TCPServerWrap: 1, Timeout: 1 });
  });

  it('no uncaught error; memory back near the baseline', () => {
    expect(r.uncaughtMessages).toEqual([]);
    expect(r.uncaught).toBe(0);
    // Generous: the point is that 300 connections' buffers are not retained.
    expect(r.memoryMiB.after.heapAfterGc - r.memoryMiB.before.heapAfterGc).toBeLessThan(16);
  });

  it('the run passed its own verdict', () => {
    expect(r.failures).toEqual([]);
    expect(r.pass).toBe(true);
  });
});
