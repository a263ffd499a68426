import { META, WARM } from '../core/plan-pools.ts';
import type { PoolSpec, Vm, VmState } from '../core/model.ts';
import type { Cloud, CloudServer } from '../ports/cloud.ts';
import type { Logger } from '../ports/logger.ts';
import type { Store } from '../ports/store.ts';

export interface CloudObserverOptions {
  cloud: Cloud;
  store: Store;
  log: Logger;
  pools: readonly PoolSpec[];
  /** The tag on this deployment's servers. */
  tag: string;
  /** A full walk of the cloud's list at least this often; between walks, only what changed is read. */
  resyncEveryMs: number;
  /**
   * How far each `changes-since` window reaches back before the previous read began: the bot's
   * clock and the cloud's may disagree by up to this much without a change being missed.
   */
  overlapMs?: number;
}

/** What the cloud and the store say this tick: the planner's view of the world. */
export interface CloudView {
  /** Every live VM after a full walk; between walks, every VM not handed to a user and the claimed ones a change names. */
  vms: Vm[];
  /** Every server of ours after a full walk; between walks, what changed and the last known server of each VM in `vms`. */
  servers: CloudServer[];
  /** Live VMs per pool, when `vms` is not all of them. */
  vmCounts: ReadonlyMap<string, number> | undefined;
  /** Room left in the project's quota, read only when a pool is short. */
  capacity: { instances: number; cores: number } | null;
  coresPerVm: ReadonlyMap<string, number>;
  currentImages: Map<string, string>;
  /** Whether this was a full walk (every server listed) or changes since the last read. */
  full: boolean;
}

/** States in which a missing server would cost a VM, so its absence is confirmed first. */
const CONFIRM: ReadonlySet<VmState> = new Set<VmState>([...WARM, 'claimed']);
/** Every live state but `claimed`: the pools' own VMs and those on their way in or out. */
const UNCLAIMED: readonly VmState[] = ['booting', 'provisioning', 'ready', 'releasing', 'failed'];
/** Nova's `updated` has whole seconds, and clocks drift: a minute of overlap costs re-reading a minute of changes. */
const OVERLAP_MS = 60_000;

/**
 * Reads the cloud as cheaply as a tick allows. A full walk of the tagged list at the first read,
 * after any error and every `resyncEveryMs`; between walks one `changes-since` request (a page
 * per 50–200 changes), whatever the size of the fleet, applied to the servers known from the
 * last walk. Quotas and flavours only when a pool is short, a server missing asked for by
 * itself, each current image looked up at full walks (and once for a pool that had none).
 */
export class CloudObserver {
  private readonly coresPerVm = new Map<string, number>();
  /** Servers of ours as last seen, by id: the last walk with the changes since applied. */
  private known = new Map<string, CloudServer>();
  /** When (bot's clock) the last successful read began, and the last full walk; null: walk next. */
  private lastReadAt: number | null = null;
  private lastWalkAt: number | null = null;
  private readonly images = new Map<string, string>();

  constructor(private readonly options: CloudObserverOptions) {}

  /** The next read walks the whole list: after an error elsewhere, or when asked to. */
  resync(): void {
    this.lastWalkAt = null;
  }

  /**
   * Rejects when the cloud did not answer, and the next read is a full walk. `pools`: with the
   * warm sizes worked to now (admins may change them); `now`: the bot's clock at the tick's start.
   */
  async read(pools: readonly PoolSpec[], now: number): Promise<CloudView> {
    const full = this.lastWalkAt === null || this.lastReadAt === null || now - this.lastWalkAt >= this.options.resyncEveryMs || now < this.lastReadAt;
    try {
      const view = full ? await this.walk(now) : await this.changes(this.lastReadAt!, now);
      if (full) this.lastWalkAt = now;
      this.lastReadAt = now;
      let capacity: CloudView['capacity'] = null;
      // Quotas matter only when a pool is short: at steady state a tick costs one list call.
      if (pools.some((pool) => view.vms.filter((vm) => vm.pool === pool.name && WARM.has(vm.state)).length < pool.size)) {
        const limits = await this.options.cloud.limits();
        capacity = { instances: limits.maxInstances - limits.usedInstances, cores: limits.maxCores - limits.usedCores };
        await this.learnFlavors();
      }
      const currentImages = await this.currentImages(view.vms, full);
      return { ...view, capacity, coresPerVm: this.coresPerVm, currentImages, full };
    } catch (error) {
      this.lastWalkAt = null;
      throw error;
    }
  }

  private async walk(now: number): Promise<Pick<CloudView, 'vms' | 'servers' | 'vmCounts'>> {
    const { cloud, store } = this.options;
    const servers = await cloud.listServers(this.options.tag);
    const vms = store.listVms();
    servers.push(...(await this.confirmMissing(servers, vms)));
    this.known = new Map(servers.filter((s) => s.status !== 'DELETED').map((s) => [s.id, s]));
    this.options.log.debug({ servers: servers.length, vms: vms.length, at: now }, 'full walk of the cloud');
    return { vms, servers, vmCounts: undefined };
  }

  /**
   * The changes since the last read, on top of the servers known: deleted ones (untagged) are
   * matched to VMs by server id, the others by the VM id in their metadata.
   */
  private async changes(since: number, now: number): Promise<Pick<CloudView, 'vms' | 'servers' | 'vmCounts'>> {
    const { cloud, store } = this.options;
    const changed = await cloud.listChanges(this.options.tag, since - (this.options.overlapMs ?? OVERLAP_MS));
    const vms = store.listVms({ states: UNCLAIMED });
    const planned = new Set(vms.map((vm) => vm.id));
    const byServer = new Set(vms.map((vm) => vm.serverId));
    const ids: string[] = [];
    const serverIds: string[] = [];
    for (const server of changed) {
      const vmId = server.metadata[META.vm];
      if (vmId && !planned.has(vmId)) ids.push(vmId);
      // A deleted server has lost its metadata: its VM is found by the server's id.
      if (!vmId && !byServer.has(server.id)) serverIds.push(server.id);
    }
    if (ids.length || serverIds.length) for (const vm of store.liveVmsNamed(ids, serverIds)) if (!planned.has(vm.id)) vms.push(vm), planned.add(vm.id);
    const vmCounts = store.liveVmCounts();
    // A pool gone from the configuration is planned whole (its claimed VMs too): there are few.
    const configured = new Set(this.options.pools.map((p) => p.name));
    for (const pool of vmCounts.keys()) {
      if (!configured.has(pool)) for (const vm of store.listVms({ pool })) if (!planned.has(vm.id)) vms.push(vm), planned.add(vm.id);
    }
    for (const server of changed) {
      if (server.status === 'DELETED') this.known.delete(server.id);
      else this.known.set(server.id, server);
    }
    // The planner sees every change, and each VM it plans with its server as last known.
    const servers = [...changed];
    const inView = new Set(changed.map((s) => s.id));
    for (const vm of vms) {
      const server = vm.serverId && !inView.has(vm.serverId) ? this.known.get(vm.serverId) : undefined;
      if (server) servers.push(server), inView.add(server.id);
    }
    servers.push(...(await this.confirmMissing(servers, vms)));
    if (changed.length) this.options.log.debug({ changed: changed.length, since, at: now }, 'changes since the last look at the cloud');
    return { vms, servers, vmCounts };
  }

  /**
   * Servers of live VMs that the list left out, asked for one by one: a VM is called lost only
   * when the cloud says so of that server itself. Costs a call only when something is amiss.
   */
  private async confirmMissing(listed: readonly CloudServer[], vms: readonly Vm[]): Promise<CloudServer[]> {
    const seen = new Set(listed.map((s) => s.id));
    const found: CloudServer[] = [];
    for (const vm of vms) {
      if (!vm.serverId || seen.has(vm.serverId) || !CONFIRM.has(vm.state)) continue;
      const server = await this.options.cloud.getServer(vm.serverId);
      if (server) {
        this.options.log.info({ vm: vm.name, server: server.id }, 'a server missing from the list is still there');
        found.push(server);
        if (server.status !== 'DELETED') this.known.set(server.id, server);
      }
    }
    return found;
  }

  /**
   * The current image of each pool with ready VMs, to replace those built from an older one:
   * looked up at each full walk, and between walks only for a pool not looked up yet.
   */
  private async currentImages(vms: readonly Vm[], full: boolean): Promise<Map<string, string>> {
    if (full) this.images.clear();
    // One look-up per image name, all at once: pools often share an image.
    const lookups = new Map<string, Promise<string | null>>();
    const withReady = new Set(vms.filter((vm) => vm.state === 'ready').map((vm) => vm.pool));
    for (const pool of this.options.pools) {
      if (!withReady.has(pool.name) || this.images.has(pool.name) || lookups.has(pool.image)) continue;
      lookups.set(
        pool.image,
        this.options.cloud.imageId(pool.image).catch((error: unknown) => {
          this.options.log.warn({ err: error, image: pool.image }, 'could not tell which image is current; ready VMs are kept as they are');
          return null;
        }),
      );
    }
    for (const pool of this.options.pools) {
      const id = lookups.has(pool.image) && !this.images.has(pool.name) ? await lookups.get(pool.image) : undefined;
      if (id) this.images.set(pool.name, id);
    }
    return new Map([...this.images].filter(([pool]) => withReady.has(pool)));
  }

  private async learnFlavors(): Promise<void> {
    for (const pool of this.options.pools) {
      if (!this.coresPerVm.has(pool.name)) this.coresPerVm.set(pool.name, await this.options.cloud.flavorCores(pool.flavor));
    }
  }
}
