import type { CloudServer } from '../ports/cloud.ts';
import { circuitOf, type CircuitSettings } from './circuit.ts';
import type { PoolHealth, PoolSpec, Vm, VmState } from './model.ts';
import { planRetiredVm, retiredPoolNames, retiredPoolNote } from './retired-pools.ts';

/** Metadata keys that mark a server as the bot's and tie it to a store record. */
export const META = { managedBy: 'daaas:managed-by', pool: 'daaas:pool', vm: 'daaas:vm' } as const;

export interface PlanSettings {
  readinessTimeoutMs: number;
  failedRetentionMs: number;
  maxConcurrentBoots: number;
  /** The circuit breaker of failing pools; without it pools only back off. */
  circuit?: CircuitSettings;
}

export interface ObservedWorld {
  now: number;
  pools: readonly PoolSpec[];
  /** The store's live VMs (everything not yet deleted). */
  vms: readonly Vm[];
  /** The cloud's servers carrying our tag: one paged list per tick. */
  servers: readonly CloudServer[];
  /**
   * Live VMs per pool, when `vms` holds only those worth planning (between full walks: every VM
   * not handed to a user, and the claimed ones a cloud change names). Absent: `vms` is all.
   */
  vmCounts?: ReadonlyMap<string, number>;
  /** VMs whose creation call or provisioning run is under way in this process. */
  creating: ReadonlySet<string>;
  provisioning: ReadonlySet<string>;
  health: ReadonlyMap<string, PoolHealth>;
  /** What the cloud quota still allows, when known. */
  capacity: { instances: number; cores: number } | null;
  coresPerVm: ReadonlyMap<string, number>;
  /** Per pool, the image id a VM booted now would get; a ready VM on another one is stale. */
  currentImages?: ReadonlyMap<string, string>;
  /** Pools an admin paused: nothing is booted, retired or deleted for them. */
  paused?: ReadonlySet<string>;
  /** Pools an admin drained (their size is 0 here): their ready VMs are retired as such. */
  drained?: ReadonlySet<string>;
  /** Per pool, users waiting in its queue: the pool boots for size + queued (never beyond max). */
  queued?: ReadonlyMap<string, number>;
  /** Ready VMs held for someone in a queue: promised, so never retired. */
  held?: ReadonlySet<string>;
  settings: PlanSettings;
}

export type Action =
  | { kind: 'create'; pool: string }
  | { kind: 'adopt'; vm: Vm; server: CloudServer }
  | { kind: 'provision'; vm: Vm; address: string | null }
  | { kind: 'fail'; vm: Vm; reason: string }
  | { kind: 'lost'; vm: Vm; reason: string }
  | { kind: 'delete-server'; vm: Vm | null; serverId: string; reason: string }
  | { kind: 'forget'; vm: Vm; reason: string }
  /** A ready VM the pool no longer needs (its size was lowered, or a lost server was adopted). */
  | { kind: 'retire'; vm: Vm; reason?: string };

export interface Plan {
  actions: Action[];
  /** Why a pool is not being filled, for admins: at maximum, backing off, quota. */
  notes: Map<string, string>;
}

/**
 * Compares what should be (pools from config) with what is (store and cloud) and says what to
 * do. Pure: it performs nothing, so every decision is testable with plain data, and running
 * it again on the same world gives the same plan (level-based, not edge-triggered).
 */
export function planPools(world: ObservedWorld): Plan {
  const actions: Action[] = [];
  const notes = new Map<string, string>();
  const serverOf = new Map<string, CloudServer>();
  for (const server of world.servers) {
    const vmId = server.metadata[META.vm];
    if (vmId) serverOf.set(vmId, server);
  }
  const liveIds = new Set(world.vms.map((vm) => vm.id));

  // A pool gone from the configuration is retired: all but its claimed VMs go (retired-pools.ts).
  const retired = new Set(retiredPoolNames(world.pools, world.vms));
  for (const vm of world.vms) {
    const own = retired.has(vm.pool) ? planRetiredVm(vm, serverOf.get(vm.id), world) : undefined;
    const action = own === undefined ? planVm(vm, serverOf.get(vm.id), world) : own;
    if (action) actions.push(action);
  }
  for (const pool of retired) notes.set(pool, retiredPoolNote(pool, world.vms));

  for (const server of world.servers) {
    const vmId = server.metadata[META.vm];
    if (server.status === 'DELETED') continue; // already on its way out
    if (!vmId || !liveIds.has(vmId)) {
      actions.push({ kind: 'delete-server', vm: null, serverId: server.id, reason: 'a server of ours that the store does not know' });
    }
  }

  planBoots(world, serverOf, actions, notes);
  const paused = world.paused ?? new Set<string>();
  if (paused.size === 0) return { actions, notes };
  // A paused pool is frozen while someone investigates: nothing booted, retired or deleted.
  for (const pool of paused) notes.set(pool, 'paused by an admin: nothing is booted or deleted');
  const poolOf = (action: Action): string | undefined =>
    action.kind === 'create' ? action.pool : action.vm ? action.vm.pool : action.kind === 'delete-server' ? serverPool(world, action.serverId) : undefined;
  const frozen = new Set<Action['kind']>(['create', 'retire', 'delete-server', 'forget']);
  return { actions: actions.filter((a) => !(frozen.has(a.kind) && paused.has(poolOf(a) ?? ''))), notes };
}

function serverPool(world: ObservedWorld, serverId: string): string | undefined {
  return world.servers.find((s) => s.id === serverId)?.metadata[META.pool];
}

function planVm(vm: Vm, server: CloudServer | undefined, world: ObservedWorld): Action | undefined {
  const { now, settings } = world;
  const broken = server?.status === 'ERROR' ? `the cloud reports ERROR: ${server.fault ?? 'no fault given'}` : undefined;
  const gone = !server || server.status === 'DELETED';
  const timedOut = now - vm.createdAt > settings.readinessTimeoutMs;
  const timeoutReason = `not ready ${Math.round(settings.readinessTimeoutMs / 1000)} s after it was created`;

  switch (vm.state) {
    case 'booting':
      if (gone) {
        if (world.creating.has(vm.id)) return undefined;
        return vm.serverId
          ? { kind: 'fail', vm, reason: 'its server disappeared while booting' }
          : { kind: 'forget', vm, reason: 'its server was never created' };
      }
      if (!vm.serverId) return { kind: 'adopt', vm, server: server! };
      if (broken) return { kind: 'fail', vm, reason: broken };
      if (timedOut) return { kind: 'fail', vm, reason: timeoutReason };
      if (server!.status === 'ACTIVE') return { kind: 'provision', vm, address: server!.address };
      return undefined;
    case 'provisioning':
      if (gone) return { kind: 'fail', vm, reason: 'its server disappeared while provisioning' };
      if (broken) return { kind: 'fail', vm, reason: broken };
      if (timedOut) return { kind: 'fail', vm, reason: timeoutReason };
      // A run lost with a crashed process is started again: provisioning is idempotent.
      if (!world.provisioning.has(vm.id)) return { kind: 'provision', vm, address: server!.address };
      return undefined;
    case 'ready':
      if (gone) return { kind: 'fail', vm, reason: 'its server disappeared while waiting in the pool' };
      if (broken) return { kind: 'fail', vm, reason: broken };
      return undefined;
    case 'claimed':
      if (gone) return { kind: 'lost', vm, reason: 'its server disappeared' };
      if (broken) return { kind: 'lost', vm, reason: broken };
      return undefined;
    case 'releasing':
      return gone ? { kind: 'forget', vm, reason: 'released and its server is gone' } : { kind: 'delete-server', vm, serverId: server!.id, reason: 'released' };
    case 'failed':
      // Kept a while so an admin can look at it, then removed.
      if (now - vm.stateSince < settings.failedRetentionMs) return undefined;
      return gone ? { kind: 'forget', vm, reason: 'failed and its server is gone' } : { kind: 'delete-server', vm, serverId: server!.id, reason: 'failed' };
    case 'deleted':
      return undefined;
  }
}

/** The states a pool counts as its own: on the way to ready, or ready. */
export const WARM: ReadonlySet<VmState> = new Set<VmState>(['booting', 'provisioning', 'ready']);

function planBoots(world: ObservedWorld, serverOf: ReadonlyMap<string, CloudServer>, actions: Action[], notes: Map<string, string>): void {
  const inFlight = world.vms.filter((vm) => vm.state === 'booting' || vm.state === 'provisioning').length;
  let budget = Math.max(0, world.settings.maxConcurrentBoots - inFlight);
  let instances = world.capacity?.instances ?? Number.POSITIVE_INFINITY;
  let cores = world.capacity?.cores ?? Number.POSITIVE_INFINITY;

  const wants = new Map<string, number>();
  for (const pool of world.pools) {
    const vms = world.vms.filter((vm) => vm.pool === pool.name);
    // A ready VM on an image older than the pool's current one is replaced: users want the
    // current image. It is retired only once a current one is ready to stand in for it.
    const image = world.currentImages?.get(pool.name);
    const stale = (vm: Vm) => vm.state === 'ready' && image !== undefined && serverOf.get(vm.id)?.image !== undefined && serverOf.get(vm.id)!.image !== image;
    const current = vms.filter((vm) => WARM.has(vm.state) && !stale(vm));
    const staleReady = vms.filter(stale);
    // Waiting users are demand too: each needs a VM beyond the warm size (held ones count as current).
    const size = world.drained?.has(pool.name) ? pool.size : Math.min(Math.max(pool.max, pool.size), pool.size + (world.queued?.get(pool.name) ?? 0));
    const need = Math.max(0, size - current.length);
    // Newest first, so the VMs waiting longest are still the next to be handed out.
    const ready = current.filter((vm) => vm.state === 'ready').reverse();
    const retirable = ready.filter((vm) => !world.held?.has(vm.id));
    const surplus = world.drained?.has(pool.name) ? 'the pool is drained for maintenance' : undefined;
    for (const vm of retirable.slice(0, Math.max(0, current.length - size))) actions.push(surplus ? { kind: 'retire', vm, reason: surplus } : { kind: 'retire', vm });
    const standIns = Math.max(0, Math.min(ready.length, size) + staleReady.length - size);
    for (const vm of staleReady.slice(0, standIns)) actions.push({ kind: 'retire', vm, reason: 'built from an older image' });
    if (staleReady.length > standIns) notes.set(pool.name, `replacing ${staleReady.length - standIns} ready VM(s) built from an older image`);
    const room = Math.max(0, pool.max - (world.vmCounts?.get(pool.name) ?? vms.length));
    const backoffUntil = world.health.get(pool.name)?.backoffUntil ?? null;
    if (need === 0) continue;
    const health = world.health.get(pool.name);
    const circuit = health && world.settings.circuit ? circuitOf(health, world.now, world.settings.circuit) : ({ state: 'closed' } as const);
    if (circuit.state !== 'closed') {
      const failing = `failing: ${circuit.failures} boots or provisioning runs in a row failed`;
      const inFlight = vms.some((vm) => vm.state === 'booting' || vm.state === 'provisioning');
      if (circuit.state === 'open' || inFlight) {
        const next = circuit.state === 'open' ? `one trial boot at ${new Date(circuit.retryAt).toISOString()}` : 'the trial boot is under way';
        notes.set(pool.name, `${failing}; booting stopped (${next}; admin resume ${pool.name} closes it)`);
        continue;
      }
      // Half-open: one trial boot; it closes the circuit if it gets ready, reopens it if not.
      notes.set(pool.name, `${failing}; one trial boot`);
      if (room > 0) wants.set(pool.name, 1);
      continue;
    }
    // After a failure, no more boots at once than the failures left before the circuit opens:
    // a broken image costs the cloud at most failureLimit boots.
    const untilOpen = health && world.settings.circuit && health.consecutiveFailures > 0 ? world.settings.circuit.failureLimit - health.consecutiveFailures : Number.POSITIVE_INFINITY;
    if (backoffUntil !== null && backoffUntil > world.now) {
      notes.set(pool.name, `backing off after failures until ${new Date(backoffUntil).toISOString()}`);
      continue;
    }
    if (room === 0) {
      notes.set(pool.name, `at its maximum of ${pool.max} VMs`);
      continue;
    }
    const inFlight = vms.filter((vm) => vm.state === 'booting' || vm.state === 'provisioning').length;
    wants.set(pool.name, Math.max(0, Math.min(need, room, untilOpen - inFlight)));
  }

  // Hand out boots one per pool in turn, so one large pool cannot starve the others.
  let progress = true;
  while (progress && budget > 0) {
    progress = false;
    for (const pool of world.pools) {
      const want = wants.get(pool.name) ?? 0;
      if (want === 0 || budget === 0) continue;
      const vmCores = world.coresPerVm.get(pool.name) ?? 0;
      if (instances < 1 || cores < vmCores) {
        notes.set(pool.name, `cloud quota exhausted (${world.capacity ? `${world.capacity.instances} instances, ${world.capacity.cores} cores were free` : 'unknown'})`);
        wants.set(pool.name, 0);
        continue;
      }
      actions.push({ kind: 'create', pool: pool.name });
      wants.set(pool.name, want - 1);
      budget--;
      instances--;
      cores -= vmCores;
      progress = true;
    }
  }
  for (const [pool, want] of wants) if (want > 0 && !notes.has(pool)) notes.set(pool, `waiting for a boot slot (${world.settings.maxConcurrentBoots} at once)`);
}
