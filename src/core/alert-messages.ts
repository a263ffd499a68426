/**
 * What an alert says to the people who run the service, and its outbox messages: one per
 * destination and stage (raised, each repeat, resolved), each with its own idempotency key.
 */
import type { Recipient } from '../ports/notifier.ts';
import type { OutboxMessage } from '../ports/outbox.ts';
import { alertName, type Alert } from './alerts.ts';
import { formatDuration } from './duration.ts';
import { fields, reply, text, type Reply } from './reply.ts';

/** An alert message is worth sending for this long; a later repeat says the same again anyway. */
const ALERT_DELIVER_WITHIN_MS = 24 * 3_600_000;

export type AlertStage = { stage: 'raised' } | { stage: 'repeat'; count: number } | { stage: 'resolved'; lastedMs: number };

export function alertBody(alert: Alert, stage: AlertStage, now: number): Reply {
  const name = alertName(alert);
  if (stage.stage === 'resolved') {
    return reply('success', `Resolved: ${name}`, text(`It lasted ${formatDuration(stage.lastedMs)}.`), fields({ label: 'Was', value: alert.detail }, { label: 'Started', value: { time: alert.since } }));
  }
  const title = stage.stage === 'raised' ? `ALERT: ${name}` : `Still open: ${name}`;
  return reply(
    'error',
    title,
    text(alert.detail),
    // Raised: since when (a pool empty or the cloud down began before it was raised); repeated: for how long.
    stage.stage === 'raised' ? fields({ label: 'Since', value: { time: alert.since } }) : fields({ label: 'Since', value: { time: alert.since } }, { label: 'Open for', value: { duration: now - alert.since } }),
    text('Every open alert: admin alerts'),
  );
}

/** The message of one stage of an alert to one destination, keyed so that it is queued once. */
export function alertMessageFor(alert: Alert, stage: AlertStage, to: Recipient, now: number): OutboxMessage {
  const step = stage.stage === 'repeat' ? `repeat-${stage.count}` : stage.stage;
  return {
    key: `alert:${alert.id}:${step}:${to.platform}:${to.user}:${to.conversation}`,
    kind: 'alert',
    leaseId: null,
    to,
    body: alertBody(alert, stage, now),
    createdAt: now,
    deliverBy: now + ALERT_DELIVER_WITHIN_MS,
  };
}
