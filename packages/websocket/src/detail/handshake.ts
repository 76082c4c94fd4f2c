/**
 * The HTTP/1.1 side of the opening handshake (RFC 6455 §4): keys, an
 * incremental HTTP head parser, validation of the upgrade request and
 * response, and builders for both.
 *
 * The parser reads only the head (start line + fields). A WebSocket upgrade
 * has no body, and the bytes after the blank line already belong to the
 * WebSocket stream (the server may send frames right after its 101), so the
 * parser reports how many bytes of each chunk it consumed.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { WsErrorName } from './error-names.js';
import { Fields, field, isFieldValue, isToken, listHasToken } from './http-fields.js';

/** RFC 6455 §1.3 / §4.2.2: the GUID appended to the key before hashing. */
const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key`: base64(SHA-1(key + GUID)) (§4.2.2 step 5.4). */
export function computeAccept(key: string): string {
  return createHash('sha1')
    .update(key + WS_GUID, 'latin1')
    .digest('base64');
}

/** A fresh `Sec-WebSocket-Key`: 16 random bytes, base64 (§4.1 item 7). */
export function generateKey(): string {
  return randomBytes(16).toString('base64');
}

/**
 * Whether `key` is base64 that decodes to exactly 16 bytes (§4.2.1 item 5):
 * 22 base64 characters and "==". Non-zero padding bits are tolerated (they
 * still decode to 16 bytes); the key is only ever echoed through SHA-1.
 */
export function isValidKey(key: string): boolean {
  return /^[A-Za-z0-9+/]{22}==$/.test(key);
}

/** An HTTP request head (Beast's `http::request<...>` as far as the handshake needs). */
export class RequestType {
  method = 'GET';
  target = '/';
  /** major * 10 + minor, as in Beast: 11 for HTTP/1.1. */
  version = 11;
  readonly fields = new Fields();

  /** Sets a field, replacing it (Beast: `req.set(field, value)`). */
  set(name: string, value: string | number): this {
    this.fields.set(name, value);
    return this;
  }

  get(name: string): string | undefined {
    return this.fields.get(name);
  }
}

/** An HTTP response head plus an optional small body (for refusals such as 400 / 426). */
export class ResponseType {
  status = 200;
  reason = '';
  version = 11;
  readonly fields = new Fields();
  body = '';

  set(name: string, value: string | number): this {
    this.fields.set(name, value);
    return this;
  }

  get(name: string): string | undefined {
    return this.fields.get(name);
  }
}

export interface HttpHeadParserOptions {
  /**
   * Largest head accepted, in bytes, including the blank line. Default
   * 8192, Beast's default `header_limit` (8 KiB); browsers' upgrade
   * requests with cookies fit comfortably.
   */
  headLimit?: number;
  /** Most header fields accepted. Default 100. */
  fieldLimit?: number;
}

/**
 * Incremental parser for one HTTP/1.1 request or response head.
 *
 * `feed(chunk)` returns how many bytes of the chunk belong to the head;
 * once `done`, the rest of that chunk is not the parser's (leftover bytes
 * for the WebSocket stream). On failure `error` is set and stays set.
 *
 * Line endings (RFC 9112 §2.2): a recipient MAY accept a bare LF; we do not.
 * Every line must end in CRLF and a bare LF or CR is an error — clients and
 * servers that speak WebSocket send CRLF, and strictness removes a class of
 * request-smuggling ambiguities. Leading empty lines before the start line
 * (which §2.2 says a server SHOULD ignore) are likewise rejected. obs-fold
 * (a field line starting with SP/HTAB, §5.2) is rejected, as is whitespace
 * between a field name and the colon (§5.1 requires a 400).
 */
export class HttpHeadParser<K extends 'request' | 'response'> {
  done = false;
  error: WsErrorName | null = null;
  /** The parsed head, once `done`. */
  result: (K extends 'request' ? RequestType : ResponseType) | null = null;

  private readonly headLimit: number;
  private readonly fieldLimit: number;
  private buf: Buffer = Buffer.alloc(0);
  private len = 0;
  private scan = 0;
  private lineStart = 0;
  private lines = 0;

  constructor(
    readonly kind: K,
    opts: HttpHeadParserOptions = {},
  ) {
    this.headLimit = opts.headLimit ?? 8192;
    this.fieldLimit = opts.fieldLimit ?? 100;
  }

  private get badHead(): WsErrorName {
    return this.kind === 'request' ? 'badHttpRequest' : 'badHttpResponse';
  }

  /** Feeds `chunk[start..end)`; returns the number of bytes that were part of the head. */
  feed(chunk: Uint8Array, start = 0, end = chunk.length): number {
    if (this.done || this.error !== null) return 0;
    const prevLen = this.len;
    const take = Math.min(end - start, this.headLimit - this.len);
    if (this.len + take > this.buf.length) {
      const grown = Buffer.allocUnsafe(Math.min(this.headLimit, Math.max(256, (this.len + take) * 2)));
      this.buf.copy(grown, 0, 0, this.len);
      this.buf = grown;
    }
    this.buf.set(chunk.subarray(start, start + take), this.len);
    this.len += take;
    const buf = this.buf;
    while (this.scan < this.len) {
      const lf = buf.subarray(0, this.len).indexOf(0x0a, this.scan);
      if (lf < 0) {
        this.scan = this.len;
        break;
      }
      if (lf === 0 || buf[lf - 1] !== 0x0d) return this.fail(this.badHead, take);
      if (lf - 1 === this.lineStart) {
        // Empty line: end of the head.
        const headEnd = lf + 1;
        const err = this.parse(buf.toString('latin1', 0, Math.max(0, headEnd - 4)));
        this.buf = Buffer.alloc(0);
        if (err !== null) this.error = err;
        else this.done = true;
        return headEnd - prevLen;
      }
      this.lineStart = lf + 1;
      this.scan = lf + 1;
      // The start line plus fieldLimit fields.
      if (++this.lines > this.fieldLimit + 1) return this.fail('tooManyFields', take);
    }
    if (this.len >= this.headLimit) return this.fail('headerLimit', take);
    return take;
  }

  private fail(e: WsErrorName, consumed: number): number {
    this.error = e;
    this.buf = Buffer.alloc(0);
    return consumed;
  }

  /** Parses the head text (lines separated by CRLF, without the final blank line). */
  private parse(text: string): WsErrorName | null {
    const lines = text.split('\r\n');
    const bad = this.badHead;
    const fields = new Fields();
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!;
      const colon = line.indexOf(':');
      // colon < 1 also catches obs-fold lines (they start with SP/HTAB and the name check fails).
      if (colon < 1) return bad;
      const name = line.slice(0, colon);
      if (!isToken(name)) return bad;
      const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '');
      if (!isFieldValue(value)) return bad;
      Fields.appendTrusted(fields, name, value);
    }
    const first = lines[0]!;
    if (this.kind === 'request') {
      // request-line = method SP request-target SP HTTP-version (RFC 9112 §3)
      const m = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) ([\x21-\x7e]+) HTTP\/([0-9])\.([0-9])$/.exec(first);
      if (m === null) return bad;
      const req = new RequestType();
      req.method = m[1]!;
      req.target = m[2]!;
      req.version = Number(m[3]) * 10 + Number(m[4]);
      copyFields(fields, req.fields);
      this.result = req as K extends 'request' ? RequestType : ResponseType;
    } else {
      // status-line = HTTP-version SP status-code SP [ reason-phrase ] (RFC 9112 §4);
      // a missing SP before an empty reason is tolerated.
      const m = /^HTTP\/([0-9])\.([0-9]) ([0-9]{3})(?: ([\t\x20-\x7e\x80-\xff]*))?$/.exec(first);
      if (m === null) return bad;
      const res = new ResponseType();
      res.version = Number(m[1]) * 10 + Number(m[2]);
      res.status = Number(m[3]);
      res.reason = m[4] ?? '';
      copyFields(fields, res.fields);
      this.result = res as K extends 'request' ? RequestType : ResponseType;
    }
    return null;
  }
}

function copyFields(from: Fields, to: Fields): void {
  for (const [n, v] of from) Fields.appendTrusted(to, n, v);
}

/**
 * Checks a client's opening handshake (RFC 6455 §4.2.1), in Beast's order.
 * Returns null if it is a valid WebSocket upgrade request. The caller answers
 * `badSecVersion` / `noSecVersion` with 426 and `Sec-WebSocket-Version: 13`
 * (§4.4), anything else with 400 (see `makeRefusalResponse`).
 */
export function validateUpgradeRequest(req: RequestType): WsErrorName | null {
  if (req.version !== 11) return 'badHttpVersion';
  if (req.method !== 'GET') return 'badMethod';
  if (!req.fields.has(field.host)) return 'noHost';
  const connection = req.fields.get(field.connection);
  if (connection === undefined) return 'noConnection';
  if (!listHasToken(connection, 'upgrade')) return 'noConnectionUpgrade';
  const upgrade = req.fields.get(field.upgrade);
  if (upgrade === undefined) return 'noUpgrade';
  if (!listHasToken(upgrade, 'websocket')) return 'noUpgradeWebsocket';
  const key = req.fields.get(field.secWebsocketKey);
  if (key === undefined) return 'noSecKey';
  if (!isValidKey(key)) return 'badSecKey';
  const version = req.fields.get(field.secWebsocketVersion);
  if (version === undefined) return 'noSecVersion';
  if (version !== '13') return 'badSecVersion';
  return null;
}

/**
 * Checks the server's answer to our opening handshake (RFC 6455 §4.1, §4.2.2),
 * in Beast's order. `key` is the `Sec-WebSocket-Key` we sent.
 */
export function validateUpgradeResponse(res: ResponseType, key: string): WsErrorName | null {
  if (res.status !== 101) return 'upgradeDeclined';
  if (res.version !== 11) return 'badHttpVersion';
  const connection = res.fields.get(field.connection);
  if (connection === undefined) return 'noConnection';
  if (!listHasToken(connection, 'upgrade')) return 'noConnectionUpgrade';
  const upgrade = res.fields.get(field.upgrade);
  if (upgrade === undefined) return 'noUpgrade';
  if (!listHasToken(upgrade, 'websocket')) return 'noUpgradeWebsocket';
  const accept = res.fields.get(field.secWebsocketAccept);
  if (accept === undefined) return 'noSecAccept';
  if (accept !== computeAccept(key)) return 'badSecAccept';
  return null;
}

export interface UpgradeRequestInit {
  host: string;
  target: string;
  key: string;
  /** Extra fields, applied after the required ones (they replace a same-named field). */
  headers?: Iterable<readonly [string, string]> | Fields;
}

/** The client's upgrade request (§4.1), as Beast's `build_request` makes it. */
export function makeUpgradeRequest(init: UpgradeRequestInit): RequestType {
  const req = new RequestType();
  req.method = 'GET';
  req.target = init.target;
  req.set(field.host, init.host);
  req.set(field.upgrade, 'websocket');
  req.set(field.connection, 'Upgrade');
  req.set(field.secWebsocketKey, init.key);
  req.set(field.secWebsocketVersion, '13');
  if (init.headers !== undefined) for (const [n, v] of init.headers) req.set(n, v);
  return req;
}

/** The server's 101 answer to a valid upgrade request (§4.2.2). */
export function makeUpgradeResponse(req: RequestType): ResponseType {
  const res = new ResponseType();
  res.status = 101;
  res.reason = 'Switching Protocols';
  res.set(field.upgrade, 'websocket');
  res.set(field.connection, 'Upgrade');
  res.set(field.secWebsocketAccept, computeAccept(req.fields.get(field.secWebsocketKey) ?? ''));
  return res;
}

/**
 * The refusal for a failed `validateUpgradeRequest`: 426 Upgrade Required
 * with `Sec-WebSocket-Version: 13` for a version problem (§4.4), else 400.
 */
export function makeRefusalResponse(error: WsErrorName): ResponseType {
  const res = new ResponseType();
  if (error === 'noSecVersion' || error === 'badSecVersion') {
    res.status = 426;
    res.reason = 'Upgrade Required';
    res.set(field.secWebsocketVersion, '13');
  } else if (error === 'handshakeHookFailed') {
    res.status = 500;
    res.reason = 'Internal Server Error';
  } else {
    res.status = 400;
    res.reason = 'Bad Request';
  }
  res.body = `WebSocket upgrade refused: ${error}`;
  res.set(field.contentType, 'text/plain');
  return res;
}

function writeFields(lines: string[], fields: Fields): void {
  for (const [n, v] of fields) lines.push(`${n}: ${v}`);
}

/** Serializes a request head (no body). */
export function serializeRequest(req: RequestType): Buffer {
  if (!isToken(req.method) || !/^[\x21-\x7e]+$/.test(req.target)) throw new TypeError('invalid request line');
  const lines = [`${req.method} ${req.target} HTTP/${Math.floor(req.version / 10)}.${req.version % 10}`];
  writeFields(lines, req.fields);
  lines.push('', '');
  return Buffer.from(lines.join('\r\n'), 'latin1');
}

/** Serializes a response; a non-empty body gets a Content-Length unless one is set. */
export function serializeResponse(res: ResponseType): Buffer {
  if (!Number.isInteger(res.status) || res.status < 100 || res.status > 999 || !isFieldValue(res.reason)) {
    throw new TypeError('invalid status line');
  }
  const body = Buffer.from(res.body, 'utf8');
  const lines = [`HTTP/${Math.floor(res.version / 10)}.${res.version % 10} ${res.status} ${res.reason}`];
  writeFields(lines, res.fields);
  if (body.length > 0 && !res.fields.has(field.contentLength))
    lines.push(`${field.contentLength}: ${body.length}`);
  lines.push('', '');
  const head = Buffer.from(lines.join('\r\n'), 'latin1');
  return body.length > 0 ? Buffer.concat([head, body]) : head;
}

/** The client's upgrade request as bytes. */
export function buildRequest(init: UpgradeRequestInit): Buffer {
  return serializeRequest(makeUpgradeRequest(init));
}

/** A response head (and optional body) as bytes. */
export function buildResponse(
  status: number,
  reason: string,
  headers?: Iterable<readonly [string, string]> | Fields,
  body = '',
): Buffer {
  const res = new ResponseType();
  res.status = status;
  res.reason = reason;
  res.body = body;
  if (headers !== undefined) for (const [n, v] of headers) res.set(n, v);
  return serializeResponse(res);
}
