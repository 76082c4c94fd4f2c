/*
 * Negative cases of the opening handshake on a Stream: each validation error
 * of the request (the exact HTTP refusal on the wire) and of the response,
 * the handshakeFailed condition, the head size limit, and odd header names.
 */
import { createHash } from 'node:crypto';
import type { ErrorCode } from '@tsio/completion-token';
import { TestStream } from '@tsio/net';
import { describe, expect, it } from 'vitest';
import { ownOpts } from '../src/impl.js';
import { condition, error, RequestType, ResponseType, Stream } from '../src/index.js';
import { readOnce, settle, track } from './helpers.js';

const KEY_B64 = 'dGhlIHNhbXBsZSBub25jZQ==';
const ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';

function request(lines: string[], start = 'GET /chat HTTP/1.1'): Buffer {
  return Buffer.from(`${[start, ...lines].join('\r\n')}\r\n\r\n`, 'latin1');
}

const good = [
  'Host: example.com',
  'Upgrade: websocket',
  'Connection: Upgrade',
  `Sec-WebSocket-Key: ${KEY_B64}`,
  'Sec-WebSocket-Version: 13',
];
const without = (name: string) => good.filter((l) => !l.toLowerCase().startsWith(`${name.toLowerCase()}:`));
const replace = (name: string, line: string) => [...without(name), line];
const REQUEST_LEN = request(good).length;

/** Splits an HTTP response head into status line and lowercase field map. */
function parseHead(text: string): { status: number; fields: Map<string, string>; body: string } {
  const [head = '', body = ''] = text.split('\r\n\r\n');
  const [statusLine = '', ...lines] = head.split('\r\n');
  const fields = new Map<string, string>();
  for (const l of lines) {
    const i = l.indexOf(':');
    fields.set(l.slice(0, i).toLowerCase(), l.slice(i + 1).trim());
  }
  return { status: Number(statusLine.split(' ')[1]), fields, body };
}

async function acceptRaw(bytes: Buffer, limit?: number) {
  const [a, b] = TestStream.pair();
  const server = new Stream(b);
  if (limit !== undefined) ownOpts(server.impl).handshakeHeadLimit = limit;
  await a.writeSome(bytes);
  const t = track();
  server.asyncAccept(t.handler);
  const [ec] = await t.result;
  await settle(3);
  return { ec, calls: t.calls(), server, wire: a.str('latin1'), a };
}

const requestCases: Array<[string, Buffer, ErrorCode, number]> = [
  ['badMethod', request(good, 'POST /chat HTTP/1.1'), error.badMethod, 400],
  ['badHttpVersion', request(good, 'GET /chat HTTP/1.0'), error.badHttpVersion, 400],
  ['noHost', request(without('Host')), error.noHost, 400],
  ['noConnection', request(without('Connection')), error.noConnection, 400],
  [
    'noConnectionUpgrade',
    request(replace('Connection', 'Connection: keep-alive')),
    error.noConnectionUpgrade,
    400,
  ],
  ['noUpgrade', request(without('Upgrade')), error.noUpgrade, 400],
  ['noUpgradeWebsocket', request(replace('Upgrade', 'Upgrade: h2c')), error.noUpgradeWebsocket, 400],
  ['noSecKey', request(without('Sec-WebSocket-Key')), error.noSecKey, 400],
  [
    'badSecKey (short)',
    request(replace('Sec-WebSocket-Key', 'Sec-WebSocket-Key: abc=')),
    error.badSecKey,
    400,
  ],
  [
    'badSecKey (17 bytes)',
    request(replace('Sec-WebSocket-Key', `Sec-WebSocket-Key: ${Buffer.alloc(17, 1).toString('base64')}`)),
    error.badSecKey,
    400,
  ],
  ['noSecVersion', request(without('Sec-WebSocket-Version')), error.noSecVersion, 426],
  [
    'badSecVersion',
    request(replace('Sec-WebSocket-Version', 'Sec-WebSocket-Version: 8')),
    error.badSecVersion,
    426,
  ],
];

describe('asyncAccept refuses a bad upgrade request with the exact HTTP response', () => {
  for (const [name, bytes, ec, status] of requestCases) {
    it(name, async () => {
      const r = await acceptRaw(bytes);
      expect(String(r.ec)).toBe(String(ec));
      expect(r.ec).toBe(ec);
      expect(condition.handshakeFailed.matches(r.ec)).toBe(true);
      expect(condition.protocolViolation.matches(r.ec)).toBe(false);
      expect(r.calls).toBe(1);
      expect(r.server.isOpen()).toBe(false);
      const res = parseHead(r.wire);
      expect(r.wire.startsWith(`HTTP/1.1 ${status} `)).toBe(true);
      expect(res.status).toBe(status);
      if (status === 426) expect(res.fields.get('sec-websocket-version')).toBe('13');
      else expect(res.fields.has('sec-websocket-version')).toBe(false);
      expect(res.fields.has('sec-websocket-accept')).toBe(false);
      // The body is what Content-Length says.
      expect(Number(res.fields.get('content-length'))).toBe(Buffer.byteLength(res.body));
    });
  }

  it('accepts tokens case-insensitively inside lists (Connection: keep-alive, Upgrade)', async () => {
    const r = await acceptRaw(
      request([
        ...without('Connection').filter((l) => !l.startsWith('Upgrade')),
        'Connection: keep-alive, UPGRADE',
        'Upgrade: WebSocket',
      ]),
    );
    expect(r.ec).toBeNull();
    expect(parseHead(r.wire).status).toBe(101);
    expect(parseHead(r.wire).fields.get('sec-websocket-accept')).toBe(ACCEPT);
    expect(r.server.isOpen()).toBe(true);
  });

  it('a request head over the size limit fails with headerLimit and a 400, reading no further', async () => {
    const big = request([...good, `X-Filler: ${'a'.repeat(9000)}`]);
    const r = await acceptRaw(big);
    expect(r.ec).toBe(error.headerLimit);
    expect(condition.handshakeFailed.matches(r.ec)).toBe(true);
    expect(parseHead(r.wire).status).toBe(400);
    expect(r.server.isOpen()).toBe(false);
    // A configured smaller limit applies too.
    const small = await acceptRaw(request(good), 64);
    expect(small.ec).toBe(error.headerLimit);
  });

  it('an endless head is refused once it passes the limit (bounded work)', async () => {
    const [a, b] = TestStream.pair();
    const server = new Stream(b);
    const t = track();
    server.asyncAccept(t.handler);
    await a.writeSome(Buffer.from('GET / HTTP/1.1\r\n'));
    let written = 0;
    for (let i = 0; i < 100 && t.calls() === 0; i++) {
      written += await a.writeSome(Buffer.from(`X-${i}: ${'v'.repeat(200)}\r\n`));
      await settle(1);
    }
    const [ec] = await t.result;
    expect(ec).toBe(error.headerLimit);
    expect(written).toBeLessThan(8192 + 1024);
  });

  it('a malformed head fails with badHttpRequest and a 400', async () => {
    const r = await acceptRaw(Buffer.from('GET /chat HTTP/1.1\r\nHost example.com\r\n\r\n'));
    expect(r.ec).toBe(error.badHttpRequest);
    expect(parseHead(r.wire).status).toBe(400);
  });

  it('a header named __proto__ (or constructor) is an ordinary field: no prototype pollution', async () => {
    const r = await acceptRaw(
      request([...good, '__proto__: polluted', 'constructor: x', 'hasOwnProperty: y', 'X-Polluted: {"a":1}']),
    );
    expect(r.ec).toBeNull();
    expect(parseHead(r.wire).status).toBe(101);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf({})).toBe(Object.prototype);
    expect(Object.keys(Object.prototype)).toEqual([]);
    // The fields are readable as data.
    const parsed = new RequestType();
    parsed.fields.insert('__proto__', 'polluted');
    expect(parsed.fields.get('__proto__')).toBe('polluted');
    expect(parsed.fields.has('constructor')).toBe(false);
  });

  it('frames sent right behind the request are kept for the first read (fresh and bytes-already-read)', async () => {
    const masked = Buffer.from([0x81, 0x82, 1, 2, 3, 4, 0x68 ^ 1, 0x69 ^ 2]);
    for (const split of [0, 10, REQUEST_LEN, REQUEST_LEN + 3]) {
      const [a, b] = TestStream.pair();
      const server = new Stream(b);
      const all = Buffer.concat([request(good), masked]);
      await a.writeSome(all.subarray(split));
      if (split === 0) await server.asyncAccept();
      else await server.asyncAccept(all.subarray(0, split));
      const buf = new Uint8Array(8);
      const n = await server.asyncReadSome(buf);
      expect(Buffer.from(buf.subarray(0, n)).toString(), `split ${split}`).toBe('hi');
    }
  });

  it('a request already parsed (an HTTP server upgrade) is validated the same way', async () => {
    const [a, b] = TestStream.pair();
    const server = new Stream(b);
    const req = new RequestType();
    req.method = 'GET';
    req.target = '/';
    req.fields.insert('Host', 'x');
    req.fields.insert('Upgrade', 'websocket');
    req.fields.insert('Connection', 'Upgrade');
    req.fields.insert('Sec-WebSocket-Key', KEY_B64);
    req.fields.insert('Sec-WebSocket-Version', '7');
    const t = track();
    server.asyncAccept(req, t.handler);
    const [ec] = await t.result;
    expect(ec).toBe(error.badSecVersion);
    expect(parseHead(a.str('latin1')).status).toBe(426);
  });
});

/** Reads the client's upgrade request from the raw server side; returns its key. */
async function readRequest(raw: TestStream): Promise<string> {
  let text = '';
  for (let i = 0; i < 1000 && !text.includes('\r\n\r\n'); i++) {
    const [ec, data] = await readOnce(raw);
    if (ec) throw new Error(String(ec));
    text += data.toString('latin1');
  }
  const m = /sec-websocket-key: *(\S+)/i.exec(text);
  return m?.[1] ?? '';
}

/** RFC 6455 §4.2.2, computed here independently of the code under test. */
function acceptFor(key: string): string {
  return createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
}

async function handshakeAgainst(respond: (accept: string) => string) {
  const [a, b] = TestStream.pair();
  const client = new Stream(a);
  const res = new ResponseType();
  const t = track();
  client.asyncHandshake('example.com', '/chat', res, t.handler);
  const key = await readRequest(b);
  await b.writeSome(Buffer.from(respond(acceptFor(key)), 'latin1'));
  const [ec] = await t.result;
  await settle(3);
  return { ec, calls: t.calls(), client, res };
}

const head = (lines: string[]) => `${lines.join('\r\n')}\r\n\r\n`;
const ok = (accept: string) => [
  'HTTP/1.1 101 Switching Protocols',
  'Upgrade: websocket',
  'Connection: Upgrade',
  `Sec-WebSocket-Accept: ${accept}`,
];

describe('asyncHandshake validates the 101 response', () => {
  const cases: Array<[string, (accept: string) => string, ErrorCode]> = [
    [
      'upgradeDeclined (400)',
      () => head(['HTTP/1.1 400 Bad Request', 'Content-Length: 0']),
      error.upgradeDeclined,
    ],
    ['upgradeDeclined (200)', () => head(['HTTP/1.1 200 OK', 'Content-Length: 0']), error.upgradeDeclined],
    [
      'badHttpVersion',
      (k) => head(['HTTP/1.0 101 Switching Protocols', ...ok(k).slice(1)]),
      error.badHttpVersion,
    ],
    ['noConnection', (k) => head(ok(k).filter((l) => !l.startsWith('Connection'))), error.noConnection],
    [
      'noConnectionUpgrade',
      (k) => head([...ok(k).filter((l) => !l.startsWith('Connection')), 'Connection: close']),
      error.noConnectionUpgrade,
    ],
    ['noUpgrade', (k) => head(ok(k).filter((l) => !l.startsWith('Upgrade'))), error.noUpgrade],
    [
      'noUpgradeWebsocket',
      (k) => head([...ok(k).filter((l) => !l.startsWith('Upgrade')), 'Upgrade: h2c']),
      error.noUpgradeWebsocket,
    ],
    [
      'noSecAccept',
      (k) => head(ok(k).filter((l) => !l.startsWith('Sec-WebSocket-Accept'))),
      error.noSecAccept,
    ],
    [
      'badSecAccept',
      (k) => head([...ok(k).slice(0, 3), `Sec-WebSocket-Accept: ${acceptFor('another key')}`]),
      error.badSecAccept,
    ],
    ['badHttpResponse (garbage)', () => 'SSH-2.0-OpenSSH\r\n\r\n', error.badHttpResponse],
    ['headerLimit', (k) => head([...ok(k), `X-Big: ${'b'.repeat(9000)}`]), error.headerLimit],
  ];
  for (const [name, respond, ec] of cases) {
    it(name, async () => {
      const r = await handshakeAgainst(respond);
      expect(String(r.ec)).toBe(String(ec));
      expect(r.ec).toBe(ec);
      expect(condition.handshakeFailed.matches(r.ec)).toBe(true);
      expect(r.calls).toBe(1);
      expect(r.client.isOpen()).toBe(false);
    });
  }

  it('the response is handed back, also when the upgrade is declined', async () => {
    const r = await handshakeAgainst(() =>
      head(['HTTP/1.1 403 Forbidden', 'Content-Length: 0', 'X-Reason: not you']),
    );
    expect(r.ec).toBe(error.upgradeDeclined);
    expect(r.res.status).toBe(403);
    expect(r.res.fields.get('x-reason')).toBe('not you');
  });

  it('a valid 101 with frames right behind it: the frames are read after the handshake', async () => {
    const r = await handshakeAgainst((k) => `${head(ok(k))}\x81\x02hi`);
    expect(r.ec).toBeNull();
    expect(r.client.isOpen()).toBe(true);
    const buf = new Uint8Array(8);
    const n = await r.client.asyncReadSome(buf);
    expect(Buffer.from(buf.subarray(0, n)).toString()).toBe('hi');
  });

  it('a host or target that cannot go in a request head is an argument error, reported through post', async () => {
    for (const [host, target] of [
      ['evil\r\nX-Injected: 1', '/'],
      ['example.com', '/a b HTTP/1.1\r\nX-Injected: 1'],
      ['example.com', '/\n'],
    ] as const) {
      const [a, b] = TestStream.pair();
      const client = new Stream(a);
      let returned = false;
      let inline = false;
      const t = track();
      client.asyncHandshake(host, target, (ec: ErrorCode | null) => {
        inline = !returned;
        t.handler(ec);
      });
      returned = true;
      const [ec] = await t.result;
      expect(String(ec)).toBe('net.invalidArgument');
      expect(inline).toBe(false);
      await settle(3);
      expect(t.calls()).toBe(1);
      expect(b.str()).toBe('');
      expect(client.isOpen()).toBe(false);
    }
  });

  it('the request sent is a valid RFC 6455 upgrade with a fresh 16-byte key', async () => {
    const keys = new Set<string>();
    for (let i = 0; i < 3; i++) {
      const [a, b] = TestStream.pair();
      const client = new Stream(a);
      const t = track();
      client.asyncHandshake('example.com:8080', '/path?q=1', t.handler);
      let text = '';
      for (let j = 0; j < 100 && !text.includes('\r\n\r\n'); j++)
        text += (await readOnce(b))[1].toString('latin1');
      expect(text.startsWith('GET /path?q=1 HTTP/1.1\r\n')).toBe(true);
      expect(text).toMatch(/\r\nHost: example\.com:8080\r\n/i);
      expect(text).toMatch(/\r\nUpgrade: websocket\r\n/i);
      expect(text).toMatch(/\r\nConnection: upgrade\r\n/i);
      expect(text).toMatch(/\r\nSec-WebSocket-Version: 13\r\n/i);
      const key = /sec-websocket-key: *(\S+)/i.exec(text)?.[1] ?? '';
      expect(Buffer.from(key, 'base64').length).toBe(16);
      keys.add(key);
      b.close();
      await t.result;
    }
    expect(keys.size).toBe(3);
  });
});
