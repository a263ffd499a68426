import { formatDuration } from '../../core/duration.ts';
import type { Block, Reply, Value } from '../reply.ts';

const MARK = { success: '✔', info: '•', warning: '!', error: '✖' } as const;

export interface TextRenderOptions {
  now: number;
  /** IANA zone for absolute times; the machine's own when omitted. */
  timeZone?: string;
  /**
   * The terminal's width in columns: a table wider than this wraps its widest column, or, when
   * even that does not fit, shows each row as a short record. No limit when omitted (a pipe).
   */
  width?: number;
}

/** Renders a neutral reply as plain text for a terminal. */
export function renderText(message: Reply, options: TextRenderOptions): string {
  const lines = [`${MARK[message.tone]} ${message.title}`];
  for (const block of message.blocks) lines.push(...renderBlock(block, options));
  return lines.join('\n');
}

export function renderValue(value: Value, options: TextRenderOptions): string {
  if (typeof value === 'string') return value;
  if ('duration' in value) return formatDuration(value.duration);
  const absolute = new Intl.DateTimeFormat('en-GB', {
    weekday: 'short',
    day: 'numeric',
    month: 'short',
    hour: '2-digit',
    minute: '2-digit',
    timeZoneName: 'short',
    ...(options.timeZone ? { timeZone: options.timeZone } : {}),
  }).format(value.time);
  const delta = value.time - options.now;
  return `${absolute} (${delta >= 0 ? `in ${formatDuration(delta)}` : `${formatDuration(-delta)} ago`})`;
}

function renderBlock(block: Block, options: TextRenderOptions): string[] {
  switch (block.type) {
    case 'text':
      return block.text.split('\n').map((line) => `  ${line}`);
    case 'fields': {
      const width = Math.max(...block.fields.map((f) => f.label.length));
      return block.fields.map((f) => `  ${`${f.label}:`.padEnd(width + 1)} ${renderValue(f.value, options)}`);
    }
    case 'table':
      return renderTable(block.columns, block.rows.map((row) => row.map((v) => renderValue(v, options))), options.width);
    case 'actions':
      return [`  ${block.actions.map((a) => `[${a.label}: ${a.command}]`).join('  ')}`];
  }
}

/** Narrowest a wrapped column may be before the table is shown as records instead. */
const MIN_WRAPPED = 16;

function renderTable(columns: readonly string[], rows: string[][], width: number | undefined): string[] {
  const cells = [[...columns], ...rows];
  const widths = columns.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? '').length)));
  const total = (ws: readonly number[]) => 2 + ws.reduce((a, b) => a + b, 0) + 2 * (ws.length - 1);
  const line = (row: readonly string[], ws: readonly number[]) => `  ${row.map((c, i) => c.padEnd(ws[i]!)).join('  ')}`.trimEnd();
  if (width === undefined || total(widths) <= width) return [line(cells[0]!, widths), line(widths.map((w) => '-'.repeat(w)), widths), ...rows.map((row) => line(row, widths))];

  // Too wide: the widest column wraps in what the others leave, if that is enough to read.
  const widest = widths.indexOf(Math.max(...widths));
  const room = width - total(widths.map((w, i) => (i === widest ? 0 : w)));
  if (room >= MIN_WRAPPED) {
    const ws = widths.map((w, i) => (i === widest ? Math.min(w, room) : w));
    const out = [line(cells[0]!, ws), line(ws.map((w) => '-'.repeat(w)), ws)];
    for (const row of rows) {
      const wrapped = wrap(row[widest] ?? '', ws[widest]!);
      wrapped.forEach((part, n) => out.push(line(row.map((c, i) => (i === widest ? part : n === 0 ? c : '')), ws)));
    }
    return out;
  }
  // Narrower still: each row as a record, its first cell a heading and the others labelled.
  const label = Math.max(...columns.slice(1).map((c) => c.length)) + 1;
  const out: string[] = [];
  for (const row of rows) {
    for (const part of wrap(row[0] ?? '', Math.max(MIN_WRAPPED, width - 2))) out.push(`  ${part}`);
    columns.slice(1).forEach((column, i) => {
      const parts = wrap(row[i + 1] ?? '', Math.max(MIN_WRAPPED, width - 4 - label - 1));
      parts.forEach((part, n) => out.push(`    ${(n === 0 ? `${column}:` : '').padEnd(label)} ${part}`.trimEnd()));
    });
  }
  return out;
}

/** Words into lines of at most `width` characters; a word longer than that is cut. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let current = '';
  for (let word of text.split(/ +/)) {
    while (word.length > width) {
      if (current) lines.push(current);
      current = '';
      lines.push(word.slice(0, width));
      word = word.slice(width);
    }
    if (!current) current = word;
    else if (current.length + 1 + word.length <= width) current += ` ${word}`;
    else {
      lines.push(current);
      current = word;
    }
  }
  lines.push(current);
  return lines;
}
