/**
 * The pool plan's effects on the cloud and the store: creating servers (the record first, so a
 * server can always be traced to it), adopting, provisioning, failing, retiring, deleting and
 * forgetting VMs, and telling a user whose claimed VM died. One action's failure is recorded
 * against its pool and makes the next tick walk the whole cloud again.
 */
import { teardownMessage } from '../chat/lease-card.ts';
import { errorMessage } from '../core/error-message.ts';
import type { PoolSpec, Vm } from '../core/model.ts';
import { noticeFor } from '../core/outbox.ts';
import { META, type Action } from '../core/plan-pools.ts';
import type { Clock } from '../ports/clock.ts';
import type { Cloud } from '../ports/cloud.ts';
import type { Logger } from '../ports/logger.ts';
import type { Provisioner } from '../ports/provisioner.ts';
import type { Store } from '../ports/store.ts';
import type { BackgroundRuns } from './background-runs.ts';
import { type Outcomes, SCHEDULER_ACTOR } from './outcomes.ts';

export interface PoolEffectsDeps {
  store: Store;
  cloud: Cloud;
  provisioner: Provisioner;
  clock: Clock;
  log: Logger;
  pools: ReadonlyMap<string, PoolSpec>;
  outcomes: Outcomes;
  runs: BackgroundRuns;
  /** This deployment's instance name and server tag. */
  instance: string;
  tag: string;
  /** VMs whose server is being asked for right now (the planner must not count them missing). */
  creating: Set<string>;
  /** The next tick walks the whole cloud. */
  resync: () => void;
}

export class PoolEffects {
  constructor(private readonly deps: PoolEffectsDeps) {}

  async apply(action: Action, now: number): Promise<void> {
    try {
      switch (action.kind) {
        case 'create':
          return await this.create(this.deps.pools.get(action.pool)!, now);
        case 'adopt':
          this.deps.store.updateVm(action.vm.id, { serverId: action.server.id }, now, 'booting');
          return;
        case 'provision':
          return this.deps.runs.startProvisioning(action.vm, action.address, now);
        case 'fail':
          return this.deps.outcomes.failVm(action.vm, action.reason, now);
        case 'lost':
          return this.lost(action.vm, action.reason, now);
        case 'delete-server':
          // A VM a user had gets its release play (flush, unmount) first; it never blocks teardown.
          if (!this.deps.runs.mayDeleteServer(action.vm)) return;
          await this.deps.cloud.deleteServer(action.serverId);
          if (action.vm) this.deps.runs.serverDeleted(action.vm.id);
          if (action.vm) this.deps.store.updateVm(action.vm.id, { state: 'deleted' }, now, action.vm.state);
          this.deps.log.info({ vm: action.vm?.name, server: action.serverId, reason: action.reason }, 'server deleted');
          if (!action.vm) this.deps.store.audit({ at: now, actor: SCHEDULER_ACTOR, action: 'delete-orphan', target: action.serverId, result: 'ok', detail: { reason: action.reason } });
          return;
        case 'retire':
          // Guarded on `ready`, so a claim that got there first keeps its VM.
          this.deps.store.updateVm(action.vm.id, { state: 'releasing', detail: action.reason ?? 'more than the pool needs' }, now, 'ready');
          return;
        case 'forget':
          this.deps.store.updateVm(action.vm.id, { state: 'deleted', detail: action.vm.detail ?? action.reason }, now, action.vm.state);
          return;
      }
    } catch (error) {
      // After any error the next tick looks at everything again, not only at what changed.
      this.deps.resync();
      const pool = action.kind === 'create' ? action.pool : action.vm?.pool;
      this.deps.log.warn({ err: error, action: action.kind, pool }, 'reconcile action failed; the next tick tries again');
      if (pool) this.deps.outcomes.noteError(pool, `${action.kind}: ${errorMessage(error)}`, now, false);
    }
  }

  private async create(pool: PoolSpec, now: number): Promise<void> {
    // The record comes first: a server can then always be traced to it, even after a crash.
    const vm = this.deps.store.createVm({ pool: pool.name, image: pool.image, flavor: pool.flavor, createdAt: now });
    this.deps.creating.add(vm.id);
    try {
      // What the provisioner needs the VM to boot with (its SSH host key): the key is kept with
      // the VM before the server is asked for, so a server of ours never lacks its pinned key.
      const boot = (await this.deps.provisioner.prepareBoot?.(vm)) ?? {};
      if (boot.hostKey) this.deps.store.updateVm(vm.id, { hostKey: boot.hostKey }, now);
      const server = await this.deps.cloud.createServer({
        name: vm.name,
        image: pool.image,
        flavor: pool.flavor,
        networks: pool.networks,
        metadata: { [META.managedBy]: this.deps.instance, [META.pool]: pool.name, [META.vm]: vm.id },
        tags: [this.deps.tag],
        ...(boot.userData ? { userData: boot.userData } : {}),
      });
      this.deps.store.updateVm(vm.id, { serverId: server.id }, this.deps.clock.now(), 'booting');
      this.deps.log.info({ vm: vm.name, server: server.id }, 'booting');
    } catch (error) {
      // Not retried here: creation is not idempotent. If the server exists after all, the next
      // tick finds it by its tag and adopts it; if not, the record is dropped and replaced.
      // The VM keeps why, for admins (admin pools lists a failing pool's last failures).
      this.deps.store.updateVm(vm.id, { detail: `boot: ${errorMessage(error)}` }, now);
      this.deps.outcomes.noteError(pool.name, `boot: ${errorMessage(error)}`, now, true);
      throw error;
    } finally {
      this.deps.creating.delete(vm.id);
    }
  }

  /** A claimed VM died under its user: end the lease and tell them, rather than leave them guessing. */
  private lost(vm: Vm, reason: string, now: number): void {
    const lease = this.deps.store.activeLeases({ pool: vm.pool }).find((l) => l.vmId === vm.id);
    this.deps.store.transaction(() => {
      this.deps.store.updateVm(vm.id, { state: 'failed', detail: reason }, now, 'claimed');
      if (lease && this.deps.outcomes.endLease(lease, 'vm-lost', now)) {
        this.deps.outcomes.queueMessage(noticeFor('teardown', lease, teardownMessage(lease, `Your VM stopped working (${reason}).`), now));
      }
    });
    this.deps.outcomes.noteError(vm.pool, `${vm.name} (claimed): ${reason}`, now, false);
  }
}
