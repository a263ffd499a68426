import { randomUUID } from 'node:crypto';
import { isUserError, UserError } from '../core/errors.ts';
import type { Principal } from '../core/model.ts';
import type { AdminCommandAudit, DaaasService } from '../core/service.ts';
import { suggest } from '../core/suggest.ts';
import type { Clock } from '../ports/clock.ts';
import type { Logger } from '../ports/logger.ts';
import type { Metrics } from '../ports/metrics.ts';
import { usage, type CommandContext, type CommandSpec } from './command-spec.ts';
import { TERMINAL_PLATFORM, type Invocation } from './invocation.ts';
import { parseInput } from './parse.ts';
import { internalErrorReply } from './platform-text.ts';
import { reply, text, type Reply } from './reply.ts';

export interface DispatcherOptions {
  commands: readonly CommandSpec[];
  service: DaaasService;
  clock: Clock;
  log: Logger;
  /**
   * Who an invocation's account is: admin or not, groups. May ask the facility directory, and
   * may refuse with a UserError (an account it does not have, or one disabled there).
   */
  principal: (invocation: Invocation) => Principal | Promise<Principal>;
  metrics?: Metrics;
}

/**
 * The one entry point for every chat platform: text in, neutral Reply out. Parses, finds the
 * command, checks arguments and permission, runs it, and turns errors into answers.
 */
export class Dispatcher {
  private readonly byName: Map<string, CommandSpec>;

  constructor(private readonly options: DispatcherOptions) {
    this.byName = new Map(options.commands.map((c) => [c.name, c]));
  }

  get commands(): readonly CommandSpec[] {
    return this.options.commands;
  }

  async dispatch(invocation: Invocation): Promise<Reply> {
    if (invocation.actingAdmin !== undefined && invocation.actingAdmin !== invocation.account) return this.dispatchActing(invocation, invocation.actingAdmin);
    const requestId = invocation.requestId ?? randomUUID().slice(0, 8);
    const log = this.options.log.child({ requestId, platform: invocation.platform, user: invocation.account });
    const started = this.options.clock.elapsedMs();
    let command = 'unknown';
    let result = 'ok';
    try {
      const { words, flags, values } = parseInput(invocation.text);
      const found = this.find(words);
      if ('group' in found) {
        // A group's word alone (`admin`): its commands are named only to those who may run them.
        const who = await this.options.principal(invocation);
        throw this.unknownCommand(words, found.group.filter((c) => c.permission === 'user' || who.isAdmin));
      }
      const { spec, rest } = found;
      command = spec.name;
      // `<command> --help` (or -h): that command's help, whatever else was typed; `help --help` is help.
      const helpSpec = this.byName.get('help');
      if (helpSpec && flags.delete('help') && spec.name !== 'help') {
        const who = await this.options.principal(invocation);
        return await helpSpec.handler(this.context(helpSpec, who, invocation, spec.name.split(' '), new Set(), new Map()));
      }
      log.info({ command }, 'command');
      const who = await this.options.principal(invocation);
      if (spec.permission === 'admin') return await this.runAdmin(spec, who, invocation, rest, flags, values);
      return await spec.handler(this.context(spec, who, invocation, rest, flags, values));
    } catch (error) {
      if (isUserError(error)) {
        result = error.code;
        log.info({ code: error.code }, 'command refused');
        return reply('error', error.message, error.hint ? text(error.hint) : undefined);
      }
      result = 'INTERNAL';
      log.error({ err: error }, 'command failed');
      return internalErrorReply(requestId);
    } finally {
      this.options.metrics?.command(command, result, this.options.clock.elapsedMs() - started);
    }
  }

  /**
   * The terminal's admin acting as someone else (`as bob claim excitations`): the command runs as
   * that user, with their rights, not the admin's; one audit record names the admin, whom they
   * acted as, the command and how it went. Refused elsewhere than the terminal and for non-admins.
   */
  private async dispatchActing(invocation: Invocation, admin: string): Promise<Reply> {
    const { actingAdmin: _, ...asUser } = invocation;
    let who: Principal;
    try {
      if (invocation.platform !== TERMINAL_PLATFORM) throw new UserError('NOT_ALLOWED', 'Acting as someone else is possible only at the bot’s own terminal.');
      who = await this.options.principal({ ...asUser, account: admin });
    } catch (error) {
      if (!isUserError(error)) throw error;
      return reply('error', error.message, error.hint ? text(error.hint) : undefined);
    }
    const audit: AdminCommandAudit = { who, command: 'as', target: invocation.account, reason: null, written: false };
    if (!who.isAdmin) {
      this.options.service.auditAdminCommand(audit, 'ADMIN_ONLY', { command: invocation.text });
      return reply('error', `Only an admin of the bot may act as someone else, so "${invocation.text}" was not run as ${invocation.account}.`, text('Run it as yourself, without "as".'));
    }
    const answer = await this.dispatch(asUser);
    this.options.service.auditAdminCommand(audit, answer.tone === 'error' ? 'refused' : 'ok', { command: invocation.text, answer: answer.title });
    return answer;
  }

  /**
   * Admin commands are audited whatever they do, and so are attempts by non-admins: one record
   * each, with the admin, the target (the command's words) and the reason given.
   */
  private async runAdmin(spec: CommandSpec, who: Principal, invocation: Invocation, rest: string[], flags: Set<string>, values: Map<string, string>): Promise<Reply> {
    const audit: AdminCommandAudit = { who, command: spec.name, target: rest.join(' ') || '-', reason: values.get('reason') ?? null, written: false };
    const write = (result: string) => {
      if (!audit.written) this.options.service.auditAdminCommand(audit, result);
    };
    if (!who.isAdmin) {
      write('ADMIN_ONLY');
      throw new UserError('ADMIN_ONLY', `"${spec.name}" is for admins of the bot.`, 'See what you can do with: help');
    }
    try {
      const result = await spec.handler({ ...this.context(spec, who, invocation, rest, flags, values), audit });
      write('ok');
      return result;
    } catch (error) {
      write(isUserError(error) ? error.code : 'INTERNAL');
      throw error;
    }
  }

  private context(spec: CommandSpec, who: Principal, invocation: Invocation, rest: string[], flags: Set<string>, values: Map<string, string>): CommandContext {
    return {
      who,
      origin: { platform: invocation.platform, conversation: invocation.conversation, ...(invocation.place !== undefined ? { place: invocation.place } : {}) },
      args: bindArgs(spec, rest),
      flags: checkFlags(spec, flags),
      values,
      service: this.options.service,
      now: this.options.clock.now(),
      commands: this.options.commands,
    };
  }

  private find(words: string[]): { spec: CommandSpec; rest: string[] } | { group: CommandSpec[] } {
    if (words.length === 0) return { spec: this.byName.get('help')!, rest: [] };
    for (let n = Math.min(words.length, 3); n > 0; n--) {
      const spec = this.byName.get(words.slice(0, n).join(' ').toLowerCase());
      if (spec) return { spec, rest: words.slice(n) };
    }
    const first = words[0]!.toLowerCase();
    const group = this.options.commands.filter((c) => c.name.startsWith(`${first} `));
    if (group.length > 0) return { group };
    throw this.unknownCommand(words, []);
  }

  private unknownCommand(words: string[], group: readonly CommandSpec[]): UserError {
    if (group.length > 0) {
      return new UserError('UNKNOWN_COMMAND', `"${words.join(' ')}" is not a command.`, `Try one of: ${group.map((c) => usage(c)).join(' · ')}`);
    }
    const first = words[0]!.toLowerCase();
    const close = suggest(first, [...new Set(this.options.commands.filter((c) => c.permission === 'user').map((c) => c.name.split(' ')[0]!))]);
    return new UserError('UNKNOWN_COMMAND', `There is no command "${first}".${close ? ` Did you mean ${close}?` : ''}`, 'See every command with: help');
  }
}

function bindArgs(spec: CommandSpec, words: string[]): Record<string, string | undefined> {
  if (words.length > spec.args.length) {
    throw new UserError('BAD_INPUT', `Too many words for ${spec.name}: "${words.slice(spec.args.length).join(' ')}".`, `Usage: ${usage(spec)}`);
  }
  const bound: Record<string, string | undefined> = {};
  spec.args.forEach((arg, i) => {
    const word = words[i];
    if (word === undefined && arg.required) {
      throw new UserError('BAD_INPUT', `${spec.name} needs ${arg.description.replace(/\.$/, '').toLowerCase()}.`, `Usage: ${usage(spec)}  — e.g. ${spec.examples[0] ?? usage(spec)}`);
    }
    bound[arg.name] = word;
  });
  return bound;
}

function checkFlags(spec: CommandSpec, flags: Set<string>): Set<string> {
  const known = new Set((spec.flags ?? []).map((f) => f.name));
  for (const flag of flags) {
    if (!known.has(flag)) throw new UserError('BAD_INPUT', `${spec.name} has no option --${flag}.`, `Usage: ${usage(spec)}`);
  }
  return flags;
}
