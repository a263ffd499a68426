import type { Reply } from '../core/reply.ts';
import type { Recipient } from './notifier.ts';

/**
 * Where a queued message stands:
 * - `pending`: waiting for its next attempt (`nextAt`);
 * - `sending`: handed to the chat platform, the answer not yet recorded;
 * - `sent`: the platform took it;
 * - `failed`: the platform refused it for good (no such user, the app removed);
 * - `expired`: not delivered by its deadline, so never sent;
 * - `superseded`: made pointless before it was sent (a later reminder, the lease extended or ended);
 * - `interrupted`: the bot stopped while it was `sending`; it may or may not have arrived, and is
 *   never sent again (at most once).
 */
export type OutboxStatus = 'pending' | 'sending' | 'sent' | 'failed' | 'expired' | 'superseded' | 'interrupted';

/** What the outbox holds: about a lease (reminders, home ready, set-up failed, teardown, an admin's extension, its pool being retired), or an alert to the operators. */
export type MessageKind = 'reminder' | 'home-ready' | 'setup-failed' | 'teardown' | 'extended' | 'alert' | 'pool-retired' | 'idle' | 'grace' | 'waitlist';

/** A message the bot sends on its own, written in the same transaction as the change that causes it. */
export interface OutboxMessage {
  /** Lease + kind + stage: a message with a key already queued is not queued again. */
  key: string;
  kind: MessageKind;
  leaseId: string | null;
  to: Recipient;
  body: Reply;
  createdAt: number;
  /** After this moment the message is worthless: it is marked expired instead of being sent. */
  deliverBy: number;
  /** Supersedes the pending messages of the same lease and kind (a newer reminder replaces an older one). */
  replacesPending?: boolean;
}

export interface OutboxRow extends OutboxMessage {
  id: number;
  status: OutboxStatus;
  /** Attempts made (claims), the current one included. */
  attempts: number;
  nextAt: number;
  lastError: string | null;
  /** When it reached a final status. */
  doneAt: number | null;
}

/** How an attempt ended: delivered, refused for good, too late, or to be tried again at `retryAt`. */
export type AttemptOutcome = { status: 'sent' | 'failed' | 'expired'; error?: string } | { status: 'pending'; retryAt: number; error: string };

/** The outbox's share of the Store. Every method is atomic; all join an enclosing transaction. */
export interface OutboxStore {
  /** Queues a message; false if one with its key was queued before (nothing changes then). */
  enqueueMessage(message: OutboxMessage): boolean;
  /**
   * Records the outcomes of finished attempts, then claims up to `limit` messages that are due
   * at `now` (marking them `sending`, one attempt more), oldest first, in one transaction. A due
   * message past its deadline is marked expired instead of being claimed.
   */
  settleAndClaimMessages(outcomes: readonly { id: number; outcome: AttemptOutcome }[], now: number, limit: number): OutboxRow[];
  /**
   * After a restart: messages left `sending` may or may not have reached the platform; they are
   * marked `interrupted` and never sent again. Returns how many.
   */
  interruptSendingMessages(now: number): number;
  /** When the next pending message is due, or null when none is pending. */
  nextMessageDueAt(): number | null;
  /** Forgets messages that reached a final status before `doneBefore`. Returns how many. */
  pruneMessages(doneBefore: number): number;
  /** Supersedes the pending messages of a lease (of one kind, or all kinds). */
  supersedeMessages(leaseId: string, kind: MessageKind | undefined, now: number): number;
  /** Queued messages, oldest first: for admins and tests. */
  outboxMessages(filter?: { leaseId?: string; status?: readonly OutboxStatus[]; limit?: number }): OutboxRow[];
}
