// Medians, percentiles and plain-text/markdown table formatting.
export function median(xs) {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

/** p in [0, 100] over an already-sorted typed array (nearest rank). */
export function percentileSorted(sorted, p) {
  if (sorted.length === 0) return null;
  const k = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[k];
}

export function fmtCount(x) {
  if (x === null || x === undefined) return '—';
  if (x >= 1e6) return `${(x / 1e6).toFixed(2)}M`;
  if (x >= 1e3) return `${(x / 1e3).toFixed(1)}k`;
  return x.toFixed(0);
}

export function fmtMB(x) {
  if (x === null || x === undefined) return '—';
  return x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2);
}

export function fmtUs(us) {
  if (us === null || us === undefined) return '—';
  if (us >= 1000) return `${(us / 1000).toFixed(us >= 10000 ? 0 : 1)} ms`;
  return `${us.toFixed(0)} µs`;
}

/** CPU microseconds per message: one decimal below 100 µs, whole microseconds above. */
export function fmtCpu(us) {
  if (us === null || us === undefined) return '—';
  return `${us < 100 ? us.toFixed(1) : String(Math.round(us))} µs`;
}

/** Page faults per message: two decimals below 10. */
export function fmtFaults(n) {
  if (n === null || n === undefined) return '—';
  return n.toFixed(n < 10 ? 2 : 0);
}

export function fmtRatio(a, b) {
  if (a === null || b === null || a === undefined || b === undefined || b === 0) return '—';
  return `${(a / b).toFixed(2)}×`;
}

export function fmtSize(n) {
  if (n >= 1 << 20) return `${n / (1 << 20)} MiB`;
  if (n >= 1024) return `${n / 1024} KiB`;
  return `${n} B`;
}

/** Markdown table (also readable as plain text). */
export function table(headers, rows) {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) => `| ${cells.map((c, i) => String(c).padEnd(widths[i])).join(' | ')} |`;
  return [line(headers), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}
