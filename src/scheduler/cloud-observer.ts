import { WARM } from '../core/plan-pools.ts';
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
}

/** What the cloud and the store say this tick: the planner's view of the world. */
export interface CloudView {
  vms: Vm[];
  servers: CloudServer[];
  /** Room left in the project's quota, read only when a pool is short. */
  capacity: { instances: number; cores: number } | null;
  coresPerVm: ReadonlyMap<string, number>;
  currentImages: Map<string, string>;
}

/** States in which a missing server would cost a VM, so its absence is confirmed first. */
const CONFIRM: ReadonlySet<VmState> = new Set<VmState>([...WARM, 'claimed']);

/**
 * Reads the cloud as cheaply as a tick allows: one paged list at steady state; quotas and
 * flavours only when a pool is short, a server missing from the list asked for by itself, and
 * each current image looked up once per name.
 */
export class CloudObserver {
  private readonly coresPerVm = new Map<string, number>();

  constructor(private readonly options: CloudObserverOptions) {}

  /** Rejects when the cloud did not answer. `pools`: with the warm sizes worked to now (admins may change them). */
  async read(pools: readonly PoolSpec[] = this.options.pools): Promise<CloudView> {
    const { cloud, store } = this.options;
    const servers = await cloud.listServers(this.options.tag);
    const vms = store.listVms();
    servers.push(...(await this.confirmMissing(servers, vms)));
    let capacity: CloudView['capacity'] = null;
    // Quotas matter only when a pool is short: at steady state a tick costs one list call.
    if (pools.some((pool) => vms.filter((vm) => vm.pool === pool.name && WARM.has(vm.state)).length < pool.size)) {
      const limits = await cloud.limits();
      capacity = { instances: limits.maxInstances - limits.usedInstances, cores: limits.maxCores - limits.usedCores };
      await this.learnFlavors();
    }
    const currentImages = await this.currentImages(vms);
    return { vms, servers, capacity, coresPerVm: this.coresPerVm, currentImages };
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
      }
    }
    return found;
  }

  /** The current image of each pool with ready VMs, to replace those built from an older one. */
  private async currentImages(vms: readonly Vm[]): Promise<Map<string, string>> {
    // One look-up per image name, all at once: pools often share an image.
    const lookups = new Map<string, Promise<string | null>>();
    for (const pool of this.options.pools) {
      if (!vms.some((vm) => vm.pool === pool.name && vm.state === 'ready') || lookups.has(pool.image)) continue;
      lookups.set(
        pool.image,
        this.options.cloud.imageId(pool.image).catch((error: unknown) => {
          this.options.log.warn({ err: error, image: pool.image }, 'could not tell which image is current; ready VMs are kept as they are');
          return null;
        }),
      );
    }
    const images = new Map<string, string>();
    for (const pool of this.options.pools) {
      const id = await lookups.get(pool.image);
      if (id) images.set(pool.name, id);
    }
    return images;
  }

  private async learnFlavors(): Promise<void> {
    for (const pool of this.options.pools) {
      if (!this.coresPerVm.has(pool.name)) this.coresPerVm.set(pool.name, await this.options.cloud.flavorCores(pool.flavor));
    }
  }
}
