/**
 * A platform-neutral reply. Commands build these; each chat adapter renders them (plain text
 * in the shell, Block Kit in Slack, an Adaptive Card in Teams). Nothing here knows a platform.
 */

/** A value that platforms may render specially: Slack shows times in each reader's zone. */
export type Value = string | { time: number } | { duration: number };

export interface Field {
  label: string;
  value: Value;
}

/** A button: clicking it runs `command` as the user who clicked. */
export interface Action {
  label: string;
  command: string;
  style?: 'primary' | 'danger';
}

export type Block =
  | { type: 'text'; text: string }
  | { type: 'fields'; fields: Field[] }
  | { type: 'table'; columns: string[]; rows: Value[][] }
  | { type: 'actions'; actions: Action[] };

export type Tone = 'success' | 'info' | 'warning' | 'error';

export interface Reply {
  tone: Tone;
  title: string;
  blocks: Block[];
}

export function reply(tone: Tone, title: string, ...blocks: (Block | undefined | false)[]): Reply {
  return { tone, title, blocks: blocks.filter((b): b is Block => Boolean(b)) };
}

export const text = (value: string): Block => ({ type: 'text', text: value });
export const fields = (...items: Field[]): Block => ({ type: 'fields', fields: items });
export const table = (columns: string[], rows: Value[][]): Block => ({ type: 'table', columns, rows });
export const actions = (...items: Action[]): Block => ({ type: 'actions', actions: items });
