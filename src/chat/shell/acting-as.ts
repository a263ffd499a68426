/**
 * `as <user> <command>` at the bot's terminal: the local admin tries the bot as someone else
 * (a queue forming, a hold offered and passed) without a Slack workspace. Here: reading the
 * line, and showing that user's buttons as the commands to type. Who may, and the audit, are
 * the dispatcher's (Dispatcher.dispatchActing).
 */
import { isAccountName, notAnAccountName } from '../../core/account-name.ts';
import { reply, text, type Reply } from '../reply.ts';

export type ActAs = { as: string; text: string } | { refused: Reply };

const USAGE = 'Usage: as <user> <command>, e.g. as bob claim excitations';

/** The line's `as <user> <command>`, a refusal when it is malformed, or undefined for any other line. */
export function parseActAs(line: string): ActAs | undefined {
  const match = /^(?:\/daaas\s+)?as(?:\s+(.*))?$/is.exec(line.trim());
  if (!match) return undefined;
  const [user, ...rest] = (match[1] ?? '').trim().split(/\s+/).filter(Boolean);
  if (!user || rest.length === 0) return { refused: reply('error', '"as" needs someone to act as and a command to run as them.', text(USAGE)) };
  if (!isAccountName(user)) return { refused: reply('error', `Cannot act as someone of that name: ${notAnAccountName(user)}.`, text(USAGE)) };
  if (rest[0]!.toLowerCase() === 'as') return { refused: reply('error', 'One "as" at a time: act as one person per line.', text(USAGE)) };
  return { as: user, text: rest.join(' ') };
}

/** The reply with each button's command prefixed `as <user>`, so typing it acts as them again. */
export function asCommands(message: Reply, user: string): Reply {
  return {
    ...message,
    blocks: message.blocks.map((block) =>
      block.type === 'actions' ? { ...block, actions: block.actions.map((a) => ({ ...a, command: `as ${user} ${a.command}` })) } : block,
    ),
  };
}
