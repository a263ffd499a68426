import { formatDuration } from '../../core/duration.ts';
import type { Block, Reply, Value } from '../reply.ts';

const MARK = { success: '✔', info: '•', warning: '!', error: '✖' } as const;

export interface TextRenderOptions {
  now: number;
  /** IANA zone for absolute times; the machine's own when omitted. */
  timeZone?: string;
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
    case 'table': {
      const cells = [block.columns, ...block.rows.map((row) => row.map((v) => renderValue(v, options)))];
      const widths = block.columns.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? '').length)));
      const line = (row: string[]) => `  ${row.map((c, i) => c.padEnd(widths[i]!)).join('  ')}`.trimEnd();
      return [line(cells[0]!), line(widths.map((w) => '-'.repeat(w))), ...cells.slice(1).map(line)];
    }
    case 'actions':
      return [`  ${block.actions.map((a) => `[${a.label}: ${a.command}]`).join('  ')}`];
  }
}
