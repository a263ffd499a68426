import { autoAssignedMessage, holdLapsedMessage, holdOfferMessage, queueDroppedMessage } from '../chat/queue-card.ts';
import { DELIVER_WITHIN_MS } from '../core/outbox.ts';
import type { PoolSpec } from '../core/model.ts';
import { queueSettings } from '../core/waitlist.ts';
import type { Logger } from '../ports/logger.ts';
import type { Metrics } from '../ports/metrics.ts';
import type { OutboxMessage } from '../ports/outbox.ts';
import type { Store } from '../ports/store.ts';
import type { QueueEntry, WaitlistStore } from '../ports/waitlist.ts';
import { SCHEDULER_ACTOR } from './outcomes.ts';

export interface WaitlistKeeperOptions {
  store: Store & WaitlistStore;
  log: Logger;
  metrics: Metrics;
  pools: ReadonlyMap<string, PoolSpec>;
  /** Queues a message in the outbox, inside the caller's transaction. */
  queueMessage: (message: OutboxMessage) => void;
  /** A lease was made for a waiter (autoAssign): told once, after the transaction (chat platforms refresh what they show). */
  leaseChanged?: (account: string) => void;
}

export interface ServeReport {
  offered: number;
  assigned: number;
  lapsed: number;
  /** When the next hold runs out, for the tick's wake-up; null when nothing is held. */
  nextLapseAt: number | null;
}

/**
 * Hands ready VMs to the people waiting for them, in order: each ready VM nobody holds is held
 * for the first in line who has none (a direct message with Claim it / Pass), or leased to them
 * at once with autoAssign. A hold that runs out goes to the next in line, and whoever let it
 * lapse leaves the queue, told so. Each pool is served in one transaction with its messages, so
 * a restart finds every hold exactly as it was promised.
 */
export class WaitlistKeeper {
  constructor(private readonly options: WaitlistKeeperOptions) {}

  /** Serves every pool with a queue: called by each tick and whenever a VM gets ready. */
  serve(now: number): ServeReport {
    const report: ServeReport = { offered: 0, assigned: 0, lapsed: 0, nextLapseAt: null };
    this.dropRetiredQueues(now);
    for (const pool of this.options.pools.values()) {
      if (!queueSettings(pool).queue && this.options.store.queuedCount(pool.name) === 0) continue;
      const one = this.servePool(pool.name, now);
      report.offered += one.offered;
      report.assigned += one.assigned;
      report.lapsed += one.lapsed;
      if (one.nextLapseAt !== null) report.nextLapseAt = Math.min(report.nextLapseAt ?? one.nextLapseAt, one.nextLapseAt);
    }
    return report;
  }

  servePool(poolName: string, now: number): ServeReport {
    const { store } = this.options;
    const pool = this.options.pools.get(poolName);
    const report: ServeReport = { offered: 0, assigned: 0, lapsed: 0, nextLapseAt: null };
    if (!pool) return report;
    const settings = queueSettings(pool);
    store.transaction(() => {
      for (const entry of store.queueEntries({ pool: pool.name })) {
        if (!entry.hold) continue;
        if (entry.hold.until <= now) {
          this.lapse(pool, entry, now);
          report.lapsed++;
        } else if (store.getVm(entry.hold.vmId)?.state !== 'ready') {
          // The VM failed or was taken away while held: the entry keeps its place for the next one.
          store.dropHold(entry.id);
          this.options.log.warn({ pool: pool.name, user: entry.user, vm: entry.hold.vmId }, 'a held VM is no longer ready; its hold is dropped');
        }
      }
      const free = store.unheldReadyVms(pool.name);
      const waiting = store.queueEntries({ pool: pool.name }).filter((e) => !e.hold);
      while (free.length > 0 && waiting.length > 0) {
        const entry = waiting.shift()!;
        if (store.activeLeases({ user: entry.user, pool: pool.name }).length >= pool.maxLeasesPerUser) {
          // They got a VM of the pool some other way meanwhile (an admin, a second claim): a VM now would be one too many.
          store.removeEntry(entry.id);
          this.message(entry, `queue-dropped:${entry.id}`, queueDroppedMessage(pool.name, `You hold as many VMs of ${pool.name} as it allows per person (${pool.maxLeasesPerUser}), so you no longer wait for another.`), now, now + DELIVER_WITHIN_MS);
          continue;
        }
        const vmId = free.shift()!;
        const until = now + settings.holdForMs;
        if (!store.holdVm(entry.id, vmId, now, until)) continue;
        const vmName = store.getVm(vmId)!.name;
        if (settings.autoAssign) {
          const leaseId = store.claimHeld(entry.id, { now, leaseMs: pool.leaseMs });
          if (leaseId === null) continue;
          const lease = store.getLease(leaseId)!;
          store.audit({ at: now, actor: SCHEDULER_ACTOR, action: 'claim', target: pool.name, result: 'ok', detail: { user: entry.user, vm: vmName, from: 'queue', waitedMs: now - entry.joinedAt } });
          this.message(entry, `queue-served:${leaseId}`, autoAssignedMessage(lease, pool, now), now, now + DELIVER_WITHIN_MS, leaseId);
          this.options.leaseChanged?.(entry.user);
          this.options.metrics.claimServed?.(pool.name, now - entry.joinedAt);
          report.assigned++;
          continue;
        }
        this.message(entry, `hold:${entry.id}:${vmId}`, holdOfferMessage(pool, vmName, until), now, until);
        this.options.metrics.hold?.(pool.name, 'offered');
        this.options.log.info({ pool: pool.name, user: entry.user, vm: vmName, until }, 'a ready VM is held for the first in line');
        report.offered++;
      }
      for (const entry of store.queueEntries({ pool: pool.name })) {
        if (entry.hold) report.nextLapseAt = Math.min(report.nextLapseAt ?? entry.hold.until, entry.hold.until);
      }
    });
    return report;
  }

  /** Places in the queue of a pool removed from the configuration: no VM will come; the waiter is told. */
  private dropRetiredQueues(now: number): void {
    const { store } = this.options;
    for (const entry of store.queueEntries()) {
      if (this.options.pools.has(entry.pool)) continue;
      store.transaction(() => {
        if (!store.removeEntry(entry.id)) return;
        this.message(entry, `queue-dropped:${entry.id}`, queueDroppedMessage(entry.pool, `Pool ${entry.pool} was removed from the bot's configuration, so no VM of it will come. See the pools with: pools`), now, now + DELIVER_WITHIN_MS);
      });
      this.options.log.info({ pool: entry.pool, user: entry.user }, 'a place in the queue of a pool no longer configured is dropped');
    }
  }

  private lapse(pool: PoolSpec, entry: QueueEntry, now: number): void {
    const vmName = this.options.store.getVm(entry.hold!.vmId)?.name ?? entry.hold!.vmId;
    this.options.store.removeEntry(entry.id);
    this.options.store.audit({ at: now, actor: SCHEDULER_ACTOR, action: 'hold-lapsed', target: pool.name, result: 'ok', detail: { user: entry.user, vm: vmName } });
    this.message(entry, `hold-lapsed:${entry.id}:${entry.hold!.vmId}`, holdLapsedMessage(pool, vmName), now, now + DELIVER_WITHIN_MS);
    this.options.metrics.hold?.(pool.name, 'lapsed');
    this.options.log.info({ pool: pool.name, user: entry.user, vm: vmName }, 'a hold lapsed; the VM goes to the next in line');
  }

  private message(entry: QueueEntry, key: string, body: OutboxMessage['body'], now: number, deliverBy: number, leaseId: string | null = null): void {
    this.options.queueMessage({ key, kind: 'waitlist', leaseId, to: { platform: entry.platform, user: entry.user, conversation: entry.conversation }, body, createdAt: now, deliverBy });
  }
}
