import type { AlertStore } from '../ports/alerts.ts';
import type { Recipient } from '../ports/notifier.ts';

/** Who a message to a place (a channel, a conversation) is addressed to in the outbox. */
export const ALERTS_RECIPIENT = '#alerts';
const TERMINAL = 'shell';
const SLACK = 'slack';

export interface AlertDestinationOptions {
  settings: { slackChannel: string | null; directToAdmins: boolean };
  /** Admins named in the configuration (accounts; directory groups cannot be messaged). */
  admins: readonly string[];
  /** Whether the terminal's account is an admin (access.localUserIsAdmin). */
  localUserIsAdmin: boolean;
  localAccounts: ReadonlySet<string>;
  /** The conversations kept with `admin alerts here`. */
  alerts: AlertStore;
  /** The chat platforms running now (the notifier's routes). */
  platforms: () => string[];
}

/**
 * Where alerts go, worked out when each is queued: the configured Slack channel, the
 * conversations kept with `admin alerts here`, each named admin on every platform in use, and
 * the terminal's admin. A platform that is not running gets nothing (it could never deliver).
 */
export class AlertDestinations {
  constructor(private readonly options: AlertDestinationOptions) {}

  recipients(): Recipient[] {
    const running = new Set(this.options.platforms());
    const to: Recipient[] = [];
    if (this.options.settings.slackChannel && running.has(SLACK)) to.push({ platform: SLACK, user: ALERTS_RECIPIENT, conversation: this.options.settings.slackChannel });
    for (const kept of this.options.alerts.alertConversations()) if (running.has(kept.platform)) to.push({ platform: kept.platform, user: ALERTS_RECIPIENT, conversation: kept.conversation });
    if (this.options.settings.directToAdmins) {
      for (const platform of running) if (platform !== TERMINAL) for (const admin of this.namedAdmins()) to.push({ platform, user: admin, conversation: '' });
    }
    if (running.has(TERMINAL)) for (const account of this.terminalAdmins()) to.push({ platform: TERMINAL, user: account, conversation: TERMINAL });
    return to;
  }

  /** The same, in words, for `admin alerts` (a configured destination that is not running is said so). */
  describe(): string[] {
    const running = new Set(this.options.platforms());
    const words: string[] = [];
    const down = (platform: string) => (running.has(platform) ? '' : ` (${platform} is not running)`);
    if (this.options.settings.slackChannel) words.push(`the Slack channel ${this.options.settings.slackChannel}${down(SLACK)}`);
    for (const kept of this.options.alerts.alertConversations()) {
      words.push(`the ${kept.platform} conversation set by ${kept.setBy} on ${new Date(kept.setAt).toISOString().slice(0, 16).replace('T', ' ')} UTC${down(kept.platform)}`);
    }
    const platforms = [...running].filter((p) => p !== TERMINAL);
    const admins = this.namedAdmins();
    if (this.options.settings.directToAdmins && admins.length > 0 && platforms.length > 0) words.push(`a direct message to each admin (${admins.join(', ')}) on ${platforms.join(', ')}`);
    if (running.has(TERMINAL) && this.terminalAdmins().length > 0) words.push('the terminal');
    return words;
  }

  private namedAdmins(): string[] {
    return this.options.admins.filter((a) => !a.startsWith('ldap:'));
  }

  private terminalAdmins(): string[] {
    return [...this.options.localAccounts].filter((a) => this.options.localUserIsAdmin || this.options.admins.includes(a));
  }
}
