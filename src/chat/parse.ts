import { UserError } from '../core/errors.ts';

/** Longest message the bot reads; anything longer is refused rather than cut. */
export const MAX_INPUT_LENGTH = 500;
/** The command's name typed in front, as a word of its own. */
const PREFIX = /^\/?daaas(?=\s|$)\s*/i;
const WORD = /^[\p{L}\p{N}._:@-]{1,64}$/u;

export interface ParsedInput {
  words: string[];
  flags: Set<string>;
}

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
  for (const token of trimmed.split(/ +/).filter(Boolean)) {
    if (token.startsWith('--') && WORD.test(token.slice(2))) flags.add(token.slice(2).toLowerCase());
    else if (WORD.test(token) && !token.startsWith('-')) words.push(token);
    else {
      // Cut by character, not UTF-16 unit, so an emoji is never split into half a character.
      const chars = [...token];
      const shown = chars.length > 40 ? `${chars.slice(0, 40).join('')}…` : token;
      throw new UserError('BAD_INPUT', `"${shown}" is not something the bot understands: names use letters, digits, dots, dashes and underscores.`, 'See: help');
    }
  }
  return { words, flags };
}
