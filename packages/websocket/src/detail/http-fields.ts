/**
 * HTTP header fields for the WebSocket upgrade (RFC 6455 §4, RFC 9110 §5).
 *
 * `field` holds the canonical spelling of the names the handshake uses, under
 * Beast's `http::field` enumerator names in camelCase, so that
 * `req.set(http::field::user_agent, ...)` ports as `req.set(field.userAgent, ...)`.
 *
 * `Fields` is a small case-insensitive, insertion-ordered field container.
 * Names are keyed by their lowercase form in a `Map`, so any name — including
 * `__proto__` or `constructor` — is an ordinary entry (no prototype pollution).
 */

export const field = {
  accept: 'Accept',
  authorization: 'Authorization',
  cacheControl: 'Cache-Control',
  connection: 'Connection',
  contentLength: 'Content-Length',
  contentType: 'Content-Type',
  cookie: 'Cookie',
  date: 'Date',
  host: 'Host',
  location: 'Location',
  origin: 'Origin',
  pragma: 'Pragma',
  secWebsocketAccept: 'Sec-WebSocket-Accept',
  secWebsocketExtensions: 'Sec-WebSocket-Extensions',
  secWebsocketKey: 'Sec-WebSocket-Key',
  secWebsocketProtocol: 'Sec-WebSocket-Protocol',
  secWebsocketVersion: 'Sec-WebSocket-Version',
  server: 'Server',
  setCookie: 'Set-Cookie',
  upgrade: 'Upgrade',
  userAgent: 'User-Agent',
  wwwAuthenticate: 'WWW-Authenticate',
} as const;
export type FieldName = (typeof field)[keyof typeof field];

/** RFC 9110 §5.6.2 `tchar`: the characters a token (and so a field name) may contain. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Whether `s` is a non-empty RFC 9110 token. */
export function isToken(s: string): boolean {
  return TOKEN.test(s);
}

/**
 * Whether `s` may be a field value: RFC 9110 §5.5 allows VCHAR, obs-text, SP
 * and HTAB. CR, LF and NUL in particular are refused, so that a value cannot
 * smuggle in another header line.
 */
export function isFieldValue(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f || c > 0xff) return false;
  }
  return true;
}

interface Entry {
  name: string;
  value: string;
}

export class Fields {
  private readonly map = new Map<string, Entry>();

  constructor(init?: Iterable<readonly [string, string]> | Fields) {
    if (init !== undefined) for (const [n, v] of init) this.insert(n, v);
  }

  /** Sets `name` to `value`, replacing any existing value (keeps the original position). */
  set(name: string, value: string | number): this {
    const v = checkField(name, value);
    const key = name.toLowerCase();
    const e = this.map.get(key);
    if (e === undefined) this.map.set(key, { name, value: v });
    else e.value = v;
    return this;
  }

  /**
   * Adds a value for `name`; a repeated name is combined into one
   * comma-separated value (RFC 9110 §5.3; not meant for Set-Cookie).
   */
  insert(name: string, value: string | number): this {
    const v = checkField(name, value);
    const key = name.toLowerCase();
    const e = this.map.get(key);
    if (e === undefined) this.map.set(key, { name, value: v });
    else e.value = `${e.value}, ${v}`;
    return this;
  }

  /** The value of `name` (case-insensitive), or undefined. */
  get(name: string): string | undefined {
    return this.map.get(name.toLowerCase())?.value;
  }

  has(name: string): boolean {
    return this.map.has(name.toLowerCase());
  }

  /** Removes `name`; returns whether it was present. */
  erase(name: string): boolean {
    return this.map.delete(name.toLowerCase());
  }

  get size(): number {
    return this.map.size;
  }

  /** `[name, value]` pairs in insertion order, names as first spelled. */
  *entries(): IterableIterator<[string, string]> {
    for (const e of this.map.values()) yield [e.name, e.value];
  }

  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.entries();
  }

  /** Internal: append without validation (the parser has validated already). */
  static appendTrusted(f: Fields, name: string, value: string): void {
    const key = name.toLowerCase();
    const e = f.map.get(key);
    if (e === undefined) f.map.set(key, { name, value });
    else e.value = `${e.value}, ${value}`;
  }
}

function checkField(name: string, value: string | number): string {
  if (!isToken(name)) throw new TypeError(`invalid HTTP field name ${JSON.stringify(name)}`);
  const v = String(value);
  if (!isFieldValue(v)) throw new TypeError(`invalid value for HTTP field ${name}`);
  return trimOws(v);
}

/** Strips optional whitespace (SP / HTAB only, RFC 9110 §5.6.3; `String.trim` would also eat obs-text 0xA0). */
export function trimOws(s: string): string {
  return s.replace(/^[ \t]+|[ \t]+$/g, '');
}

/** Splits a comma-separated list (RFC 9110 §5.6.1), trimming whitespace and dropping empty elements. */
export function splitList(value: string): string[] {
  const out: string[] = [];
  for (const part of value.split(',')) {
    const t = trimOws(part);
    if (t.length > 0) out.push(t);
  }
  return out;
}

/** Whether the comma-separated `value` contains `token`, compared case-insensitively (Beast's token_list::exists). */
export function listHasToken(value: string | undefined, token: string): boolean {
  if (value === undefined) return false;
  const t = token.toLowerCase();
  return splitList(value).some((x) => x.toLowerCase() === t);
}
