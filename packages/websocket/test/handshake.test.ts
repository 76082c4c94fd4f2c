import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  buildRequest,
  buildResponse,
  computeAccept,
  generateKey,
  HttpHeadParser,
  isValidKey,
  makeRefusalResponse,
  makeUpgradeRequest,
  makeUpgradeResponse,
  RequestType,
  type ResponseType,
  serializeResponse,
  validateUpgradeRequest,
  validateUpgradeResponse,
} from '../src/detail/handshake.js';
import { Fields, field, listHasToken } from '../src/detail/http-fields.js';

const crlf = (...lines: string[]): Buffer => Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');

const validRequest = crlf(
  'GET /chat HTTP/1.1',
  'Host: server.example.com',
  'Upgrade: websocket',
  'Connection: Upgrade',
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
  'Origin: http://example.com',
  'Sec-WebSocket-Protocol: chat, superchat',
  'Sec-WebSocket-Version: 13',
);

function parseRequest(data: Uint8Array): HttpHeadParser<'request'> {
  const p = new HttpHeadParser('request');
  p.feed(data);
  return p;
}

describe('keys (RFC 6455 §4)', () => {
  it('computes the §1.3 example accept value', () => {
    expect(computeAccept('dGhlIHNhbXBsZSBub25jZQ==')).toBe('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  });

  it('generates valid 16-byte keys', () => {
    for (let i = 0; i < 50; i++) {
      const k = generateKey();
      expect(isValidKey(k)).toBe(true);
      expect(Buffer.from(k, 'base64').length).toBe(16);
    }
    expect(isValidKey('dGhlIHNhbXBsZSBub25jZQ=')).toBe(false);
    expect(isValidKey('dGhlIHNhbXBsZSBub25jZQ')).toBe(false);
    expect(isValidKey('dGhlIHNhbXBsZSBub25jZSE=')).toBe(false); // 17 bytes
    expect(isValidKey('dGhlIHNhbXBsZSBub25j====')).toBe(false);
    expect(isValidKey('')).toBe(false);
  });
});

describe('HttpHeadParser', () => {
  it('parses the RFC 6455 §1.2 client request', () => {
    const p = parseRequest(validRequest);
    expect(p.error).toBeNull();
    expect(p.done).toBe(true);
    const req = p.result!;
    expect([req.method, req.target, req.version]).toEqual(['GET', '/chat', 11]);
    expect(req.get('host')).toBe('server.example.com');
    expect(req.get('SEC-WEBSOCKET-PROTOCOL')).toBe('chat, superchat');
    expect(validateUpgradeRequest(req)).toBeNull();
  });

  it('reports how many bytes were the head; leftover bytes are not consumed', () => {
    const res = crlf('HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'Connection: Upgrade');
    const data = Buffer.concat([res, Buffer.from([0x81, 0x02, 0x68, 0x69])]);
    const p = new HttpHeadParser('response');
    expect(p.feed(data)).toBe(res.length);
    expect(p.done).toBe(true);
    expect(p.result!.status).toBe(101);
    expect(p.result!.reason).toBe('Switching Protocols');
    expect(p.feed(data)).toBe(0);
    // Split: the head ends in the second chunk.
    const q = new HttpHeadParser('response');
    expect(q.feed(data, 0, 10)).toBe(10);
    expect(q.feed(data, 10)).toBe(res.length - 10);
  });

  it('stores __proto__ and constructor as ordinary fields and joins repeated names', () => {
    const p = parseRequest(
      crlf(
        'GET / HTTP/1.1',
        '__proto__: polluted',
        'constructor: x',
        'X-A: 1',
        'x-a: 2',
        'Cookie: a=1',
        'cookie: b=2',
      ),
    );
    const req = p.result!;
    expect(req.get('__proto__')).toBe('polluted');
    expect(req.get('constructor')).toBe('x');
    expect(req.get('x-a')).toBe('1, 2');
    expect(req.get('cookie')).toBe('a=1, b=2');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf({})).toBe(Object.prototype);
    expect([...req.fields.entries()].map(([n]) => n)).toEqual(['__proto__', 'constructor', 'X-A', 'Cookie']);
  });

  it('trims optional whitespace, keeps empty values and obs-text', () => {
    const p = parseRequest(crlf('GET / HTTP/1.1', 'A:   b c \t', 'Empty:', 'T: caf\xe9'));
    expect(p.result!.get('a')).toBe('b c');
    expect(p.result!.get('empty')).toBe('');
    expect(p.result!.get('t')).toBe('caf\xe9');
  });

  for (const [name, data] of [
    ['obs-fold', crlf('GET / HTTP/1.1', 'A: b', ' continued')],
    ['space before colon', crlf('GET / HTTP/1.1', 'A : b')],
    ['bad name char', crlf('GET / HTTP/1.1', 'A(b): c')],
    ['no colon', crlf('GET / HTTP/1.1', 'garbage')],
    ['bare LF', Buffer.from('GET / HTTP/1.1\nHost: a\n\n')],
    ['bare LF in the middle', Buffer.from('GET / HTTP/1.1\r\nHost: a\n\r\n\r\n')],
    ['bare CR in a value', crlf('GET / HTTP/1.1', 'A: b\rc')],
    ['NUL in a value', crlf('GET / HTTP/1.1', 'A: b\0c')],
    ['leading empty line', Buffer.from('\r\nGET / HTTP/1.1\r\n\r\n')],
    ['bad request line', crlf('GET  / HTTP/1.1')],
    ['lowercase version', crlf('GET / http/1.1')],
    ['target with a space', crlf('GET /a b HTTP/1.1')],
  ] as const) {
    it(`rejects ${name}`, () => {
      const p = parseRequest(data);
      expect(p.error).toBe('badHttpRequest');
      expect(p.done).toBe(false);
    });
  }

  it('rejects bad status lines', () => {
    for (const line of ['HTTP/1.1 1010 x', 'HTTP/1.1 10', 'HTTP/1.1101 x', 'HTTPS/1.1 101 x']) {
      const p = new HttpHeadParser('response');
      p.feed(crlf(line));
      expect(p.error, line).toBe('badHttpResponse');
    }
    const ok = new HttpHeadParser('response');
    ok.feed(crlf('HTTP/1.1 101'));
    expect(ok.result!.reason).toBe('');
  });

  it('enforces the head size limit (default 8 KiB) and the field count limit (default 100)', () => {
    const big = new HttpHeadParser('request');
    const chunk = Buffer.from(`GET / HTTP/1.1\r\nX: ${'a'.repeat(9000)}`);
    expect(big.feed(chunk)).toBe(8192);
    expect(big.error).toBe('headerLimit');
    const exactly = new HttpHeadParser('request', { headLimit: validRequest.length });
    exactly.feed(validRequest);
    expect(exactly.done).toBe(true);
    const tooSmall = new HttpHeadParser('request', { headLimit: validRequest.length - 1 });
    tooSmall.feed(validRequest);
    expect(tooSmall.error).toBe('headerLimit');
    const fields = (n: number) => Array.from({ length: n }, (_, i) => `F${i}: v`);
    const ok = parseRequest(crlf('GET / HTTP/1.1', ...fields(100)));
    expect(ok.done).toBe(true);
    expect(ok.result!.fields.size).toBe(100);
    expect(parseRequest(crlf('GET / HTTP/1.1', ...fields(101))).error).toBe('tooManyFields');
  });

  it('gives the same result for any chunking (fast-check)', () => {
    const heads = fc.constantFrom(
      validRequest,
      Buffer.concat([validRequest, Buffer.from('\x81\x00trailing')]),
      crlf('GET / HTTP/1.1', 'A: b', ' fold'),
      Buffer.from('GET / HTTP/1.1\r\nA: b\n\r\n'),
      crlf('GET / HTTP/1.1', `X: ${'y'.repeat(8200)}`),
    );
    fc.assert(
      fc.property(heads, fc.array(fc.nat(), { maxLength: 8 }), (data, cuts) => {
        const whole = new HttpHeadParser('request');
        const wholeConsumed = whole.feed(data);
        const points = [...new Set(cuts.map((c) => c % (data.length + 1)))].sort((a, b) => a - b);
        const split = new HttpHeadParser('request');
        let consumed = 0;
        let prev = 0;
        for (const p of [...points, data.length]) {
          consumed += split.feed(data, prev, p);
          prev = p;
        }
        expect(split.error).toBe(whole.error);
        expect(split.done).toBe(whole.done);
        if (whole.done) {
          expect(consumed).toBe(wholeConsumed);
          expect([...split.result!.fields]).toEqual([...whole.result!.fields]);
          expect(split.result!.target).toBe(whole.result!.target);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('validateUpgradeRequest (RFC 6455 §4.2.1, Beast order)', () => {
  const base = (): RequestType => parseRequest(validRequest).result!;
  const cases: Array<[string, (r: RequestType) => void, string]> = [
    ['HTTP/1.0', (r) => (r.version = 10), 'badHttpVersion'],
    ['POST', (r) => (r.method = 'POST'), 'badMethod'],
    ['no Host', (r) => r.fields.erase('host'), 'noHost'],
    ['no Connection', (r) => r.fields.erase('connection'), 'noConnection'],
    ['Connection: keep-alive', (r) => r.set('Connection', 'keep-alive'), 'noConnectionUpgrade'],
    ['no Upgrade', (r) => r.fields.erase('upgrade'), 'noUpgrade'],
    ['Upgrade: h2c', (r) => r.set('Upgrade', 'h2c'), 'noUpgradeWebsocket'],
    ['no key', (r) => r.fields.erase(field.secWebsocketKey), 'noSecKey'],
    ['bad key', (r) => r.set(field.secWebsocketKey, 'short'), 'badSecKey'],
    ['no version', (r) => r.fields.erase(field.secWebsocketVersion), 'noSecVersion'],
    ['version 8', (r) => r.set(field.secWebsocketVersion, '8'), 'badSecVersion'],
  ];
  for (const [name, mutate, error] of cases) {
    it(name, () => {
      const r = base();
      mutate(r);
      expect(validateUpgradeRequest(r)).toBe(error);
    });
  }

  it('accepts token lists case-insensitively', () => {
    const r = base();
    r.set('Connection', 'keep-alive, UPGRADE');
    r.set('Upgrade', 'WebSocket');
    expect(validateUpgradeRequest(r)).toBeNull();
    expect(listHasToken('keep-alive,upgrade ', 'Upgrade')).toBe(true);
    expect(listHasToken('upgraded', 'upgrade')).toBe(false);
  });

  it('refusals: 426 with Sec-WebSocket-Version: 13 for version errors, else 400', () => {
    const r426 = makeRefusalResponse('badSecVersion');
    expect(r426.status).toBe(426);
    expect(r426.get(field.secWebsocketVersion)).toBe('13');
    expect(makeRefusalResponse('noHost').status).toBe(400);
    const bytes = serializeResponse(r426).toString('latin1');
    expect(bytes.startsWith('HTTP/1.1 426 Upgrade Required\r\n')).toBe(true);
    expect(bytes).toContain('Content-Length: ');
  });
});

describe('validateUpgradeResponse (RFC 6455 §4.1)', () => {
  const key = 'dGhlIHNhbXBsZSBub25jZQ==';
  const base = (): ResponseType => {
    const p = new HttpHeadParser('response');
    p.feed(
      crlf(
        'HTTP/1.1 101 Switching Protocols',
        'Upgrade: websocket',
        'Connection: Upgrade',
        'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=',
      ),
    );
    return p.result!;
  };
  it('accepts the §1.2 example', () => {
    expect(validateUpgradeResponse(base(), key)).toBeNull();
  });
  const cases: Array<[string, (r: ResponseType) => void, string]> = [
    ['200', (r) => (r.status = 200), 'upgradeDeclined'],
    ['HTTP/1.0', (r) => (r.version = 10), 'badHttpVersion'],
    ['no Connection', (r) => r.fields.erase('connection'), 'noConnection'],
    ['Connection: close', (r) => r.set('connection', 'close'), 'noConnectionUpgrade'],
    ['no Upgrade', (r) => r.fields.erase('upgrade'), 'noUpgrade'],
    ['Upgrade: foo', (r) => r.set('upgrade', 'foo'), 'noUpgradeWebsocket'],
    ['no accept', (r) => r.fields.erase(field.secWebsocketAccept), 'noSecAccept'],
    ['wrong accept', (r) => r.set(field.secWebsocketAccept, computeAccept('x')), 'badSecAccept'],
  ];
  for (const [name, mutate, error] of cases) {
    it(name, () => {
      const r = base();
      mutate(r);
      expect(validateUpgradeResponse(r, key)).toBe(error);
    });
  }
});

describe('builders', () => {
  it('builds a request that parses back and validates', () => {
    const key = generateKey();
    const bytes = buildRequest({
      host: 'example.com:8080',
      target: '/ws?x=1',
      key,
      headers: [[field.userAgent, 'tsio']],
    });
    expect(bytes.toString('latin1')).toBe(
      `GET /ws?x=1 HTTP/1.1\r\nHost: example.com:8080\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\nUser-Agent: tsio\r\n\r\n`,
    );
    const req = parseRequest(bytes).result!;
    expect(validateUpgradeRequest(req)).toBeNull();
    const res = makeUpgradeResponse(req);
    const p = new HttpHeadParser('response');
    p.feed(serializeResponse(res));
    expect(validateUpgradeResponse(p.result!, key)).toBeNull();
  });

  it('builds responses, and refuses header injection', () => {
    expect(buildResponse(101, 'Switching Protocols', [['Upgrade', 'websocket']]).toString()).toBe(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n',
    );
    expect(buildResponse(400, 'Bad Request', [], 'no').toString()).toBe(
      'HTTP/1.1 400 Bad Request\r\nContent-Length: 2\r\n\r\nno',
    );
    expect(() => makeUpgradeRequest({ host: 'a\r\nX: y', target: '/', key: generateKey() })).toThrow(
      TypeError,
    );
    expect(() => new Fields().set('Bad Name', 'v')).toThrow(TypeError);
    const req = new RequestType().set(field.userAgent, 'x');
    expect(req.get('user-agent')).toBe('x');
  });

  it('Fields: case-insensitive, insertion-ordered, set replaces in place', () => {
    const f = new Fields([
      ['A', '1'],
      ['b', '2'],
    ]);
    f.set('a', '3');
    f.insert('B', '4');
    expect([...f]).toEqual([
      ['A', '3'],
      ['b', '2, 4'],
    ]);
    expect(f.has('__proto__')).toBe(false);
    f.set('__proto__', 'p');
    expect(f.get('__proto__')).toBe('p');
    expect(f.erase('A')).toBe(true);
    expect(f.erase('A')).toBe(false);
    expect(f.size).toBe(2);
  });
});
