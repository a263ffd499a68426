import type { types as slack } from '@slack/bolt';
import { formatDuration } from '../../core/duration.ts';
import { chunk, notificationLine, truncate, utcTime } from '../platform-text.ts';
import type { Action, Block, Reply, Tone, Value } from '../reply.ts';

/** Block Kit limits that a neutral reply can run into (Slack refuses the whole message otherwise). */
export const LIMITS = {
  messageBlocks: 50,
  homeBlocks: 100,
  sectionText: 3000,
  fieldsPerSection: 10,
  fieldText: 2000,
  actionsPerBlock: 25,
  buttonText: 75,
  buttonValue: 2000,
  confirmTitle: 100,
  confirmText: 300,
  confirmButton: 30,
  /** The notification text is shown in push notifications and screen readers: keep it short. */
  notificationText: 300,
} as const;

/** action_id prefixes: buttons that run a command, and link buttons that only open a URL. */
export const COMMAND_ACTION = 'daaas-run';
export const LINK_ACTION = 'daaas-link';

const EMOJI: Record<Tone, string> = { success: ':white_check_mark:', info: ':information_source:', warning: ':warning:', error: ':x:' };

export interface SlackRenderOptions {
  now: number;
  /** The facility account the card's buttons belong to; a click by anyone else is refused politely. */
  owner?: string;
  /** 50 for messages, 100 for App Home. */
  maxBlocks?: number;
  /** Numbers action_ids; share one across several replies rendered into the same surface. */
  ids?: IdSource;
}

export interface SlackMessage {
  /** Notification text: what happened and when, for push notifications and screen readers. */
  text: string;
  blocks: slack.KnownBlock[];
}

/** What a command button carries in its `value`: the command, and whose card it is on. */
export interface ButtonValue {
  command: string;
  owner?: string;
}

export interface IdSource {
  next(): number;
}

export function idSource(): IdSource {
  let n = 0;
  return { next: () => n++ };
}

/** Renders a neutral reply as a Slack message: Block Kit blocks and a notification text. */
export function renderBlocks(reply: Reply, options: SlackRenderOptions): SlackMessage {
  return {
    text: notificationText(reply),
    blocks: fitBlocks(replyBlocks(reply, options), options.maxBlocks ?? LIMITS.messageBlocks),
  };
}

/** The blocks of a reply, without the overall block limit (see fitBlocks). */
export function replyBlocks(reply: Reply, options: SlackRenderOptions): slack.KnownBlock[] {
  const ids = options.ids ?? idSource();
  const out: slack.KnownBlock[] = [mrkdwnSection(`${EMOJI[reply.tone]} *${escape(reply.title)}*`)];
  for (const block of reply.blocks) out.push(...renderBlock(block, { ...options, ids }));
  return out;
}

/**
 * Keeps a surface within its block limit: what does not fit is replaced by a last line saying
 * so, rather than Slack refusing the whole message.
 */
export function fitBlocks(blocks: slack.KnownBlock[], max: number): slack.KnownBlock[] {
  if (blocks.length <= max) return blocks;
  const kept = blocks.slice(0, max - 1);
  const dropped = blocks.length - kept.length;
  return [...kept, { type: 'context', elements: [{ type: 'mrkdwn', text: `…and ${dropped} more part${dropped === 1 ? '' : 's'} not shown here. Ask for less, e.g. \`status\` or one VM by name.` }] }];
}

/**
 * The notification text: the title and, when the reply has a time (an expiry), that time in
 * UTC — notifications do not render Slack's date tokens for the reader's zone.
 */
export function notificationText(reply: Reply): string {
  // The notification text is mrkdwn too: a quoted word such as <!channel> must not ping anyone.
  return escape(notificationLine(reply, LIMITS.notificationText));
}

/** A time in Slack's date syntax: each reader sees it in their own zone; the fallback is UTC. */
export function slackDate(epochMs: number): string {
  return `<!date^${Math.floor(epochMs / 1000)}^{date_short_pretty} {time}|${utcFallback(epochMs)}>`;
}

export const utcFallback = utcTime;

/** `&`, `<` and `>` are control characters in Slack's mrkdwn; everything else is shown as typed. */
export function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function encodeButtonValue(value: ButtonValue): string {
  return JSON.stringify(value.owner ? { command: value.command, owner: value.owner } : { command: value.command });
}

/** The command a clicked button carries, or undefined if the value is not one of ours. */
export function decodeButtonValue(raw: string | undefined): ButtonValue | undefined {
  if (!raw) return undefined;
  try {
    const parsed = JSON.parse(raw) as unknown;
    if (typeof parsed !== 'object' || parsed === null) return undefined;
    const { command, owner } = parsed as Record<string, unknown>;
    if (typeof command !== 'string' || command.trim() === '') return undefined;
    return typeof owner === 'string' ? { command, owner } : { command };
  } catch {
    return undefined;
  }
}

function renderValue(value: Value): string {
  if (typeof value === 'string') return escape(value);
  if ('duration' in value) return formatDuration(value.duration);
  return slackDate(value.time);
}

/** Inside a code block Slack renders no date tokens, so times are written out in UTC there. */
function plainValue(value: Value): string {
  if (typeof value === 'string') return value;
  if ('duration' in value) return formatDuration(value.duration);
  return utcFallback(value.time);
}

function renderBlock(block: Block, options: SlackRenderOptions & { ids: IdSource }): slack.KnownBlock[] {
  switch (block.type) {
    case 'text':
      return textBlocks(block.text, options.ids);
    case 'fields':
      return chunk(block.fields, LIMITS.fieldsPerSection).map(
        (group): slack.SectionBlock => ({
          type: 'section',
          fields: group.map((f) => ({ type: 'mrkdwn', text: truncate(`*${escape(f.label)}*\n${renderValue(f.value)}`, LIMITS.fieldText) })),
        }),
      );
    case 'table':
      return tableBlocks(block.columns, block.rows);
    case 'actions':
      return chunk(block.actions, LIMITS.actionsPerBlock).map(
        (group): slack.ActionsBlock => ({ type: 'actions', elements: group.map((a) => commandButton(a, options.owner, options.ids)) }),
      );
  }
}

/**
 * A text block; long text is split on line boundaries into sections Slack accepts. A lease's
 * "Connect:" line gets a button that opens the first web address in it (the remote desktop).
 */
function textBlocks(text: string, ids: IdSource): slack.KnownBlock[] {
  const sections = splitText(escape(text), LIMITS.sectionText).map((part) => mrkdwnSection(part));
  const url = /^Connect:/.test(text) ? /https?:\/\/[^\s<>|·]+/.exec(text)?.[0] : undefined;
  const first = sections[0];
  if (url && first && url.length <= 3000) {
    first.accessory = { type: 'button', text: plainText('Connect'), url, action_id: `${LINK_ACTION}:${ids.next()}` };
  }
  return sections;
}

function tableBlocks(columns: string[], rows: Value[][]): slack.KnownBlock[] {
  const cells = [columns, ...rows.map((row) => row.map(plainValue))];
  const widths = columns.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? '').length)));
  const line = (row: string[]) => row.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  const lines = [line(cells[0]!), line(widths.map((w) => '-'.repeat(w))), ...cells.slice(1).map(line)].map(escape);
  const fence = '```';
  // Each part is its own code block, so every part stays readable on its own.
  return splitText(lines.join('\n'), LIMITS.sectionText - 2 * fence.length - 2).map((part) => mrkdwnSection(`${fence}\n${part}\n${fence}`));
}

function commandButton(action: Action, owner: string | undefined, ids: IdSource): slack.Button {
  const words = action.command.trim().split(/\s+/);
  const confirmed = words.includes('--yes');
  const isRelease = words[0]?.toLowerCase() === 'release';
  // Slack's confirmation dialog is the "are you sure": once it is accepted, the release needs no
  // second confirmation, so the button carries --yes.
  const command = isRelease && !confirmed ? `${action.command.trim()} --yes` : action.command.trim();
  const button: slack.Button = {
    type: 'button',
    text: plainText(truncate(action.label, LIMITS.buttonText)),
    action_id: `${COMMAND_ACTION}:${ids.next()}`,
    value: truncate(encodeButtonValue(owner ? { command, owner } : { command }), LIMITS.buttonValue),
  };
  if (action.style) button.style = action.style;
  if ((isRelease || action.style === 'danger') && !confirmed) button.confirm = confirmFor(action, words);
  return button;
}

function confirmFor(action: Action, words: string[]): slack.ConfirmationDialog {
  const vm = words[0]?.toLowerCase() === 'release' ? words.slice(1).find((w) => !w.startsWith('--')) : undefined;
  const title = vm ? `Release ${vm}?` : `${action.label}?`;
  const body = vm
    ? `${vm} will be destroyed; anything outside your home directory is lost. Your home directory is kept.`
    : `This runs "${action.command}" and cannot be undone.`;
  return {
    title: plainText(truncate(title, LIMITS.confirmTitle)),
    text: plainText(truncate(body, LIMITS.confirmText)),
    confirm: plainText(truncate(vm ? 'Release' : action.label, LIMITS.confirmButton)),
    deny: plainText('Cancel'),
    style: 'danger',
  };
}

function mrkdwnSection(text: string): slack.SectionBlock {
  return { type: 'section', text: { type: 'mrkdwn', text: truncate(text, LIMITS.sectionText) } };
}

function plainText(text: string): slack.PlainTextElement {
  return { type: 'plain_text', text, emoji: true };
}

/** Splits on line boundaries into parts of at most `max` characters; over-long lines are cut. */
function splitText(text: string, max: number): string[] {
  const parts: string[] = [];
  let current = '';
  for (const raw of text.split('\n')) {
    const line = truncate(raw, max);
    if (current !== '' && current.length + 1 + line.length > max) {
      parts.push(current);
      current = line;
    } else {
      current = current === '' ? line : `${current}\n${line}`;
    }
  }
  parts.push(current === '' ? ' ' : current);
  return parts;
}
