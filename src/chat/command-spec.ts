import type { AdminCommandAudit, DaaasService } from '../core/service.ts';
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
  /** What follows the flag when it takes a text (`TEXT` for `--reason TEXT`); see parse.ts. */
  value?: string;
}

/** What a command handler gets: who asks, from where, the parsed words, and the core. */
export interface CommandContext {
  who: Principal;
  origin: Origin;
  args: Record<string, string | undefined>;
  flags: ReadonlySet<string>;
  /** The text of flags that take one (`--reason`), by flag name. */
  values: ReadonlyMap<string, string>;
  service: DaaasService;
  /**
   * Admin commands only: the command's one audit record. A use case that changes something
   * writes it with its change; the dispatcher writes it otherwise.
   */
  audit?: AdminCommandAudit;
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
  const flags = (spec.flags ?? []).map((f) => (f.value ? `[--${f.name} ${f.value}]` : `[--${f.name}]`));
  return [spec.name, ...args, ...flags].join(' ');
}

/** Every admin command accepts --yes: it skips the question where there is one, and is harmless elsewhere. */
export const YES_FLAG: FlagSpec = { name: 'yes', description: 'Do it without asking to confirm (harmless where nothing needs confirming).' };

/** Why an admin acts: audited, and told to whoever is affected. */
export const REASON_FLAG: FlagSpec = { name: 'reason', value: 'TEXT', description: 'Why: audited, and told to whoever is affected (the rest of the line, up to the next --flag).' };
