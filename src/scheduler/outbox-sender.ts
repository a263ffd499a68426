import { afterFailure, DEFAULT_RETRY, type RetrySettings } from '../core/outbox.ts';
import type { Clock } from '../ports/clock.ts';
import type { Logger } from '../ports/logger.ts';
import { noMetrics, type Metrics } from '../ports/metrics.ts';
import { UndeliverableError, type Notifier } from '../ports/notifier.ts';
import type { AttemptOutcome, OutboxRow, OutboxStore } from '../ports/outbox.ts';

export interface OutboxSenderOptions {
  store: OutboxStore;
  /** The chat platforms (the NotifierRouter): each paces its own calls. */
  notifier: Notifier;
  clock: Clock;
  log: Logger;
  metrics?: Metrics;
  /** Messages handed to the platforms at once. A crash may cut off at most this many. Default 32. */
  concurrency?: number;
  /** Back-off of a message whose delivery failed for the moment. */
  retry?: RetrySettings;
  /** While messages are in flight, outcomes are recorded together at most this often. Default 20 ms. */
  batchMs?: number;
  /** Looks at the outbox at least this often, even when nobody said a message was queued. Default 60 s. */
  pollMs?: number;
  /** How long settled messages are kept (for admins and the crash harness). Default 7 days. */
  keepMs?: number;
}

/** Settled messages are pruned at most this often. */
const PRUNE_EVERY_MS = 3_600_000;

/**
 * Delivers the outbox, outside the reconcile tick: it claims the messages that are due (marked
 * `sending` before the platform is called), hands them to the chat platforms, and records each
 * outcome: sent, failed for good, or tried again after back-off until its deadline, after which
 * it is expired and never sent.
 *
 * At most once: a message is marked `sending` before it is handed over, and one found `sending`
 * when the bot starts again (it was killed meanwhile) is marked `interrupted` and not sent
 * again — neither Slack's chat.postMessage nor Teams' proactive messages can recognise a repeat.
 * Outcomes are recorded in batches, so a crash can leave a few delivered messages `interrupted`,
 * never one sent twice.
 *
 * Woken when messages are queued (`wake`), by its own timer when a retry falls due, and every
 * `pollMs`.
 */
export class OutboxSender {
  private started = false;
  private stopped = false;
  private running: Promise<void> | undefined;
  private again = false;
  private readonly inFlight = new Set<Promise<void>>();
  private outcomes: { id: number; outcome: AttemptOutcome }[] = [];
  private nudge: (() => void) | undefined;
  private timer: AbortController | undefined;
  private prunedAt = Number.NEGATIVE_INFINITY;
  private readonly metrics: Metrics;

  constructor(private readonly options: OutboxSenderOptions) {
    this.metrics = options.metrics ?? noMetrics;
  }

  /** Settles what a previous life left `sending`, then delivers what is due. */
  start(): void {
    if (this.started || this.stopped) return;
    const interrupted = this.options.store.interruptSendingMessages(this.options.clock.now());
    if (interrupted > 0) {
      this.options.log.warn({ messages: interrupted }, 'messages were being handed to a chat platform when the bot stopped: they may or may not have arrived, and are not sent again');
    }
    this.started = true;
    this.wake();
  }

  /** Messages were queued: deliver them soon (after the current transaction has committed). */
  wake(): void {
    if (!this.started || this.stopped) return;
    if (this.running) {
      this.again = true;
      this.nudge?.();
      return;
    }
    this.timer?.abort();
    this.timer = undefined;
    this.running = this.drain()
      .catch((error: unknown) => this.options.log.error({ err: error }, 'the outbox could not be read or written; it is tried again'))
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.wake();
        } else this.arm();
      });
  }

  /** Resolves once nothing is due and nothing is in flight: for tests and measurements. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  /** Takes no more messages; those in flight finish and are recorded. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.abort();
    this.nudge?.();
    await this.idle();
  }

  private async drain(): Promise<void> {
    // Never inside the caller's transaction: what it queued is committed first.
    await Promise.resolve();
    for (;;) {
      this.again = false;
      const outcomes = this.outcomes.splice(0);
      const free = this.stopped ? 0 : (this.options.concurrency ?? 32) - this.inFlight.size;
      const rows = this.options.store.settleAndClaimMessages(outcomes, this.options.clock.now(), free);
      for (const row of rows) this.track(this.deliver(row));
      if (this.inFlight.size === 0) {
        if (this.outcomes.length === 0 && !this.again && (rows.length === 0 || this.stopped)) return;
        continue;
      }
      await this.wait();
    }
  }

  /** Until a message in flight is done (and, for a batch, a little longer) or another is queued. */
  private async wait(): Promise<void> {
    const nudged = new Promise<void>((resolve) => (this.nudge = resolve));
    await Promise.race([Promise.race(this.inFlight), nudged]);
    const batchMs = this.options.batchMs ?? 20;
    if (this.inFlight.size > 0 && batchMs > 0 && !this.again) {
      const timer = new AbortController();
      await Promise.race([this.options.clock.sleep(batchMs, timer.signal).catch(() => {}), Promise.all(this.inFlight), nudged]);
      timer.abort();
    }
    this.nudge = undefined;
  }

  private track(job: Promise<void>): void {
    const tracked: Promise<void> = job.then(() => void this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
  }

  private async deliver(row: OutboxRow): Promise<void> {
    let outcome: AttemptOutcome;
    try {
      await this.options.notifier.notify(row.to, row.body);
      outcome = { status: 'sent' };
    } catch (error) {
      const text = error instanceof Error ? error.message : String(error);
      outcome = afterFailure(row, { text, permanent: error instanceof UndeliverableError }, this.options.clock.now(), this.options.retry ?? DEFAULT_RETRY);
      const fields = { err: error, message: row.key, user: row.to.user, platform: row.to.platform, attempts: row.attempts };
      if (outcome.status === 'pending') this.options.log.warn({ ...fields, retryAt: new Date(outcome.retryAt).toISOString() }, 'could not deliver a direct message; it is tried again');
      else this.options.log.warn({ ...fields, outcome: outcome.status }, outcome.status === 'failed' ? 'a direct message was refused for good' : 'a direct message could not be delivered before its deadline: it is not sent');
    }
    if (outcome.status !== 'pending') this.metrics.reminder(outcome.status === 'sent' ? 'sent' : 'failed');
    this.outcomes.push({ id: row.id, outcome });
  }

  /** Sleeps until the next retry is due (or `pollMs`), then looks again. */
  private arm(): void {
    if (this.stopped || !this.started) return;
    const now = this.options.clock.now();
    if (now - this.prunedAt >= PRUNE_EVERY_MS) {
      this.prunedAt = now;
      this.options.store.pruneMessages(now - (this.options.keepMs ?? 7 * 24 * 3_600_000));
    }
    const pollMs = this.options.pollMs ?? 60_000;
    const next = this.options.store.nextMessageDueAt();
    const delayMs = next === null ? pollMs : Math.min(pollMs, Math.max(1, next - this.options.clock.now()));
    const timer = new AbortController();
    this.timer = timer;
    this.options.clock.sleep(delayMs, timer.signal).then(
      () => {
        if (this.timer !== timer) return;
        this.timer = undefined;
        this.wake();
      },
      () => {},
    );
  }
}
