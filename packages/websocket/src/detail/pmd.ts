/**
 * permessage-deflate negotiation (RFC 7692 §5, §7) over the
 * `Sec-WebSocket-Extensions` header (RFC 6455 §9.1).
 *
 * Only the negotiation lives here; compression itself is the stream's job.
 * `PmdOptions` mirrors Beast's `websocket::permessage_deflate`.
 */
import type { WsErrorName } from './error-names.js';

/** Beast's `permessage_deflate` options. */
export interface PmdOptions {
  /** Offer permessage-deflate as a client. */
  client: boolean;
  /** Accept permessage-deflate as a server. */
  server: boolean;
  /** Largest LZ77 window (as log2 bytes, 8–15) the server may use. */
  serverMaxWindowBits: number;
  /** Largest LZ77 window (8–15) the client may use. */
  clientMaxWindowBits: number;
  /** Ask that the server reset its compression context after each message. */
  serverNoContextTakeover: boolean;
  /** Ask that the client reset its compression context after each message. */
  clientNoContextTakeover: boolean;
  /** zlib compression level, 0–9. */
  compLevel: number;
  /** zlib memLevel, 1–9. */
  memLevel: number;
  /** Messages smaller than this are sent uncompressed. */
  msgSizeThreshold: number;
}

export const defaultPmdOptions: Readonly<PmdOptions> = Object.freeze({
  client: false,
  server: false,
  serverMaxWindowBits: 15,
  clientMaxWindowBits: 15,
  serverNoContextTakeover: false,
  clientNoContextTakeover: false,
  compLevel: 8,
  memLevel: 4,
  msgSizeThreshold: 0,
});

/** The negotiated parameters of one connection (both directions). */
export interface PmdConfig {
  serverMaxWindowBits: number;
  clientMaxWindowBits: number;
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
}

/** One element of an extension list: a name and its parameters (value null when absent). */
export interface Extension {
  name: string;
  params: Array<[string, string | null]>;
}

const TCHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;

/**
 * Parses a `Sec-WebSocket-Extensions` value (RFC 6455 §9.1):
 *   extension-list = 1#( extension-token *( ";" extension-param ) )
 *   extension-param = token [ "=" ( token / quoted-string ) ]
 * A quoted value must, unescaped, be a token too (§9.1). Names are
 * lowercased (tokens are case-insensitive); values are kept as written.
 * Returns null on a syntax error. Empty list elements are skipped (RFC 9110 §5.6.1).
 */
export function parseExtensions(header: string): Extension[] | null {
  const out: Extension[] = [];
  const n = header.length;
  let i = 0;
  const ows = (): void => {
    while (i < n && (header[i] === ' ' || header[i] === '\t')) i++;
  };
  const token = (): string | null => {
    const s = i;
    while (i < n && TCHAR.test(header[i]!)) i++;
    return i > s ? header.slice(s, i) : null;
  };
  for (;;) {
    ows();
    if (i >= n) break;
    if (header[i] === ',') {
      i++;
      continue;
    }
    const name = token();
    if (name === null) return null;
    const ext: Extension = { name: name.toLowerCase(), params: [] };
    ows();
    while (i < n && header[i] === ';') {
      i++;
      ows();
      const p = token();
      if (p === null) return null;
      ows();
      let value: string | null = null;
      if (header[i] === '=') {
        i++;
        ows();
        if (header[i] === '"') {
          i++;
          let v = '';
          for (;;) {
            if (i >= n) return null;
            const c = header[i++]!;
            if (c === '"') break;
            if (c === '\\') {
              if (i >= n) return null;
              v += header[i++]!;
            } else v += c;
          }
          if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(v)) return null;
          value = v;
        } else {
          value = token();
          if (value === null) return null;
        }
        ows();
      }
      ext.params.push([p.toLowerCase(), value]);
    }
    out.push(ext);
    if (i >= n) break;
    if (header[i] !== ',') return null;
    i++;
  }
  return out;
}

/** §7.1.2: window bits are a decimal integer 8–15 without leading zeros. */
function windowBits(v: string | null): number | null {
  return v !== null && /^(?:8|9|1[0-5])$/.test(v) ? Number(v) : null;
}

/** Parameters of one permessage-deflate element, or null if any is unknown, duplicated or malformed (§7, §5.1). */
interface PmdParams {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number | null;
  /** null: absent; true: present without a value (offer only); number: with a value. */
  clientMaxWindowBits: number | true | null;
}

function readParams(ext: Extension): PmdParams | null {
  const r: PmdParams = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: null,
    clientMaxWindowBits: null,
  };
  const seen = new Set<string>();
  for (const [name, value] of ext.params) {
    if (seen.has(name)) return null;
    seen.add(name);
    switch (name) {
      case 'server_no_context_takeover':
        if (value !== null) return null;
        r.serverNoContextTakeover = true;
        break;
      case 'client_no_context_takeover':
        if (value !== null) return null;
        r.clientNoContextTakeover = true;
        break;
      case 'server_max_window_bits': {
        const b = windowBits(value);
        if (b === null) return null;
        r.serverMaxWindowBits = b;
        break;
      }
      case 'client_max_window_bits': {
        if (value === null) r.clientMaxWindowBits = true;
        else {
          const b = windowBits(value);
          if (b === null) return null;
          r.clientMaxWindowBits = b;
        }
        break;
      }
      default:
        return null;
    }
  }
  return r;
}

function checkOptions(opts: PmdOptions): void {
  for (const b of [opts.serverMaxWindowBits, opts.clientMaxWindowBits]) {
    if (!Number.isInteger(b) || b < 8 || b > 15) throw new RangeError(`window bits ${b} not in 8..15`);
  }
}

/**
 * The client's offer (§5.1, §7.1). Like Beast, it always announces
 * `client_max_window_bits` (with our limit if below 15) so that the server
 * may limit our window, and asks for the server limits and no-context-takeover
 * settings that are configured. Returns null when `opts.client` is off.
 */
export function buildOffer(opts: PmdOptions): string | null {
  if (!opts.client) return null;
  checkOptions(opts);
  let s = 'permessage-deflate';
  if (opts.serverMaxWindowBits < 15) s += `; server_max_window_bits=${opts.serverMaxWindowBits}`;
  if (opts.serverNoContextTakeover) s += '; server_no_context_takeover';
  if (opts.clientNoContextTakeover) s += '; client_no_context_takeover';
  s +=
    opts.clientMaxWindowBits < 15
      ? `; client_max_window_bits=${opts.clientMaxWindowBits}`
      : '; client_max_window_bits';
  return s;
}

/** The response header value for an accepted configuration (§7.1). */
export function formatResponse(c: PmdConfig, includeClientMaxWindowBits: boolean): string {
  let s = 'permessage-deflate';
  if (c.serverNoContextTakeover) s += '; server_no_context_takeover';
  if (c.clientNoContextTakeover) s += '; client_no_context_takeover';
  if (c.serverMaxWindowBits < 15) s += `; server_max_window_bits=${c.serverMaxWindowBits}`;
  if (includeClientMaxWindowBits) s += `; client_max_window_bits=${c.clientMaxWindowBits}`;
  return s;
}

export type ServerNegotiation = { accepted: PmdConfig; responseHeader: string } | { accepted: null };

/**
 * Server side (§5.1, §7.1): picks the first acceptable permessage-deflate
 * offer in the client's `Sec-WebSocket-Extensions` (`offerHeader`, repeated
 * headers joined with ", "). An offer with an unknown, duplicated or invalid
 * parameter is declined and the next one tried (§5.1). An offer is also
 * declined when we want to limit the client's window (`clientMaxWindowBits`
 * < 15) but the client did not offer `client_max_window_bits`: a server may
 * not send that parameter unasked (§7.1.2.2).
 */
export function negotiateServer(offerHeader: string | undefined, opts: PmdOptions): ServerNegotiation {
  if (!opts.server || offerHeader === undefined) return { accepted: null };
  checkOptions(opts);
  const exts = parseExtensions(offerHeader);
  if (exts === null) return { accepted: null };
  for (const ext of exts) {
    if (ext.name !== 'permessage-deflate') continue;
    const p = readParams(ext);
    if (p === null) continue;
    if (opts.clientMaxWindowBits < 15 && p.clientMaxWindowBits === null) continue;
    const config: PmdConfig = {
      // §7.1.2.1: we may use a window no larger than the client allows; we may always use a smaller one.
      serverMaxWindowBits: Math.min(p.serverMaxWindowBits ?? 15, opts.serverMaxWindowBits),
      clientMaxWindowBits: Math.min(
        typeof p.clientMaxWindowBits === 'number' ? p.clientMaxWindowBits : 15,
        opts.clientMaxWindowBits,
      ),
      // §7.1.1.1: an offered server_no_context_takeover must be honoured if accepted.
      serverNoContextTakeover: p.serverNoContextTakeover || opts.serverNoContextTakeover,
      // §7.1.1.2: the server may ask for client_no_context_takeover whether offered or not.
      clientNoContextTakeover: p.clientNoContextTakeover || opts.clientNoContextTakeover,
    };
    // Send client_max_window_bits only when the client offered it (§7.1.2.2) and there is a limit to state.
    const includeClient =
      p.clientMaxWindowBits !== null &&
      (typeof p.clientMaxWindowBits === 'number' || config.clientMaxWindowBits < 15);
    return { accepted: config, responseHeader: formatResponse(config, includeClient) };
  }
  return { accepted: null };
}

/**
 * Client side (§5.1, §7.1): checks the server's `Sec-WebSocket-Extensions`
 * against what `buildOffer(opts)` offered. Returns the negotiated config,
 * null if the server did not accept permessage-deflate, or `'badExtension'`
 * if the client must fail the connection: an extension we did not offer,
 * permessage-deflate twice, an unknown/duplicated/invalid parameter, a server
 * window larger than we allowed, or an omitted parameter we required.
 */
export function validateClientResponse(
  header: string | undefined,
  opts: PmdOptions,
): PmdConfig | null | WsErrorName {
  if (header === undefined) return null;
  const exts = parseExtensions(header);
  if (exts === null) return 'badExtension';
  if (exts.length === 0) return null;
  // RFC 6455 §9.1: a server may only accept extensions the client offered; we offer one.
  if (!opts.client || exts.length > 1 || exts[0]!.name !== 'permessage-deflate') return 'badExtension';
  const p = readParams(exts[0]!);
  if (p === null) return 'badExtension';
  // client_max_window_bits in a response must carry a value (§7.1.2.2).
  if (p.clientMaxWindowBits === true) return 'badExtension';
  if (p.serverMaxWindowBits !== null && p.serverMaxWindowBits > opts.serverMaxWindowBits)
    return 'badExtension';
  // §7.1.2.1 / §7.1.1.1: a server accepting our limits must confirm them.
  if (opts.serverMaxWindowBits < 15 && p.serverMaxWindowBits === null) return 'badExtension';
  if (opts.serverNoContextTakeover && !p.serverNoContextTakeover) return 'badExtension';
  if (typeof p.clientMaxWindowBits === 'number' && p.clientMaxWindowBits > opts.clientMaxWindowBits) {
    return 'badExtension';
  }
  return {
    serverMaxWindowBits: p.serverMaxWindowBits ?? 15,
    clientMaxWindowBits: p.clientMaxWindowBits ?? opts.clientMaxWindowBits,
    serverNoContextTakeover: p.serverNoContextTakeover,
    clientNoContextTakeover: p.clientNoContextTakeover || opts.clientNoContextTakeover,
  };
}

/** What one endpoint does with a negotiated config: its own deflate and inflate settings. */
export interface PmdLocalParams {
  /** zlib `windowBits` for our deflater (8 raised to 9, see below). */
  deflateWindowBits: number;
  /** zlib `windowBits` for our inflater. */
  inflateWindowBits: number;
  /** Reset the deflater after every message. */
  deflateNoContextTakeover: boolean;
  /** Reset the inflater after every message. */
  inflateNoContextTakeover: boolean;
}

/**
 * Our side of a negotiated config. zlib cannot produce raw deflate with an
 * 8-bit (256-byte) window (since zlib 1.2.9 it silently uses 9), so a
 * window of 8 is compressed with 9, as ws and others do. Strictly, a peer
 * that inflates with a 256-byte window could then meet a distance it cannot
 * resolve; in practice peers inflate with a larger window. Inflating with 9
 * instead of 8 is always safe (a larger window accepts everything).
 */
export function localParams(config: PmdConfig, role: 'client' | 'server'): PmdLocalParams {
  const mine = role === 'client' ? config.clientMaxWindowBits : config.serverMaxWindowBits;
  const theirs = role === 'client' ? config.serverMaxWindowBits : config.clientMaxWindowBits;
  return {
    deflateWindowBits: Math.max(9, mine),
    inflateWindowBits: Math.max(9, theirs),
    deflateNoContextTakeover:
      role === 'client' ? config.clientNoContextTakeover : config.serverNoContextTakeover,
    inflateNoContextTakeover:
      role === 'client' ? config.serverNoContextTakeover : config.clientNoContextTakeover,
  };
}
