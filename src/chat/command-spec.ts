import type { DaaasService } from '../core/service.ts';
import type { Origin, Principal } from '../core/model.ts';
import type { Reply } from './reply.ts';

export interface ArgSpec {
  name: string;
  description: string;
  required?: boolean;
}

export interface FlagSpec {
  name: string;
  description: string;
}

/** What a command handler gets: who asks, from where, the parsed words, and the core. */
export interface CommandContext {
  who: Principal;
  origin: Origin;
  args: Record<string, string | undefined>;
  flags: ReadonlySet<string>;
  service: DaaasService;
  now: number;
  /** Every command, for help. */
  commands: readonly CommandSpec[];
}

/**
 * A chat command as data: the dispatcher parses and checks arguments and permissions from
 * these fields, and help is generated from them. Handlers never see a chat platform.
 */
export interface CommandSpec {
  /** One or more words: `claim`, `admin pools`. */
  name: string;
  summary: string;
  args: readonly ArgSpec[];
  flags?: readonly FlagSpec[];
  examples: readonly string[];
  permission: 'user' | 'admin';
  handler(ctx: CommandContext): Reply | Promise<Reply>;
}

export function usage(spec: CommandSpec): string {
  const args = spec.args.map((a) => (a.required ? `<${a.name}>` : `[${a.name}]`));
  const flags = (spec.flags ?? []).map((f) => `[--${f.name}]`);
  return [spec.name, ...args, ...flags].join(' ');
}
