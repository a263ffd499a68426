import { alertMessageFor, type AlertStage } from '../core/alert-messages.ts';
import { evaluateAlerts, holdMs, type Alert, type AlertDecision, type AlertSettings } from '../core/alerts.ts';
import type { Circuit } from '../core/circuit.ts';
import type { PoolSpec } from '../core/model.ts';
import type { CloudStatus } from '../core/service.ts';
import type { AlertStore } from '../ports/alerts.ts';
import type { Clock } from '../ports/clock.ts';
import type { Logger } from '../ports/logger.ts';
import type { Recipient } from '../ports/notifier.ts';
import type { Store } from '../ports/store.ts';
import { observeAlerts } from './alert-observations.ts';

/** Resolved alerts are kept this long for `admin alerts`. */
const KEEP_RESOLVED_MS = 30 * 24 * 3_600_000;

export interface AlertWatchOptions {
  store: Store;
  alerts: AlertStore;
  pools: readonly PoolSpec[];
  circuit: (pool: string) => Circuit;
  cloud: () => CloudStatus;
  queuedCount?: (pool: string) => number;
  /** Where alerts go now: the configured channel, the conversations set in chat, the admins. */
  recipients: () => Recipient[];
  settings: AlertSettings;
  clock: Clock;
  log: Logger;
  /** Called when messages were queued in the outbox, so that its sender delivers them. */
  onMessageQueued?: () => void;
}

/**
 * Runs the alert rules after each reconcile tick: observes, decides, and writes each alert's new
 * state with its messages to every destination in one transaction (the outbox delivers them).
 * Everything it knows is in the store, so open alerts survive a restart and are not raised again.
 */
export class AlertWatch {
  constructor(private readonly options: AlertWatchOptions) {}

  check(): AlertDecision[] {
    const now = this.options.clock.now();
    const { alerts, settings } = this.options;
    const live = alerts.liveAlerts();
    // A claim refused since the oldest pool-empty condition began (or within emptyFor) is someone asking.
    const askedSince = Math.min(now - holdMs('pool-empty', settings), ...live.filter((a) => a.kind === 'pool-empty').map((a) => a.since));
    const observations = observeAlerts({
      store: this.options.store,
      alerts,
      pools: this.options.pools,
      circuit: this.options.circuit,
      cloud: this.options.cloud(),
      ...(this.options.queuedCount ? { queuedCount: this.options.queuedCount } : {}),
      askedSince,
      now,
    });
    const decisions = evaluateAlerts(live, observations, now, settings);
    if (decisions.length === 0) return decisions;
    let queued = 0;
    this.options.store.transaction(() => {
      const to = this.options.recipients();
      const send = (alert: Alert, stage: AlertStage) => {
        for (const recipient of to) if (this.options.store.enqueueMessage(alertMessageFor(alert, stage, recipient, now))) queued++;
      };
      for (const d of decisions) {
        switch (d.type) {
          case 'watch':
            alerts.addAlert({ kind: d.observation.kind, pool: d.observation.pool, subject: d.observation.subject, status: 'pending', since: d.since, raisedAt: null, lastSentAt: null, sent: 0, resolvedAt: null, detail: d.observation.detail });
            break;
          case 'raise': {
            const fields = { status: 'open' as const, since: d.since, raisedAt: now, lastSentAt: now, sent: 1, detail: d.observation.detail };
            const alert = d.alert.id === 0 ? alerts.addAlert({ ...d.alert, ...fields }) : { ...d.alert, ...fields };
            if (d.alert.id !== 0) alerts.saveAlert(alert);
            send(alert, { stage: 'raised' });
            this.options.log.warn({ alert: alert.id, kind: alert.kind, pool: alert.pool || undefined, subject: alert.subject || undefined, recipients: to.length }, `alert raised: ${alert.detail}`);
            break;
          }
          case 'repeat': {
            const alert = { ...d.alert, lastSentAt: now, sent: d.alert.sent + 1, detail: d.observation.detail };
            alerts.saveAlert(alert);
            send(alert, { stage: 'repeat', count: alert.sent });
            break;
          }
          case 'resolve': {
            const alert = { ...d.alert, status: 'resolved' as const, resolvedAt: now };
            alerts.saveAlert(alert);
            send(alert, { stage: 'resolved', lastedMs: d.lastedMs });
            this.options.log.info({ alert: alert.id, kind: alert.kind, pool: alert.pool || undefined, lastedMs: d.lastedMs }, 'alert resolved');
            break;
          }
          case 'forget':
            alerts.dropAlert(d.alert.id);
            break;
        }
      }
      alerts.pruneAlerts(now - KEEP_RESOLVED_MS);
    });
    if (queued > 0) this.options.onMessageQueued?.();
    return decisions;
  }
}
