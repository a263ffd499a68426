import { UserError } from '../core/errors.ts';

/** Longest message the bot reads; anything longer is refused rather than cut. */
export const MAX_INPUT_LENGTH = 500;
/** The command's name typed in front, as a word of its own. */
const PREFIX = /^\/?daaas(?=\s|$)\s*/i;
const WORD = /^[\p{L}\p{N}._:@-]{1,64}$/u;

export interface ParsedInput {
  words: string[];
  flags: Set<string>;
  /** The text of flags that take one (`--reason TEXT`), by flag name. */
  values: Map<string, string>;
}

/**
 * Flags followed by free text, up to the next `--flag` or the end: `--reason image rebuild`.
 * Their text may hold spaces and ordinary punctuation, never markup or shell syntax.
 */
export const TEXT_FLAGS: ReadonlySet<string> = new Set(['reason']);
const TEXT_WORD = /^[\p{L}\p{N}.,:;!?()'/@#%+=_-]{1,64}$/u;
const MAX_TEXT_LENGTH = 200;
/** A token in straight or curly quotes, single or double: what is inside. */
const QUOTED = /^["“”'‘’](.+)["“”'‘’]$/u;

/**
 * Splits a chat message into words and `--flags`. Commands take only simple words (pool and VM
 * names, subcommands), so anything else — quotes, shell or template syntax, control
 * characters — is refused here with a clear message, before any command sees it.
 */
export function parseInput(raw: string): ParsedInput {
  if (raw.length > MAX_INPUT_LENGTH) {
    throw new UserError('BAD_INPUT', `That message is ${raw.length} characters long; commands are at most ${MAX_INPUT_LENGTH}.`, 'See: help');
  }
  if (/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]/u.test(raw)) {
    throw new UserError('BAD_INPUT', 'That message holds control or invisible characters; please type the command again.');
  }
  const trimmed = raw.replace(/[\u00a0\t\n]/g, ' ').trim().replace(PREFIX, '');
  const words: string[] = [];
  const flags = new Set<string>();
  const values = new Map<string, string>();
  let textOf: string | null = null;
  let text: string[] = [];
  const endText = () => {
    if (textOf === null) return;
    const value = text.join(' ').replace(/^["“”](.*)["“”]$/u, '$1').trim();
    if (value === '') throw new UserError('BAD_INPUT', `--${textOf} needs a text after it, e.g. --${textOf} image rebuild.`, 'See: help');
    if (value.length > MAX_TEXT_LENGTH) throw new UserError('BAD_INPUT', `The text of --${textOf} is ${value.length} characters long; at most ${MAX_TEXT_LENGTH}.`);
    values.set(textOf, value);
    textOf = null;
    text = [];
  };
  for (const token of trimmed.split(/ +/).filter(Boolean)) {
    if (token.startsWith('--') && WORD.test(token.slice(2))) {
      endText();
      const flag = token.slice(2).toLowerCase();
      flags.add(flag);
      if (TEXT_FLAGS.has(flag)) textOf = flag;
    } else if (textOf !== null && TEXT_WORD.test(token.replace(/^["“”]|["“”]$/gu, '') || 'x')) text.push(token);
    else if (/^-h$/i.test(token)) {
      // The short form of --help, as on a command line.
      endText();
      flags.add('help');
    } else if (WORD.test(token) && !token.startsWith('-')) words.push(token);
    else {
      const quoted = QUOTED.exec(token);
      if (quoted && WORD.test(quoted[1]!) && !quoted[1]!.startsWith('-')) {
        throw new UserError('BAD_INPUT', `Names need no quotes: write ${quoted[1]} rather than ${token}.`, 'See: help');
      }
      // Cut by character, not UTF-16 unit, so an emoji is never split into half a character.
      const chars = [...token];
      const shown = chars.length > 40 ? `${chars.slice(0, 40).join('')}…` : token;
      // A word already in quotes is shown as typed, not in a second pair of them.
      throw new UserError('BAD_INPUT', `${/^["“”'‘’]|["“”'‘’]$/u.test(shown) ? shown : `"${shown}"`} is not something the bot understands: names use letters, digits, dots, dashes and underscores.`, 'See: help');
    }
  }
  endText();
  return { words, flags, values };
}
