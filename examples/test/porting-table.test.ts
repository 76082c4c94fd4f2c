/**
 * Every tsio symbol that docs/porting-from-beast.md names must exist on the
 * umbrella's exports, and the table must cover Beast's websocket::stream,
 * its error and close-code enums. The check walks the dotted path from the
 * namespaces `import { net, beast, websocket, http } from 'tsio'` gives,
 * looking at a class's prototype for methods and at a default-constructed
 * instance for fields.
 */
import { readFileSync } from 'node:fs';
import * as tsio from 'tsio';
import { describe, expect, it } from 'vitest';

const doc = readFileSync(new URL('../../docs/porting-from-beast.md', import.meta.url), 'utf8');

interface Row {
  line: number;
  beast: string;
  tsio: string;
}

/** Rows of every table whose second column is headed "tsio". */
function tsioRows(markdown: string): Row[] {
  const rows: Row[] = [];
  const lines = markdown.split('\n');
  let inTable = false;
  lines.forEach((text, i) => {
    if (!text.startsWith('|')) {
      inTable = false;
      return;
    }
    // Split on pipes that are not escaped (`\|` appears inside code spans).
    const cells = text
      .slice(1, -1)
      .split(/(?<!\\)\|/)
      .map((c) => c.trim());
    if (cells[1] === 'tsio') {
      inTable = true;
      return;
    }
    if (!inTable || /^-+$/.test(cells[0] ?? '')) return;
    rows.push({ line: i + 1, beast: cells[0] ?? '', tsio: cells[1] ?? '' });
  });
  return rows;
}

const namespaces = new Set(['net', 'beast', 'websocket', 'http']);

/** The dotted path a code span names: `new websocket.Stream(next)` → `websocket.Stream`. */
function symbolOf(span: string): string | null {
  const m = /^(?:new |await )?([A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*)/.exec(span);
  if (!m) return null;
  const path = m[1] as string;
  return namespaces.has(path.split('.')[0] as string) ? path : null;
}

function resolve(path: string): boolean {
  let cur: unknown = tsio;
  for (const seg of path.split('.')) {
    if (cur !== null && (typeof cur === 'object' || typeof cur === 'function') && seg in cur) {
      cur = (cur as Record<string, unknown>)[seg];
      continue;
    }
    if (typeof cur === 'function' && cur.prototype && seg in cur.prototype) {
      cur = cur.prototype[seg];
      continue;
    }
    // A field declared in a constructor exists only on instances: for
    // `Class.field` or `Class.prototype.field`, look at a default-constructed one.
    const ctor =
      typeof cur === 'function'
        ? cur
        : cur !== null && typeof cur === 'object' && Object.hasOwn(cur, 'constructor')
          ? (cur as { constructor: unknown }).constructor
          : undefined;
    if (typeof ctor === 'function') {
      let instance: unknown;
      try {
        instance = new (ctor as new () => unknown)();
      } catch {
        return false;
      }
      if (instance !== null && typeof instance === 'object' && seg in instance) {
        cur = (instance as Record<string, unknown>)[seg];
        continue;
      }
    }
    return false;
  }
  return cur !== undefined;
}

const rows = tsioRows(doc);

describe('docs/porting-from-beast.md', () => {
  it('has the tables', () => {
    expect(rows.length).toBeGreaterThan(100);
  });

  it('names, in every row, an exported tsio symbol or says there is none (—)', () => {
    const bad: string[] = [];
    for (const row of rows) {
      const spans = [...row.tsio.matchAll(/`([^`]+)`/g)].map((m) => m[1] as string);
      const symbols = spans.map(symbolOf);
      if (spans.length === 0) {
        if (row.tsio !== '—' && !/^\(.*\)$/.test(row.tsio)) bad.push(`line ${row.line}: no tsio symbol`);
        continue;
      }
      spans.forEach((span, k) => {
        const path = symbols[k];
        if (!path) bad.push(`line ${row.line}: \`${span}\` is not under net/beast/websocket/http`);
        else if (!resolve(path)) bad.push(`line ${row.line}: ${path} is not exported by tsio`);
      });
    }
    expect(bad).toEqual([]);
  });

  it('has a row for every public member of websocket::stream', () => {
    const members = [
      'get_executor',
      'next_layer',
      'get_lowest_layer',
      'is_open',
      'got_binary',
      'got_text',
      'is_message_done',
      'reason',
      'read_size_hint',
      'async_handshake',
      'async_accept',
      'async_close',
      'async_ping',
      'async_pong',
      'async_read',
      'async_read_some',
      'async_write',
      'async_write_some',
      'control_callback',
      'set_option',
      'get_option',
      'get_status',
      'auto_fragment',
      'binary',
      'text',
      'compress',
      'read_message_max',
      'write_buffer_bytes',
      'secure_prng',
    ];
    const beastColumn = rows.map((r) => r.beast).join('\n');
    const missing = members.filter((m) => !new RegExp(`\\b${m}\\b`).test(beastColumn));
    expect(missing).toEqual([]);
  });

  it('has a row for every websocket::error, websocket::condition and close_code', () => {
    // Beast's enums (websocket/error.hpp, websocket/rfc6455.hpp), not tsio's:
    // tsio may add codes of its own, Beast's must all be there.
    const errors =
      'closed buffer_overflow partial_deflate_block message_too_big bad_http_version bad_method no_host ' +
      'no_connection no_connection_upgrade no_upgrade no_upgrade_websocket no_sec_key bad_sec_key ' +
      'no_sec_version bad_sec_version no_sec_accept bad_sec_accept upgrade_declined bad_opcode ' +
      'bad_data_frame bad_continuation bad_reserved_bits bad_control_fragment bad_control_size ' +
      'bad_unmasked_frame bad_masked_frame bad_size bad_frame_payload bad_close_code bad_close_size ' +
      'bad_close_payload';
    const conditions = 'handshake_failed protocol_violation';
    const codes =
      'normal going_away protocol_error unknown_data bad_payload policy_error too_big needs_extension ' +
      'internal_error service_restart try_again_later bad_gateway none reserved1 no_status abnormal reserved3';
    const beastColumn = rows.map((r) => r.beast).join('\n');
    const expected = [
      ...errors.split(' ').map((e) => `websocket::error::${e}\``),
      ...conditions.split(' ').map((c) => `websocket::condition::${c}\``),
      ...codes.split(' ').map((c) => `websocket::close_code::${c}\``),
    ];
    expect(expected.filter((e) => !beastColumn.includes(e))).toEqual([]);
  });
});
