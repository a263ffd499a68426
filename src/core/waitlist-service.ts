/**
 * The waitlist's use cases behind claim, leave, status and extend (DaaasService calls these
 * inside its audited transactions): taking a VM held for you, joining a queue with a true
 * position and an estimate, leaving or passing, and the extension rule while others wait.
 */
import type { Clock } from '../ports/clock.ts';
import type { Metrics } from '../ports/metrics.ts';
import type { Store } from '../ports/store.ts';
import type { QueueEntry } from '../ports/waitlist.ts';
import { formatDuration } from './duration.ts';
import { UserError } from './errors.ts';
import type { LeaseView, Origin, PoolSpec, Principal } from './model.ts';
import { estimateWaitMs, extensionWhileQueued, queueSettings } from './waitlist.ts';

export interface QueuedPlace {
  pool: PoolSpec;
  position: number;
  estimateMs: number;
  /** False when the user was in the queue already. */
  joined: boolean;
  autoAssign: boolean;
}

/** A claim's outcome: a VM at once, or a place in the pool's queue. */
export type ClaimResult = { lease: LeaseView; queued?: undefined } | { queued: QueuedPlace; lease?: undefined };

export interface LeftQueue {
  pool: string;
  /** The VM that was held for the user and now goes to the next in line. */
  passed: string | null;
  /** How many moved up. */
  behind: number;
  /** Whether someone waits for a VM still, so that a passed one goes to them (else back to the pool). */
  othersWait: boolean;
}

export interface WaitlistDeps {
  store: Store;
  clock: Clock;
  metrics?: Pick<Metrics, 'hold' | 'claimServed'>;
  /** Boot + provisioning time assumed until the pool has been seen filling. */
  defaultReadyMs: number;
  /** Boots the scheduler runs at once, for the estimate. */
  maxConcurrentBoots: number;
}

export class Waitlists {
  constructor(private readonly d: WaitlistDeps) {}

  /** The VM held for the user, leased to them now; undefined when none is held for them. */
  takeHold(who: Principal, pool: PoolSpec, now: number): LeaseView | undefined {
    const { store } = this.d;
    const entry = store.queueEntries({ pool: pool.name, user: who.account })[0];
    if (!entry?.hold) return undefined;
    const leaseId = store.claimHeld(entry.id, { now, leaseMs: pool.leaseMs });
    if (leaseId === null) return undefined;
    this.d.metrics?.hold?.(pool.name, 'taken');
    this.d.metrics?.claimServed?.(pool.name, now - entry.joinedAt);
    return store.getLease(leaseId);
  }

  /** Someone waits for this pool without a VM held for them: a newcomer queues behind them. */
  othersWaiting(pool: PoolSpec, who: Principal): boolean {
    return this.d.store.queueEntries({ pool: pool.name }).some((e) => !e.hold && e.user !== who.account);
  }

  /** A claim answered with a VM at once. */
  servedAtOnce(pool: PoolSpec): void {
    this.d.metrics?.claimServed?.(pool.name, 0);
  }

  queues(pool: PoolSpec): boolean {
    return queueSettings(pool).queue;
  }

  /** Puts the user in the pool's queue (or finds them there): their true place and an estimate. */
  join(who: Principal, pool: PoolSpec, origin: Origin, now: number): QueuedPlace {
    const { store } = this.d;
    const held = store.activeLeases({ user: who.account, pool: pool.name });
    if (held.length >= pool.maxLeasesPerUser) {
      throw new UserError(
        'LEASE_LIMIT',
        `You already hold ${held.map((l) => l.vm.name).join(', ')} from ${pool.name}; the pool allows ${pool.maxLeasesPerUser} per person, so you cannot queue for another.`,
        `Use it, extend it, or release it first: release ${held[0]?.vm.name ?? ''}`.trim(),
      );
    }
    const outcome = store.joinQueue({ pool: pool.name, user: who.account, platform: origin.platform, conversation: origin.conversation, now });
    return { pool, position: outcome.position, estimateMs: this.estimate(pool, outcome.entry, now), joined: outcome.joined, autoAssign: queueSettings(pool).autoAssign };
  }

  /** When the entry is likely to be offered a VM, from the boot-to-ready times seen in the pool. */
  estimate(pool: PoolSpec, entry: QueueEntry, now: number): number {
    const { store } = this.d;
    if (entry.hold) return 0;
    const place = store.queueEntries({ pool: pool.name }).filter((e) => !e.hold && e.id <= entry.id).length;
    const vms = store.listVms({ pool: pool.name });
    const inFlight = vms.filter((vm) => vm.state === 'booting' || vm.state === 'provisioning').map((vm) => vm.createdAt);
    return estimateWaitMs({
      now,
      place,
      inFlightCreatedAt: inFlight,
      readyTimesMs: store.recentReadyTimesMs(pool.name, 9),
      defaultReadyMs: this.d.defaultReadyMs,
      bootsAtOnce: Math.max(1, Math.min(pool.max - vms.length + inFlight.length, this.d.maxConcurrentBoots)),
    });
  }

  /** Leaves the named queue, or the user's only one; a VM held for them goes to the next in line. */
  leave(who: Principal, pool: PoolSpec | undefined): LeftQueue {
    const { store } = this.d;
    const mine = store.queueEntries({ user: who.account });
    let entry: QueueEntry | undefined;
    if (pool) {
      entry = mine.find((e) => e.pool === pool.name);
      if (!entry) throw new UserError('NOT_QUEUED', `You are not in the queue for ${pool.name}.`, mine.length ? `Your queues: ${mine.map((e) => e.pool).join(', ')}` : `Queue with: claim ${pool.name}`);
    } else {
      if (mine.length === 0) throw new UserError('NOT_QUEUED', 'You are not in any queue.', 'A claim on a pool with no VM ready puts you in its queue: claim <pool>');
      if (mine.length > 1) throw new UserError('AMBIGUOUS_QUEUE', `You wait in ${mine.length} queues: ${mine.map((e) => e.pool).join(', ')}. Which one?`, `Say: leave ${mine[0]!.pool}`);
      entry = mine[0]!;
    }
    const behind = store.queueEntries({ pool: entry.pool }).filter((e) => e.id > entry.id).length;
    if (!store.leaveQueue(entry.pool, who.account)) throw new UserError('NOT_QUEUED', `You are no longer in the queue for ${entry.pool}.`, 'Check with: status');
    const passed = entry.hold ? (store.getVm(entry.hold.vmId)?.name ?? entry.hold.vmId) : null;
    if (passed) this.d.metrics?.hold?.(entry.pool, 'passed');
    const othersWait = store.queueEntries({ pool: entry.pool }).some((e) => !e.hold);
    return { pool: entry.pool, passed, behind, othersWait };
  }

  /** The user's places in queues, for status. */
  queuesOf(who: Principal): { entry: QueueEntry; position: number }[] {
    const { store } = this.d;
    return store.queueEntries({ user: who.account }).map((entry) => ({ entry, position: store.queuePosition(entry.pool, entry.user) ?? 0 }));
  }

  /** Refuses an extension the pool does not allow while others wait; records one it allows. */
  checkExtension(lease: LeaseView, pool: PoolSpec): void {
    const { store } = this.d;
    const waiting = store.queuedCount(pool.name);
    if (waiting === 0) return;
    const verdict = extensionWhileQueued(queueSettings(pool).extendWhileQueued, waiting, store.queuedExtensions(lease.id));
    if (!verdict.ok) {
      throw new UserError(
        'EXTENSION_WHILE_QUEUED',
        `${lease.vm.name} cannot be extended now: ${verdict.reason}. It will be torn down in ${formatDuration(lease.expiresAt - this.d.clock.now())}.`,
        'Save your work to your home directory: it is kept when the VM goes.',
      );
    }
    store.countQueuedExtension(lease.id);
  }
}
