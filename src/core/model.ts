/**
 * The domain: pools of analysis VMs, the VMs themselves and the leases users hold on them.
 * All times are epoch milliseconds from the injected Clock; durations end in `Ms`.
 */

/** What a pool should look like: read from configuration, never changed at run time. */
export interface PoolSpec {
  name: string;
  description: string;
  image: string;
  flavor: string;
  gpu: boolean;
  networks: string[];
  /** Warm VMs to keep ready for claiming. */
  size: number;
  /** VMs of this pool that may exist at once, claimed or not. */
  max: number;
  leaseMs: number;
  /** Offsets before expiry at which the holder is reminded, largest first. */
  remindBeforeMs: number[];
  extensionStepMs: number;
  maxExtensions: number;
  maxLeasesPerUser: number;
  /** Groups whose members may claim; admins may always claim. */
  groups: string[];
  /** Connection instructions; `{address}`, `{name}` and `{account}` are filled in. */
  connect: string;
  /** Who maintains the image (shown to admins). */
  owner: { name: string; contact: string };
  /** Times the warm size is another (cron windows in `scheduler.timezone`); none: always `size`. */
  schedule?: SizeWindow[];
  /** The least time a window is filled ahead of its start (more when boots are seen to take longer). */
  leadTimeMs?: number;
  /** Idle VMs (no session, no busy process of the holder): asked after `afterMs`, released `releaseAfterMs` after asking while others wait (null: never). Defaults in core/activity.ts. */
  idle?: { afterMs: number; releaseAfterMs: number | null };
  /** The one postponement of teardown a busy VM gets at expiry when nobody waits; 0: none. */
  graceWhenBusyMs?: number;
  /** The waitlist (core/waitlist.ts has the defaults): a claim on an empty pool queues; the configuration turns it on unless `queue: false`. */
  queue?: boolean;
  /** How long a ready VM is held for the head of the queue. */
  holdForMs?: number;
  /** Lease a ready VM to the head of the queue at once instead of offering it. */
  autoAssign?: boolean;
  /** While people wait: extensions as usual, at most once more, or none. */
  extendWhileQueued?: 'allow' | 'once' | 'refuse';
}

/** A scheduled warm size: from each time `cron` fires, for `forMs`, the pool keeps `size` warm. */
export interface SizeWindow {
  cron: string;
  forMs: number;
  size: number;
  /** Shown in `pools` ("12 until 18:00: weekday mornings"); the cron when absent. */
  name?: string;
}

/**
 * booting → provisioning → ready → claimed → releasing → deleted, and failed from any state
 * before release. Only a `ready` VM is ever handed out.
 */
export const VM_STATES = ['booting', 'provisioning', 'ready', 'claimed', 'releasing', 'failed', 'deleted'] as const;
export type VmState = (typeof VM_STATES)[number];

export interface Vm {
  id: string;
  /** Short, unique, what users type: `excitations-k3f9`. */
  name: string;
  pool: string;
  state: VmState;
  /** The cloud's id for the server, once creation has returned. */
  serverId: string | null;
  address: string | null;
  image: string;
  flavor: string;
  createdAt: number;
  stateSince: number;
  readyAt: number | null;
  /** Why the VM failed, or the last problem seen with it. */
  detail: string | null;
  /** The SSH host key the bot gave it at boot (`ssh-ed25519 AAAA…`), pinned for every play. */
  hostKey?: string | null;
}

export interface Lease {
  id: string;
  vmId: string;
  pool: string;
  /** The facility account holding the lease. */
  user: string;
  /** Where to send reminders: the chat platform and conversation the claim came from. */
  platform: string;
  conversation: string;
  claimedAt: number;
  expiresAt: number;
  extensionsUsed: number;
  /** When the VM was personalised for this user (their account and home directory); null until then. */
  homeReadyAt: number | null;
  endedAt: number | null;
  endReason: LeaseEndReason | null;
}

/**
 * `setup-failed`: the VM could not be personalised for its user, who gets their claim back.
 * `idle`: released by the bot, idle and its holder not answering while others waited.
 */
export type LeaseEndReason = 'released' | 'expired' | 'vm-lost' | 'admin' | 'setup-failed' | 'idle';

/** A lease joined with its VM: what status, reminders and teardown work on. */
export interface LeaseView extends Lease {
  vm: Vm;
}

/** Per-pool operational state kept by the scheduler. */
export interface PoolHealth {
  pool: string;
  lastError: string | null;
  lastErrorAt: number | null;
  consecutiveFailures: number;
  backoffUntil: number | null;
  /** The fingerprint of the pool's configuration its failures were counted under (core/circuit.ts). */
  spec?: string | null;
}

/**
 * What admins changed about a pool at run time, kept in the store across restarts; the
 * configuration itself is never changed.
 */
export interface PoolControl {
  pool: string;
  /** Warm VMs to keep instead of the configured size (0 … max); null: as configured. */
  size: number | null;
  /** Who set `size`, and when (absent in records from before it was kept). */
  sizeBy?: { by: string; at: number } | null;
  /** Closed to new claims and its ready VMs retired; claimed ones stay until their leases end. */
  drained: { reason: string; by: string; at: number } | null;
  /** Left alone by the reconciler: no boots, no deletions (leases still expire and remind). */
  paused: { by: string; at: number } | null;
}

export const noControl = (pool: string): PoolControl => ({ pool, size: null, drained: null, paused: null });

/** The warm size the planner works to: 0 while drained, the admin's size, or the configured one. */
export function effectiveSize(pool: PoolSpec, control: PoolControl | undefined): number {
  if (control?.drained) return 0;
  return control?.size ?? pool.size;
}

export interface AuditEntry {
  at: number;
  actor: string;
  action: string;
  target: string;
  result: string;
  detail?: Record<string, unknown>;
}

/** Who is asking, as the core sees it: a facility account and what it may do. */
export interface Principal {
  account: string;
  isAdmin: boolean;
  groups: readonly string[];
  /**
   * A facility directory is configured but could not be asked: only the configuration's own
   * lists count, and claims and extensions are refused until it answers again.
   */
  directoryUnavailable?: boolean;
}

/** Where a user can be reached: the platform and conversation a command came from. */
export interface Origin {
  platform: string;
  conversation: string;
  /** Where exactly the message was said, for `admin alerts here` (a Teams channel's reference). */
  place?: string;
}
