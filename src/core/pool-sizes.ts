/**
 * Pool sizes over the store: poolSizeAt (pool-size.ts) given the boot-to-ready times the store
 * has seen, for the reconciler (what it fills to, when it must wake) and the service (what
 * `pools` and `admin pools` explain). One rule, read the same way by both.
 */
import type { Store } from '../ports/store.ts';
import type { PoolControl, PoolSpec } from './model.ts';
import { leadTimeMs, nextSizeChangeAt, poolSizeAt, type PoolSize, type SizeContext } from './pool-size.ts';

export interface SizeSettings {
  /** `scheduler.timezone`: the zone windows' crons are read in. */
  timeZone: string;
  /** Boot + provisioning time assumed before the pool was seen filling. */
  estimateMs: number;
  /** Boots at once (`scheduler.maxConcurrentBoots`): a large window needs several waves. */
  maxConcurrentBoots: number;
}

/** Boot-to-ready times the lead time is the 95th percentile of: the pool's most recent VMs. */
export const READY_SAMPLE = 50;

export const DEFAULT_SIZE_SETTINGS: SizeSettings = { timeZone: 'UTC', estimateMs: 60_000, maxConcurrentBoots: 10 };

export class PoolSizes {
  constructor(
    private readonly store: Pick<Store, 'recentReadyTimesMs'>,
    readonly settings: SizeSettings,
  ) {}

  /** The pool's warm size at `now`, and why. */
  at(pool: PoolSpec, control: PoolControl | undefined, now: number): PoolSize {
    return poolSizeAt(pool, control, now, this.context(pool));
  }

  /** The next moment any pool's scheduled size changes (a window ends, or one starts filling). */
  nextChangeAt(pools: readonly PoolSpec[], now: number): number | null {
    const times = pools.filter((p) => p.schedule?.length).map((p) => nextSizeChangeAt(p, now, this.context(p)));
    const due = times.filter((t): t is number => t !== null);
    return due.length ? Math.min(...due) : null;
  }

  private context(pool: PoolSpec): SizeContext {
    let readyTimes: number[] | undefined;
    return {
      timeZone: this.settings.timeZone,
      // Read from the store only when a window is near enough to ask.
      leadMs: (window) => leadTimeMs(pool, window, (readyTimes ??= this.store.recentReadyTimesMs(pool.name, READY_SAMPLE)), this.settings),
    };
  }
}
