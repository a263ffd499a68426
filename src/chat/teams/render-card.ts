import { formatDuration } from '../../core/duration.ts';
import type { Action, Block, Reply, Tone, Value } from '../reply.ts';
import { chunk, notificationLine, truncate, utcTime } from '../platform-text.ts';
import { renderText, renderValue } from '../shell/render-text.ts';

export const ADAPTIVE_CARD = 'application/vnd.microsoft.card.adaptive';
/** Action.Execute, Table and the invoke-response model need 1.5; Teams renders it on current clients. */
export const CARD_VERSION = '1.5';
/** Verbs of our Action.Execute buttons start with this, so foreign cards' invokes are recognised. */
export const VERB_PREFIX = 'daaas.';

/** Limits of Teams and of reason: a message is refused above ~28 KB, and Teams shows about 6 actions in a row. */
export const LIMITS = {
  actionsPerSet: 5,
  tableRows: 50,
  /** JSON characters of a card, leaving room for the activity around it. */
  cardChars: 24_000,
  /** The notification text: push notifications and the chat list show it. */
  summary: 300,
  buttonTitle: 60,
} as const;

const MARK: Record<Tone, string> = { success: '✔', info: '•', warning: '!', error: '✖' };
const COLOR: Record<Tone, string> = { success: 'Good', info: 'Default', warning: 'Warning', error: 'Attention' };

export type CardElement = Record<string, unknown>;

export interface AdaptiveCard {
  type: 'AdaptiveCard';
  $schema: string;
  version: string;
  /** What clients that cannot render the card show: the whole reply as plain text (UTC times). */
  fallbackText: string;
  body: CardElement[];
  msteams?: { width: 'Full' };
}

export interface CardRenderOptions {
  now: number;
  /** The facility account the card's buttons belong to; a click by anyone else is refused politely. */
  owner?: string;
}

export interface RenderedCard {
  card: AdaptiveCard;
  /** One line for notifications: the title and, when there is one, the expiry in UTC. */
  summary: string;
  /** The whole reply as plain text, times in UTC: for clients without cards and for logs. */
  text: string;
}

/** What a command button carries: the command, and whose card it is on. */
export interface ActionData {
  command: string;
  owner?: string;
}

/** Renders a neutral reply as an Adaptive Card, with a plain-text summary and fallback. */
export function renderCard(reply: Reply, options: CardRenderOptions): RenderedCard {
  const text = renderText(reply, { now: options.now, timeZone: 'UTC' });
  const summary = summaryText(reply);
  let rows: number = LIMITS.tableRows;
  for (;;) {
    const card = buildCard(reply, options, text, rows);
    const size = JSON.stringify(card).length;
    if (size <= LIMITS.cardChars) return { card, summary, text };
    const longest = Math.max(0, ...reply.blocks.map((b) => (b.type === 'table' ? Math.min(b.rows.length, rows) : 0)));
    if (longest <= 1) return { card: tooLargeCard(reply, text), summary, text };
    // Fewer rows until it fits; what is cut is said on the card.
    rows = Math.max(1, Math.floor(longest / 2));
  }
}

/** The notification line: the title and, when the reply has a time (an expiry), that time in UTC. */
export function summaryText(reply: Reply): string {
  return notificationLine(reply, LIMITS.summary);
}

/**
 * A time as Adaptive Card date functions: each reader's client shows it in their own zone and
 * language. The functions accept RFC 3339 without fractions of a second only.
 */
export function cardDate(epochMs: number): string {
  const iso = new Date(Math.floor(epochMs / 1000) * 1000).toISOString().replace('.000Z', 'Z');
  return `{{DATE(${iso}, SHORT)}} {{TIME(${iso})}}`;
}

export const utcText = utcTime;

/**
 * Reply text can hold what a user typed (a refused word is quoted back). TextBlocks render
 * Markdown, so a typed [label](url) would become a live link in the bot's name: it is broken up.
 */
function inert(value: string): string {
  return value.replace(/\]\(/g, '] (');
}

/** The Action.Execute verb for a command: `daaas.extend`, `daaas.release`, … */
export function verbFor(command: string): string {
  return `${VERB_PREFIX}${(command.trim().split(/\s+/)[0] ?? 'run').toLowerCase()}`;
}

/**
 * The command a click carries, or undefined if it is not one of ours. Accepts the `data` of an
 * Action.Execute invoke, and the `value` of an Action.Submit message ({type, verb, data}).
 */
export function decodeActionData(raw: unknown): ActionData | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const record = raw as Record<string, unknown>;
  const inner = typeof record.data === 'object' && record.data !== null && typeof record.verb === 'string' ? (record.data as Record<string, unknown>) : record;
  if (typeof record.verb === 'string' && !record.verb.startsWith(VERB_PREFIX)) return undefined;
  const { command, owner } = inner;
  if (typeof command !== 'string' || command.trim() === '' || command.length > 500) return undefined;
  return typeof owner === 'string' && owner !== '' ? { command, owner } : { command };
}

function buildCard(reply: Reply, options: CardRenderOptions, text: string, maxRows: number): AdaptiveCard {
  const body: CardElement[] = [
    { type: 'TextBlock', text: `${MARK[reply.tone]} ${inert(reply.title)}`, weight: 'Bolder', size: 'Medium', color: COLOR[reply.tone], wrap: true, style: 'heading' },
  ];
  for (const block of reply.blocks) body.push(...renderBlock(block, options, maxRows));
  const card: AdaptiveCard = {
    type: 'AdaptiveCard',
    $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
    version: CARD_VERSION,
    fallbackText: truncate(text, 4_000),
    body,
  };
  // Tables (admin pools) need the whole width of the chat.
  if (reply.blocks.some((b) => b.type === 'table')) card.msteams = { width: 'Full' };
  return card;
}

function tooLargeCard(reply: Reply, text: string): AdaptiveCard {
  return {
    type: 'AdaptiveCard',
    $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
    version: CARD_VERSION,
    fallbackText: truncate(text, 4_000),
    body: [
      { type: 'TextBlock', text: `${MARK[reply.tone]} ${inert(reply.title)}`, weight: 'Bolder', size: 'Medium', color: COLOR[reply.tone], wrap: true },
      { type: 'TextBlock', text: 'This answer is too large for a Teams message. Ask for less, e.g. status or one VM by name.', wrap: true },
    ],
  };
}

function renderBlock(block: Block, options: CardRenderOptions, maxRows: number): CardElement[] {
  switch (block.type) {
    case 'text':
      return textElements(block.text);
    case 'fields':
      // FactSet values go through the same date parsing as TextBlocks in the Adaptive Card renderers.
      return [{ type: 'FactSet', facts: block.fields.map((f) => ({ title: f.label, value: cardValue(f.value) })) }];
    case 'table':
      return [tableElement(block.columns, block.rows, maxRows, options.now)];
    case 'actions':
      return chunk(block.actions, LIMITS.actionsPerSet).map((group) => ({ type: 'ActionSet', actions: group.map((a) => commandAction(a, options.owner)) }));
  }
}

/**
 * One TextBlock per line (a single newline inside a TextBlock is not a line break in Adaptive
 * Card markdown). A lease's "Connect:" line gets a button opening its first web address.
 */
function textElements(text: string): CardElement[] {
  const lines = text.split('\n');
  const out: CardElement[] = lines.map((line, i) => ({ type: 'TextBlock', text: line === '' ? ' ' : inert(line), wrap: true, ...(i > 0 ? { spacing: 'None' } : {}) }));
  const url = /^Connect:/.test(text) ? /https?:\/\/[^\s<>|·]+/.exec(text)?.[0] : undefined;
  if (url) out.push({ type: 'ActionSet', actions: [{ type: 'Action.OpenUrl', title: 'Connect', url }] });
  return out;
}

function cardValue(value: Value): string {
  if (typeof value === 'string') return value === '' ? ' ' : value;
  if ('duration' in value) return formatDuration(value.duration);
  return cardDate(value.time);
}

function plainValue(value: Value, now: number): string {
  return renderValue(value, { now, timeZone: 'UTC' });
}

function tableElement(columns: string[], rows: Value[][], maxRows: number, now: number): CardElement {
  const shown = rows.slice(0, maxRows);
  const cell = (text: string, header = false): CardElement => ({
    type: 'TableCell',
    items: [{ type: 'TextBlock', text: inert(text), wrap: true, ...(header ? { weight: 'Bolder' } : {}) }],
  });
  const tableRows: CardElement[] = [
    { type: 'TableRow', cells: columns.map((c) => cell(c, true)) },
    ...shown.map((row) => ({ type: 'TableRow', cells: columns.map((_, i) => cell(cardValue(row[i] ?? ''))) })),
  ];
  const element: CardElement = {
    type: 'Table',
    firstRowAsHeader: true,
    showGridLines: false,
    columns: columns.map(() => ({ width: 1 })),
    rows: tableRows,
    // Clients without Table (older than 1.5) show the same rows as fixed-width text.
    fallback: { type: 'TextBlock', text: monospaceTable(columns, shown, now), fontType: 'Monospace', wrap: true },
  };
  if (rows.length <= shown.length) return element;
  const cut = rows.length - shown.length;
  return {
    type: 'Container',
    items: [element, { type: 'TextBlock', text: `…and ${cut} more row${cut === 1 ? '' : 's'} not shown here.`, wrap: true, isSubtle: true }],
  };
}

function monospaceTable(columns: string[], rows: Value[][], now: number): string {
  const cells = [columns, ...rows.map((row) => columns.map((_, i) => plainValue(row[i] ?? '', now)))];
  const widths = columns.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? '').length)));
  return cells.map((row) => row.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n\n');
}

/**
 * A command button: Action.Execute (the invoke answer replaces the card), falling back to
 * Action.Submit on clients without Universal Actions. Release first shows what it destroys,
 * inside the card (Action.ShowCard), and only its confirm button sends `release <vm> --yes`: the
 * user confirms without a round trip, and clicking Release again folds it away (cancel).
 */
function commandAction(action: Action, owner: string | undefined): CardElement {
  const words = action.command.trim().split(/\s+/);
  const isRelease = words[0]?.toLowerCase() === 'release';
  const confirmed = words.includes('--yes');
  if (isRelease && !confirmed) {
    const vm = words.slice(1).find((w) => !w.startsWith('--'));
    const command = `${action.command.trim()} --yes`;
    return {
      type: 'Action.ShowCard',
      title: truncate(action.label, LIMITS.buttonTitle),
      card: {
        type: 'AdaptiveCard',
        body: [
          { type: 'TextBlock', text: vm ? `Release ${vm}?` : 'Release your VM?', weight: 'Bolder', wrap: true },
          { type: 'TextBlock', text: 'It will be destroyed; anything outside your home directory is lost. Your home directory is kept.', wrap: true },
        ],
        actions: [executeAction(vm ? `Yes, release ${vm}` : 'Yes, release it', command, 'danger', owner)],
      },
    };
  }
  return executeAction(action.label, action.command.trim(), action.style, owner);
}

function executeAction(label: string, command: string, style: Action['style'], owner: string | undefined): CardElement {
  const data: ActionData = owner ? { command, owner } : { command };
  const verb = verbFor(command);
  const title = truncate(label, LIMITS.buttonTitle);
  const cardStyle = style === 'primary' ? 'positive' : style === 'danger' ? 'destructive' : undefined;
  return {
    type: 'Action.Execute',
    title,
    verb,
    data,
    ...(cardStyle ? { style: cardStyle } : {}),
    // The value arrives as a message's `value`; {type, verb, data} is the shape the Agents SDK validates.
    fallback: { type: 'Action.Submit', title, data: { type: 'Action.Submit', verb, data }, ...(cardStyle ? { style: cardStyle } : {}) },
  };
}


