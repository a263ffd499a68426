import { moreToPrune, prunedTotal, retentionCutoffs, type PrunedCounts, type RetentionSettings } from '../core/retention.ts';
import type { Clock } from '../ports/clock.ts';
import type { HistoryStore } from '../ports/history.ts';
import type { Logger } from '../ports/logger.ts';

export interface HistoryPrunerOptions {
  store: HistoryStore;
  clock: Clock;
  log: Logger;
  settings: RetentionSettings;
  /** Rows of each kind one batch deletes at most. Default 500. */
  batch?: number;
  /** Time between passes. Default 1 h. */
  everyMs?: number;
  /** Pause between two batches of one pass, so ticks and commands get the store in between. Default 200 ms. */
  pauseMs?: number;
}

/**
 * Forgets old history (core/retention.ts) on its own timer, outside the reconcile tick: a pass
 * every hour deletes in small batches, one short transaction each, with a pause between them,
 * until a batch finds less than a full batch of each kind.
 */
export class HistoryPruner {
  private timer: AbortController | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly options: HistoryPrunerOptions) {}

  /** Runs a first pass at once, then one every `everyMs`. */
  start(): void {
    this.stopped = false;
    this.running ??= this.loop().finally(() => (this.running = undefined));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.abort();
    await this.running;
  }

  /** One pass: batches until nothing old is left (or the pruner is stopped). Says how many rows went. */
  async pass(): Promise<PrunedCounts> {
    const { store, clock, settings } = this.options;
    const batch = this.options.batch ?? 500;
    const total: PrunedCounts = { reminders: 0, leases: 0, vms: 0, audit: 0 };
    const started = clock.now();
    for (;;) {
      const counts = store.pruneHistory(retentionCutoffs(clock.now(), settings), batch);
      total.reminders += counts.reminders;
      total.leases += counts.leases;
      total.vms += counts.vms;
      total.audit += counts.audit;
      if (!moreToPrune(counts, batch) || this.stopped) break;
      if (!(await this.sleep(this.options.pauseMs ?? 200))) break;
    }
    if (prunedTotal(total) > 0) this.options.log.info({ ...total, ms: clock.now() - started }, 'old history forgotten');
    return total;
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      try {
        await this.pass();
      } catch (error) {
        // The next pass tries again; a busy or failing store must not stop the bot.
        this.options.log.error({ err: error }, 'forgetting old history failed');
      }
      if (!(await this.sleep(this.options.everyMs ?? 3_600_000))) break;
    }
  }

  /** False when stopped while sleeping. */
  private async sleep(ms: number): Promise<boolean> {
    if (this.stopped) return false;
    const timer = new AbortController();
    this.timer = timer;
    try {
      await this.options.clock.sleep(ms, timer.signal);
      return !this.stopped;
    } catch {
      return false;
    } finally {
      if (this.timer === timer) this.timer = undefined;
    }
  }
}
