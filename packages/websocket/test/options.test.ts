/*
 * Handshake options on a Stream: Decorator (request on a client, response
 * on a server), Sec-WebSocket-Protocol negotiation (Subprotocols, and the
 * Beast way through a decorator), and RequestFilter refusing an upgrade
 * with a chosen status.
 */
import { TestStream } from '@tsio/net';
import { describe, expect, it } from 'vitest';
import {
  Decorator,
  error,
  field,
  RequestFilter,
  RequestType,
  ResponseType,
  Stream,
  Subprotocols,
} from '../src/index.js';
import { codeOf, readOnce } from './helpers.js';

function streams() {
  const [a, b] = TestStream.pair();
  return { client: new Stream(a), server: new Stream(b), a, b };
}

async function handshake(client: Stream<TestStream>, server: Stream<TestStream>, res = new ResponseType()) {
  const [s, c] = await Promise.all([
    codeOf(server.asyncAccept()),
    codeOf(client.asyncHandshake('localhost', '/chat', res)),
  ]);
  return { s, c, res };
}

describe('Decorator', () => {
  it('decorates the client request and the server response', async () => {
    const { client, server } = streams();
    let seenReq: RequestType | null = null;
    client.setOption(
      new Decorator((m) => {
        if (m instanceof RequestType) m.set(field.userAgent, 'tsio-test');
      }),
    );
    server.setOption(
      new Decorator((m) => {
        if (m instanceof ResponseType) m.set(field.server, 'tsio-server');
      }),
    );
    server.setOption(
      new RequestFilter((req) => {
        seenReq = req;
        return null;
      }),
    );
    const { s, c, res } = await handshake(client, server);
    expect([s, c]).toEqual([null, null]);
    expect((seenReq as RequestType | null)?.get('user-agent')).toBe('tsio-test');
    expect(res.get('server')).toBe('tsio-server');
  });
});

describe('Sec-WebSocket-Protocol', () => {
  it('Subprotocols on both sides: the server picks the first the client offered that it supports', async () => {
    const { client, server } = streams();
    client.setOption(new Subprotocols(['chat.v2', 'chat.v1']));
    server.setOption(new Subprotocols(['chat.v1', 'chat.v2']));
    const { s, c } = await handshake(client, server);
    expect([s, c]).toEqual([null, null]);
    expect(client.protocol()).toBe('chat.v2');
    expect(server.protocol()).toBe('chat.v2');
  });

  it('a selector function decides; null means no protocol, which is not an error', async () => {
    for (const pick of ['b', null]) {
      const { client, server } = streams();
      client.setOption(new Subprotocols(['a', 'b']));
      const offeredSeen: string[][] = [];
      server.setOption(
        new Subprotocols((offered) => {
          offeredSeen.push(offered);
          return pick;
        }),
      );
      const { s, c, res } = await handshake(client, server);
      expect([s, c]).toEqual([null, null]);
      expect(offeredSeen).toEqual([['a', 'b']]);
      expect(client.protocol()).toBe(pick ?? '');
      expect(server.protocol()).toBe(pick ?? '');
      expect(res.get(field.secWebsocketProtocol)).toBe(pick ?? undefined);
    }
  });

  it('a selector may not name a protocol the client did not offer (nothing is sent)', async () => {
    const { client, server } = streams();
    client.setOption(new Subprotocols(['a']));
    server.setOption(new Subprotocols(() => 'zzz'));
    const { s, c } = await handshake(client, server);
    expect([s, c]).toEqual([null, null]);
    expect(client.protocol()).toBe('');
  });

  it('the Beast way: set the request field with a decorator, read it from the response', async () => {
    const { client, server } = streams();
    client.setOption(
      new Decorator((m) => {
        if (m instanceof RequestType) m.set(field.secWebsocketProtocol, 'mqtt');
      }),
    );
    server.setOption(
      new Decorator((m) => {
        if (m instanceof ResponseType) m.set(field.secWebsocketProtocol, 'mqtt');
      }),
    );
    const { s, c, res } = await handshake(client, server);
    expect([s, c]).toEqual([null, null]);
    expect(res.get(field.secWebsocketProtocol)).toBe('mqtt');
    expect(client.protocol()).toBe('mqtt');
    expect(server.protocol()).toBe('mqtt');
  });

  it('a client given a protocol it did not offer fails with badSecProtocol (RFC 6455 §4.1)', async () => {
    for (const offer of [['a'], []]) {
      const { client, server } = streams();
      if (offer.length > 0) client.setOption(new Subprotocols(offer));
      server.setOption(
        new Decorator((m) => {
          if (m instanceof ResponseType) m.set(field.secWebsocketProtocol, 'b');
        }),
      );
      const { c } = await handshake(client, server);
      expect(c).toBe(error.badSecProtocol);
      expect(client.isOpen()).toBe(false);
      expect(client.protocol()).toBe('');
    }
  });

  it('Subprotocols checks its list (tokens, no duplicates)', () => {
    expect(() => new Subprotocols(['a b'])).toThrow(TypeError);
    expect(() => new Subprotocols(['a', 'a'])).toThrow(TypeError);
    expect(() => new Subprotocols([''])).toThrow(TypeError);
  });
});

describe('RequestFilter', () => {
  it('refuses by Origin with 403: the client sees upgradeDeclined and the response, the server upgradeDeclined', async () => {
    const { client, server } = streams();
    client.setOption(
      new Decorator((m) => {
        if (m instanceof RequestType) m.set(field.origin, 'https://evil.example');
      }),
    );
    server.setOption(
      new RequestFilter((req) =>
        req.get(field.origin) === 'https://good.example'
          ? null
          : { status: 403, reason: 'Forbidden', body: 'origin not allowed' },
      ),
    );
    const { s, c, res } = await handshake(client, server);
    expect(s).toBe(error.upgradeDeclined);
    expect(c).toBe(error.upgradeDeclined);
    // (The client reads the response head only; the body is checked on the wire below.)
    expect([res.status, res.reason]).toEqual([403, 'Forbidden']);
    expect(server.isOpen()).toBe(false);
    expect(client.isOpen()).toBe(false);
  });

  it('the exact refusal on the wire (401), decorated; the good origin is let through', async () => {
    const [a, b] = TestStream.pair();
    const server = new Stream(b);
    server.setOption(
      new RequestFilter((req) =>
        req.get(field.authorization) ? null : { status: 401, reason: 'Unauthorized', body: 'log in first' },
      ),
    );
    server.setOption(
      new Decorator((m) => {
        if (m instanceof ResponseType) m.set(field.wwwAuthenticate, 'Bearer');
      }),
    );
    const accepted = codeOf(server.asyncAccept());
    a.writeSome(
      [
        Buffer.from(
          'GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
            'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
        ),
      ],
      () => undefined,
    );
    expect(await accepted).toBe(error.upgradeDeclined);
    const [, bytes] = await readOnce(a);
    const text = bytes.toString('latin1');
    expect(text.startsWith('HTTP/1.1 401 Unauthorized\r\n')).toBe(true);
    expect(text).toContain('WWW-Authenticate: Bearer\r\n');
    expect(text.endsWith('\r\n\r\nlog in first')).toBe(true);
    expect(text.toLowerCase()).not.toContain('sec-websocket-accept');

    const ok = streams();
    ok.server.setOption(
      new RequestFilter((req) =>
        req.get(field.authorization) ? null : { status: 401, reason: 'Unauthorized' },
      ),
    );
    ok.client.setOption(
      new Decorator((m) => {
        if (m instanceof RequestType) m.set(field.authorization, 'Bearer t');
      }),
    );
    const r = await handshake(ok.client, ok.server);
    expect([r.s, r.c]).toEqual([null, null]);
  });
});

describe('a hook that throws', () => {
  // The exception is reported as a process warning; keep the test output quiet and check it.
  const warnings: string[] = [];
  const onWarning = (w: Error) => {
    if ((w as { code?: string }).code === 'TSIO_HANDSHAKE_HOOK') warnings.push(w.message);
  };
  const boom = () => {
    throw new Error('hook bug');
  };
  const withWarnings = async (body: () => Promise<void>) => {
    warnings.length = 0;
    process.on('warning', onWarning);
    try {
      await body();
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.length).toBeGreaterThan(0);
    expect(warnings[0]).toContain('hook bug');
  };

  it('a client decorator: the handshake completes once with handshakeHookFailed, nothing is sent', async () => {
    await withWarnings(async () => {
      const { client, b } = streams();
      client.setOption(new Decorator(boom));
      let calls = 0;
      const result = await new Promise<unknown>((resolve) => {
        // A callback token: the throw must not escape the initiating call either.
        client.asyncHandshake('localhost', '/', (ec) => {
          calls++;
          resolve(ec);
        });
      });
      await new Promise((r) => setImmediate(r));
      expect(result).toBe(error.handshakeHookFailed);
      expect(calls).toBe(1);
      expect(b.bytes().length).toBe(0);
    });
  });

  for (const [name, install] of [
    ['request filter', (s: Stream<TestStream>) => s.setOption(new RequestFilter(boom))],
    ['subprotocol selector', (s: Stream<TestStream>) => s.setOption(new Subprotocols(() => boom() as never))],
    ['response decorator', (s: Stream<TestStream>) => s.setOption(new Decorator(boom))],
  ] as const) {
    it(`a server ${name}: the client gets 500, both complete once with an error`, async () => {
      await withWarnings(async () => {
        const { client, server } = streams();
        install(server);
        client.setOption(new Subprotocols(['x']));
        const { s, c, res } = await handshake(client, server);
        expect(s).toBe(error.handshakeHookFailed);
        expect(c).toBe(error.upgradeDeclined);
        expect([res.status, res.reason]).toEqual([500, 'Internal Server Error']);
        expect(server.isOpen()).toBe(false);
      });
    });
  }
});
