import { createInterface, type Interface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import type { Clock } from '../../ports/clock.ts';
import { silentLogger, type Logger } from '../../ports/logger.ts';
import type { Notifier, Recipient } from '../../ports/notifier.ts';
import { InboundPipeline } from '../inbound.ts';
import { TERMINAL_PLATFORM, type Invocation } from '../invocation.ts';
import type { Reply } from '../reply.ts';
import { asCommands, parseActAs } from './acting-as.ts';
import { renderText } from './render-text.ts';

export interface ShellAdapterOptions {
  input: Readable;
  output: Writable;
  /** The chat user at the keyboard. */
  account: string;
  /** A terminal gets a prompt; a pipe gets each line echoed so the output reads as a transcript. */
  interactive: boolean;
  clock: Clock;
  dispatch: (invocation: Invocation) => Promise<Reply>;
  timeZone?: string;
  /** Where the pipeline logs a failed command. Default: nowhere (the reference is on screen). */
  log?: Logger;
  /** The terminal's width now (process.stdout.columns): tables fit it. Undefined: no limit. */
  columns?: () => number | undefined;
  /**
   * Whether the person at the keyboard is an admin of the bot, who may act as others
   * (`as bob claim excitations`) and then sees their direct messages too. Default: not.
   */
  isAdmin?: (account: string) => Promise<boolean>;
}

export const SHELL_PLATFORM = TERMINAL_PLATFORM;
const CONVERSATION = 'terminal';

/**
 * The terminal as a chat platform: the person at the keyboard is the chat user, every line is
 * a message, and direct messages (reminders) appear between the prompts.
 */
export class ShellAdapter implements Notifier {
  private rl: Interface | undefined;
  private queue: Promise<void> = Promise.resolve();
  private closed = false;
  /** The users the admin at the keyboard has acted as: their direct messages are shown here too. */
  private readonly actedAs = new Set<string>();
  /** The person at the keyboard is who they say: identifying is trivial, nothing is delivered twice. */
  private readonly inbound: InboundPipeline<string, string>;

  constructor(private readonly options: ShellAdapterOptions) {
    this.inbound = new InboundPipeline({
      platform: SHELL_PLATFORM,
      platformName: 'the terminal',
      dispatch: options.dispatch,
      lookUp: async (account) => ({ ok: true, account }),
      render: (answer, { now }) => renderText(answer, { now, timeZone: options.timeZone, width: options.columns?.() }),
      howToClaim: 'You can claim a VM of your own with: claim <pool> (see the pools with: pools).',
      clock: options.clock,
      log: options.log ?? silentLogger,
    });
  }

  /** Reads lines until the input ends (or `exit`); resolves once every answer is printed. */
  run(): Promise<void> {
    const rl = createInterface({ input: this.options.input, output: this.options.interactive ? this.options.output : undefined, terminal: this.options.interactive });
    this.rl = rl;
    rl.setPrompt(`${this.options.account}> `);
    return new Promise((resolve) => {
      rl.on('line', (line) => {
        // readline may still deliver lines that arrived in the same chunk as `exit`: they are
        // after the user left, so they are not run.
        if (this.closed) return;
        const textIn = line.trim();
        if (textIn === '') return this.prompt();
        if (/^(exit|quit)$/i.test(textIn)) {
          this.closed = true;
          return rl.close();
        }
        // Lines are answered in order, one at a time, however fast they arrive; one failure
        // is reported and does not stop the lines after it.
        this.queue = this.queue.then(() => this.answer(textIn)).catch((error: unknown) => {
          this.print(`✖ That message could not be answered: ${error instanceof Error ? error.message : String(error)}\n`);
        });
      });
      rl.on('close', () => {
        this.closed = true;
        if (this.options.interactive) this.options.output.write('\n');
        void this.queue.then(() => {
          this.rl = undefined;
          resolve();
        });
      });
      this.prompt();
    });
  }

  async notify(to: Recipient, message: Reply): Promise<void> {
    // Someone else's message (a user the admin acted as): their buttons are the commands to type.
    const shown = to.user === this.options.account ? message : asCommands(message, to.user);
    this.print(`\n[direct message to ${to.user}]\n${this.render(shown)}\n`);
  }

  /**
   * A direct message delivered on another platform (Slack, Teams) to a user the admin here has
   * acted as: shown here too. Messages for the terminal itself come through `notify`.
   */
  mirror(to: Recipient, message: Reply): void {
    if (to.platform === SHELL_PLATFORM || !this.actedAs.has(to.user)) return;
    this.print(`\n[direct message to ${to.user}]\n${this.render(asCommands(message, to.user))}\n`);
  }

  private async answer(line: string): Promise<void> {
    if (!this.options.interactive) this.options.output.write(`${this.options.account}> ${line}\n`);
    const acting = parseActAs(line);
    if (acting && 'refused' in acting) return this.print(`${this.render(acting.refused)}\n`);
    if (acting && acting.as !== this.options.account) {
      // The dispatcher decides (admins only) and audits; this only remembers whose messages to show.
      const outcome = await this.inbound.handle({ user: acting.as, conversation: CONVERSATION, text: acting.text, actingAdmin: this.options.account });
      if (outcome.kind === 'answered' && (await this.isAdmin())) this.actedAs.add(acting.as);
      return this.print(`${this.render(asCommands(outcome.reply, acting.as))}\n`);
    }
    const outcome = await this.inbound.handle({ user: this.options.account, conversation: CONVERSATION, text: acting ? acting.text : line });
    this.print(`${outcome.rendered}\n`);
  }

  private async isAdmin(): Promise<boolean> {
    try {
      return (await this.options.isAdmin?.(this.options.account)) ?? false;
    } catch {
      return false;
    }
  }

  private render(message: Reply): string {
    return renderText(message, { now: this.options.clock.now(), timeZone: this.options.timeZone, width: this.options.columns?.() });
  }

  /** Writes above the prompt in a terminal, so typing in progress is not mangled. */
  private print(textOut: string): void {
    if (this.rl && this.options.interactive) {
      this.options.output.write('\r\x1b[K');
      this.options.output.write(`${textOut}\n`);
      this.rl.prompt(true);
    } else {
      this.options.output.write(`${textOut}\n`);
    }
  }

  private prompt(): void {
    if (this.options.interactive) this.rl?.prompt();
  }
}

export interface InputWorkOptions {
  /** What the input started that is not finished yet: home set-ups, messages about to be sent. */
  pending: () => { setups: number; messages: number };
  clock: Clock;
  /** How long to wait at most. */
  limitMs: number;
  /** How often to look again. Default 100 ms. */
  pollMs?: number;
  /** Where the wait is announced, and what is left when it runs out. */
  say: (text: string) => void;
}

/**
 * At the end of piped input: waits (up to a limit, said) for the work the input started — a
 * claimed VM's home set-up and the message saying it is ready — so a script's last word is not
 * "being set up" until the next start. True when nothing was left.
 */
export async function waitForInputWork(options: InputWorkOptions): Promise<boolean> {
  const busy = () => {
    const { setups, messages } = options.pending();
    return setups + messages > 0 ? { setups, messages } : undefined;
  };
  let left = busy();
  if (!left) return true;
  const seconds = Math.round(options.limitMs / 1000);
  const what = left.setups > 0 ? `${left.setups} home set-up${left.setups === 1 ? '' : 's'}` : `${left.messages} message${left.messages === 1 ? '' : 's'}`;
  options.say(`(End of input: waiting up to ${seconds} s for ${what} to finish.)\n`);
  const until = options.clock.now() + options.limitMs;
  while (left && options.clock.now() < until) {
    await options.clock.sleep(Math.min(options.pollMs ?? 100, Math.max(1, until - options.clock.now())));
    left = busy();
  }
  if (left) {
    options.say(`(Stopped waiting after ${seconds} s: ${left.setups > 0 ? `${left.setups} home set-up${left.setups === 1 ? ' is' : 's are'} still running; ` : ''}the bot carries on at its next start.)\n`);
    return false;
  }
  return true;
}
