/**
 * The pure rules of the outbox: what a lease's message is called (its idempotency key), how
 * long it is worth sending, and what happens after a failed attempt.
 */
import type { LeaseView } from './model.ts';
import { backoffMs } from './backoff.ts';
import type { AttemptOutcome, MessageKind, OutboxMessage } from '../ports/outbox.ts';

/** How long a message that is not tied to a deadline (teardown, home ready, set-up failed) is worth sending. */
export const DELIVER_WITHIN_MS = 24 * 3_600_000;

/** Back-off of a message whose delivery failed for the moment. */
export interface RetrySettings {
  initialMs: number;
  maxMs: number;
}

export const DEFAULT_RETRY: RetrySettings = { initialMs: 5_000, maxMs: 10 * 60_000 };

/** `kind:<lease>[:<stage>]`: one message per lease, kind and stage, however often it is queued. */
export function messageKey(kind: MessageKind, leaseId: string, stage?: string): string {
  return stage === undefined ? `${kind}:${leaseId}` : `${kind}:${leaseId}:${stage}`;
}

/**
 * The reminder of one stage of a lease's current expiry: keyed by the stage and the expiry it
 * counts down to, worthless once the lease has expired, and replacing a reminder of the same
 * lease still waiting (a user never gets "1 day left" after "1 hour left").
 */
export function reminderFor(lease: LeaseView, beforeMs: number, body: OutboxMessage['body'], now: number): OutboxMessage {
  return {
    key: messageKey('reminder', lease.id, `${beforeMs}:${lease.expiresAt}`),
    kind: 'reminder',
    leaseId: lease.id,
    to: recipientOf(lease),
    body,
    createdAt: now,
    deliverBy: lease.expiresAt,
    replacesPending: true,
  };
}

/** A one-off message about a lease (it ended, its home is ready, its set-up failed), sent within a day. */
export function noticeFor(kind: Exclude<MessageKind, 'reminder'>, lease: LeaseView, body: OutboxMessage['body'], now: number): OutboxMessage {
  return {
    key: messageKey(kind, lease.id),
    kind,
    leaseId: lease.id,
    to: recipientOf(lease),
    body,
    createdAt: now,
    deliverBy: now + DELIVER_WITHIN_MS,
  };
}

function recipientOf(lease: LeaseView): OutboxMessage['to'] {
  return { platform: lease.platform, user: lease.user, conversation: lease.conversation };
}

/**
 * After attempt number `attempts` failed at `now`: refused for good, it has failed; otherwise
 * it is tried again after exponential back-off, unless that would be after its deadline.
 */
export function afterFailure(message: { attempts: number; deliverBy: number }, error: { text: string; permanent: boolean }, now: number, retry: RetrySettings): AttemptOutcome {
  if (error.permanent) return { status: 'failed', error: error.text };
  const retryAt = now + backoffMs(message.attempts, retry.initialMs, retry.maxMs);
  if (retryAt > message.deliverBy) return { status: 'expired', error: error.text };
  return { status: 'pending', retryAt, error: error.text };
}
