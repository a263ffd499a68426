/**
 * What admins ask about alerts from chat: the open ones and the last resolved, where alerts go,
 * and `admin alerts here` (alerts also go to the conversation it was said in).
 */
import type { AlertConversation, AlertStore } from '../ports/alerts.ts';
import type { Clock } from '../ports/clock.ts';
import type { Alert } from './alerts.ts';
import { UserError } from './errors.ts';
import type { Origin } from './model.ts';

export interface AlertOverview {
  open: Alert[];
  /** The last resolved, newest first. */
  resolved: Alert[];
  /** Where alerts go now, in words. */
  destinations: string[];
}

export interface AlertDeskOptions {
  alerts: AlertStore;
  clock: Clock;
  transaction: <T>(fn: () => T) => T;
  /** Where alerts go now, in words (the configured ones and those set in chat). */
  destinations: () => string[];
}

/** Resolved alerts shown by `admin alerts`. */
export const RESOLVED_SHOWN = 10;

export class AlertDesk {
  constructor(private readonly options: AlertDeskOptions) {}

  overview(): AlertOverview {
    return { open: this.options.alerts.liveAlerts().filter((a) => a.status === 'open'), resolved: this.options.alerts.resolvedAlerts(RESOLVED_SHOWN), destinations: this.options.destinations() };
  }

  /**
   * Alerts also go to the conversation `origin` is in, from now on (one per platform: the latest
   * replaces the one before). `record` writes the admin's audit record in the same transaction.
   * Refused where the platform cannot say where a message was said (the terminal already gets
   * them; in Slack, alerts go to the configured channel).
   */
  here(who: string, origin: Origin, record: (detail: Record<string, unknown>) => void): AlertConversation {
    if (!origin.place) {
      if (origin.platform === 'shell') throw new UserError('BAD_INPUT', 'The terminal already shows every alert to its admin.', 'Teams: say admin alerts here in the channel that should get them. Slack: set alerts.slackChannel.');
      if (origin.platform === 'slack') {
        throw new UserError('BAD_INPUT', 'In Slack, alerts go to the channel named in the configuration (alerts.slackChannel), and to admins directly.', 'Ask whoever runs the bot to set alerts.slackChannel to the channel’s id.');
      }
      throw new UserError('BAD_INPUT', `This chat (${origin.platform}) cannot be kept as a place for alerts.`, 'Say admin alerts here in the Teams channel that should get them.');
    }
    const entry: AlertConversation = { platform: origin.platform, conversation: origin.place, setBy: who, setAt: this.options.clock.now() };
    this.options.transaction(() => {
      this.options.alerts.setAlertConversation(entry);
      record({ platform: origin.platform });
    });
    return entry;
  }
}
