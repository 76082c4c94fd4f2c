import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  buildOffer,
  defaultPmdOptions,
  localParams,
  negotiateServer,
  type PmdConfig,
  type PmdOptions,
  parseExtensions,
  validateClientResponse,
} from '../src/detail/pmd.js';

const opts = (o: Partial<PmdOptions> = {}): PmdOptions => ({
  ...defaultPmdOptions,
  client: true,
  server: true,
  ...o,
});

describe('parseExtensions (RFC 6455 §9.1)', () => {
  it('parses lists, params, quoted values and whitespace', () => {
    expect(
      parseExtensions(
        'permessage-deflate; client_max_window_bits, Foo ;a=1; b="10" ,, x-webkit-deflate-frame',
      ),
    ).toEqual([
      { name: 'permessage-deflate', params: [['client_max_window_bits', null]] },
      {
        name: 'foo',
        params: [
          ['a', '1'],
          ['b', '10'],
        ],
      },
      { name: 'x-webkit-deflate-frame', params: [] },
    ]);
    expect(parseExtensions('')).toEqual([]);
    expect(parseExtensions('a; b="\\1\\0"')).toEqual([{ name: 'a', params: [['b', '10']] }]);
  });

  it('rejects syntax errors', () => {
    for (const bad of [
      'a;',
      'a; =1',
      'a; b=',
      'a; b="x y"',
      'a; b="unterminated',
      'a b',
      'a; b=1 2',
      '"a"',
      'a;;b',
    ]) {
      expect(parseExtensions(bad), bad).toBeNull();
    }
  });
});

describe('buildOffer', () => {
  it('offers like Beast', () => {
    expect(buildOffer(opts())).toBe('permessage-deflate; client_max_window_bits');
    expect(
      buildOffer(
        opts({
          serverMaxWindowBits: 10,
          clientMaxWindowBits: 9,
          serverNoContextTakeover: true,
          clientNoContextTakeover: true,
        }),
      ),
    ).toBe(
      'permessage-deflate; server_max_window_bits=10; server_no_context_takeover; client_no_context_takeover; client_max_window_bits=9',
    );
    expect(buildOffer(opts({ client: false }))).toBeNull();
    expect(() => buildOffer(opts({ clientMaxWindowBits: 16 }))).toThrow(RangeError);
  });
});

describe('negotiateServer (RFC 7692 §5.1, §7.1)', () => {
  it('accepts a plain offer', () => {
    expect(negotiateServer('permessage-deflate', opts())).toEqual({
      accepted: {
        serverMaxWindowBits: 15,
        clientMaxWindowBits: 15,
        serverNoContextTakeover: false,
        clientNoContextTakeover: false,
      },
      responseHeader: 'permessage-deflate',
    });
  });

  it('declines when disabled or not offered', () => {
    expect(negotiateServer('permessage-deflate', opts({ server: false })).accepted).toBeNull();
    expect(negotiateServer(undefined, opts()).accepted).toBeNull();
    expect(negotiateServer('x-foo', opts()).accepted).toBeNull();
    expect(negotiateServer('permessage-deflate; =', opts()).accepted).toBeNull();
  });

  it('declines a bad offer and takes the next one', () => {
    for (const bad of [
      'permessage-deflate; unknown',
      'permessage-deflate; server_no_context_takeover; server_no_context_takeover',
      'permessage-deflate; server_max_window_bits=16',
      'permessage-deflate; server_max_window_bits=7',
      'permessage-deflate; server_max_window_bits=010',
      'permessage-deflate; server_max_window_bits',
      'permessage-deflate; client_max_window_bits=abc',
      'permessage-deflate; client_no_context_takeover=1',
    ]) {
      expect(negotiateServer(bad, opts()).accepted, bad).toBeNull();
      const r = negotiateServer(`${bad}, permessage-deflate; client_max_window_bits`, opts());
      expect(r.accepted, bad).not.toBeNull();
    }
  });

  it('honours the client limits and states its own', () => {
    const r = negotiateServer(
      'permessage-deflate; server_max_window_bits=10; client_max_window_bits=12; server_no_context_takeover',
      opts({ serverMaxWindowBits: 11, clientMaxWindowBits: 13, clientNoContextTakeover: true }),
    );
    expect(r).toEqual({
      accepted: {
        serverMaxWindowBits: 10,
        clientMaxWindowBits: 12,
        serverNoContextTakeover: true,
        clientNoContextTakeover: true,
      },
      responseHeader:
        'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12',
    });
  });

  it('limits the client window only if the client offered client_max_window_bits', () => {
    expect(negotiateServer('permessage-deflate', opts({ clientMaxWindowBits: 10 })).accepted).toBeNull();
    const r = negotiateServer(
      'permessage-deflate; client_max_window_bits',
      opts({ clientMaxWindowBits: 10 }),
    );
    expect(r.accepted?.clientMaxWindowBits).toBe(10);
    expect(r.accepted && r.responseHeader).toBe('permessage-deflate; client_max_window_bits=10');
  });
});

describe('validateClientResponse', () => {
  it('no header or an empty one: no compression', () => {
    expect(validateClientResponse(undefined, opts())).toBeNull();
    expect(validateClientResponse('', opts())).toBeNull();
  });

  it('fails on responses the client must reject', () => {
    const o = opts({ serverMaxWindowBits: 12, serverNoContextTakeover: true, clientMaxWindowBits: 11 });
    for (const bad of [
      'x-foo',
      'permessage-deflate, permessage-deflate',
      'permessage-deflate; server_max_window_bits=12; server_no_context_takeover; foo',
      'permessage-deflate; server_max_window_bits=13; server_no_context_takeover',
      'permessage-deflate; server_no_context_takeover',
      'permessage-deflate; server_max_window_bits=12',
      'permessage-deflate; server_max_window_bits=12; server_no_context_takeover; client_max_window_bits',
      'permessage-deflate; server_max_window_bits=12; server_no_context_takeover; client_max_window_bits=12',
      'permessage-deflate; server_max_window_bits=12; server_max_window_bits=12; server_no_context_takeover',
      'permessage-deflate; server_max_window_bits=12;',
    ]) {
      expect(validateClientResponse(bad, o), bad).toBe('badExtension');
    }
    expect(validateClientResponse('permessage-deflate', opts({ client: false }))).toBe('badExtension');
    expect(
      validateClientResponse('permessage-deflate; server_max_window_bits=9; server_no_context_takeover', o),
    ).toEqual({
      serverMaxWindowBits: 9,
      clientMaxWindowBits: 11,
      serverNoContextTakeover: true,
      clientNoContextTakeover: false,
    });
  });

  it('local params: 8-bit windows become 9 for zlib', () => {
    const c: PmdConfig = {
      serverMaxWindowBits: 8,
      clientMaxWindowBits: 12,
      serverNoContextTakeover: true,
      clientNoContextTakeover: false,
    };
    expect(localParams(c, 'server')).toEqual({
      deflateWindowBits: 9,
      inflateWindowBits: 12,
      deflateNoContextTakeover: true,
      inflateNoContextTakeover: false,
    });
    expect(localParams(c, 'client')).toEqual({
      deflateWindowBits: 12,
      inflateWindowBits: 9,
      deflateNoContextTakeover: false,
      inflateNoContextTakeover: true,
    });
  });

  it('round-trip: any client offer accepted by any server validates to the same config (fast-check)', () => {
    const side = fc.record({
      serverMaxWindowBits: fc.integer({ min: 8, max: 15 }),
      clientMaxWindowBits: fc.integer({ min: 8, max: 15 }),
      serverNoContextTakeover: fc.boolean(),
      clientNoContextTakeover: fc.boolean(),
    });
    fc.assert(
      fc.property(side, side, (c, s) => {
        const clientOpts = opts(c);
        const serverOpts = opts(s);
        const offer = buildOffer(clientOpts)!;
        const r = negotiateServer(offer, serverOpts);
        // The client always offers client_max_window_bits, so the server always accepts.
        expect(r.accepted).not.toBeNull();
        if (r.accepted === null) return;
        const config = validateClientResponse(r.responseHeader, clientOpts);
        expect(config).toEqual(r.accepted);
        // Every limit either side asked for holds.
        expect(r.accepted.serverMaxWindowBits).toBeLessThanOrEqual(
          Math.min(c.serverMaxWindowBits, s.serverMaxWindowBits),
        );
        expect(r.accepted.clientMaxWindowBits).toBeLessThanOrEqual(
          Math.min(c.clientMaxWindowBits, s.clientMaxWindowBits),
        );
        if (c.serverNoContextTakeover || s.serverNoContextTakeover)
          expect(r.accepted.serverNoContextTakeover).toBe(true);
        if (c.clientNoContextTakeover || s.clientNoContextTakeover)
          expect(r.accepted.clientNoContextTakeover).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
