/**
 * Group commit: units of work that arrive within the same moment (the same turn of the event
 * loop) are committed together in one transaction instead of one each, so a burst of claims
 * pays for one commit (one fsync of the store) rather than hundreds. Each unit still stands
 * alone: it must be atomic by itself (its own Store.transaction, which nested in the group's
 * runs in a savepoint), so one that fails undoes only its own writes and the others are
 * committed; what it writes on purpose before failing (an audit record of the refusal) is kept.
 * Units run in the order they arrived.
 *
 * A unit is queued and the group runs on the next turn (setImmediate, not a timer): a unit
 * alone waits for no one, only for the rest of the current turn. Should the shared commit
 * itself fail (a locked or full disk), nothing of the group was kept, and each unit is run
 * again in a transaction of its own, so one bad unit cannot sink the others and each gets the
 * answer it would have had alone.
 */

export interface GroupCommitOptions {
  /** Runs `fn` atomically: Store.transaction. */
  transaction: <T>(fn: () => T) => T;
  /**
   * Whether the group's transaction is still open. SQLite rolls a whole transaction back by
   * itself on some errors (a full disk); the group then stops at once and every unit runs again
   * alone, instead of the rest running outside any transaction. Open, if not said.
   */
  inTransaction?: () => boolean;
  /** Schedules the group's run; the next turn of the event loop by default. */
  defer?: (run: () => void) => void;
  /** The most units one transaction holds, so one burst cannot hold the store's write lock for long. Default 500. */
  maxGroup?: number;
  /** Told the size of every group committed (for metrics and tests). */
  onGroup?: (size: number) => void;
}

interface Unit {
  work: () => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

type Settled = { ok: true; value: unknown } | { ok: false; error: unknown };

export class GroupCommit {
  private queue: Unit[] = [];
  private scheduled = false;
  private readonly defer: (run: () => void) => void;
  private readonly maxGroup: number;

  constructor(private readonly options: GroupCommitOptions) {
    this.defer = options.defer ?? ((run) => setImmediate(run));
    this.maxGroup = Math.max(1, options.maxGroup ?? 500);
  }

  /** Units waiting for their group to run. */
  get pending(): number {
    return this.queue.length;
  }

  /** Queues `work` (synchronous, store calls only) for this moment's group; settles once its group has committed. */
  run<T>(work: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ work, resolve: resolve as (value: unknown) => void, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        this.defer(() => this.flush());
      }
    });
  }

  /** Runs every queued unit now, in groups of at most maxGroup. */
  flush(): void {
    this.scheduled = false;
    const units = this.queue;
    this.queue = [];
    for (let i = 0; i < units.length; i += this.maxGroup) this.commit(units.slice(i, i + this.maxGroup));
  }

  private commit(group: Unit[]): void {
    let settled: Settled[];
    try {
      settled = this.options.transaction(() =>
        group.map((unit) => {
          const s = attempt(unit.work);
          if (this.options.inTransaction && !this.options.inTransaction()) throw new Error('the group transaction was rolled back');
          return s;
        }),
      );
    } catch {
      // The shared commit failed and kept nothing: each unit alone, as if there were no group.
      settled = group.map((unit) => attempt(unit.work));
      for (const [i, s] of settled.entries()) settle(group[i]!, s);
      this.options.onGroup?.(1);
      return;
    }
    this.options.onGroup?.(group.length);
    for (const [i, s] of settled.entries()) settle(group[i]!, s);
  }
}

function attempt(fn: () => unknown): Settled {
  try {
    return { ok: true, value: fn() };
  } catch (error) {
    return { ok: false, error };
  }
}

function settle(unit: Unit, s: Settled): void {
  if (s.ok) unit.resolve(s.value);
  else unit.reject(s.error);
}
