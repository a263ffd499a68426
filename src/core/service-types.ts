/** The shapes the service's use cases take and give: options, overviews, admin audit records. */
import type { AlertDesk } from './alert-desk.ts';
import type { ActivityStore } from '../ports/activity.ts';
import type { Clock } from '../ports/clock.ts';
import type { Metrics, MetricsSummary } from '../ports/metrics.ts';
import type { OutboxMessage } from '../ports/outbox.ts';
import type { RunLog } from '../ports/provisioner.ts';
import type { Store } from '../ports/store.ts';
import type { Circuit, CircuitSettings } from './circuit.ts';
import type { LeaseView, PoolControl, PoolHealth, PoolSpec, Principal } from './model.ts';
import type { PoolSize } from './pool-size.ts';
import type { PoolSizes } from './pool-sizes.ts';

/** What the scheduler last saw of the cloud; the service uses it to explain empty pools. */
export interface CloudStatus {
  lastObservedAt: number | null;
  lastError: string | null;
  /** Per pool: why it is not being filled (at maximum, backing off, quota), if it is not. */
  notes: ReadonlyMap<string, string>;
}

export interface PoolCounts {
  ready: number;
  booting: number;
  provisioning: number;
  claimed: number;
  releasing: number;
  failed: number;
  total: number;
}

export interface PoolOverview {
  pool: PoolSpec;
  counts: PoolCounts;
  mayClaim: boolean;
  /** Admins' run-time changes: size override, drained, paused. */
  control: PoolControl;
  /** The warm size worked to now (0 while drained). */
  size: number;
  /** Why it is that size: drained, an admin's, a scheduled window's (or one filled ahead), configured. */
  sizeWhy: PoolSize;
}

/**
 * One admin command's audit record: the admin, the command, its target and reason. Written
 * once: by the use case, in the transaction of its change, or else by the dispatcher.
 */
export interface AdminCommandAudit {
  who: Principal;
  command: string;
  target: string;
  reason: string | null;
  written: boolean;
}

/** What an admin's action tells a lease's holder: built by the chat layer (lease-card.ts). */
export interface AdminMessages {
  released(lease: LeaseView, admin: string, reason: string | null): OutboxMessage['body'];
  extended(lease: LeaseView, admin: string, reason: string | null, byMs: number): OutboxMessage['body'];
}

/** How far admins may extend a lease when the configuration does not say: 7 days in all. */
export const DEFAULT_ADMIN_MAX_LEASE_MS = 7 * 86_400_000;

export interface PoolAdminReport extends PoolOverview {
  health: PoolHealth;
  circuit: Circuit;
  /** While its circuit is not closed: the pool's last failed VMs (newest first, at most 3), why, and when. */
  failures: { vm: string; error: string; at: number; booted: boolean }[];
  note: string | null;
  oldestLease: LeaseView | null;
  typicalReadyMs: number;
}

export interface ServiceOptions {
  store: Store;
  clock: Clock;
  pools: readonly PoolSpec[];
  cloudStatus: () => CloudStatus;
  /**
   * Told after a lease of `account` changed (claimed, extended, released), so the reconciler
   * acts at once and chat platforms can refresh what they show that user.
   */
  onChange: (account: string) => void;
  /** Boot + provisioning time assumed until the pool has been seen filling. */
  defaultReadyMs: number;
  /** The end of the last provisioning run's log of a VM. */
  runLog?: (vmName: string, maxLines: number) => Promise<RunLog | undefined>;
  /** Claim latency and time empty, for admins. */
  metrics?: () => MetricsSummary;
  /** Called when a message was queued in the outbox, so that its sender delivers it. */
  onMessageQueued?: () => void;
  /** Called after an admin changed a pool (size, drained, paused), so the reconciler acts at once. */
  onPoolChange?: () => void;
  /** The circuit breaker of failing pools (the planner's settings), to explain it and to close it. */
  circuit?: CircuitSettings;
  /** The longest a lease may last, claim to expiry, when admins extend it. */
  adminMaxLeaseMs?: number;
  /** What holders are told when an admin ends or extends their lease. */
  adminMessages?: AdminMessages;
  /** Pools' warm sizes and why (the reconciler's, so both read the schedule the same way); UTC windows by default. */
  sizes?: PoolSizes;
  /** What the activity monitor saw of leases (idle, busy, Keep it); absent: VMs are not watched. */
  activity?: ActivityStore;
  /** Where the waitlist reports holds taken or passed and how long claims waited (/metrics). */
  waitlistMetrics?: Pick<Metrics, 'hold' | 'claimServed'>;
  /** Boots the scheduler runs at once (scheduler.maxConcurrentBoots), for the queue's estimate; 10 if absent. */
  maxConcurrentBoots?: number;
  /** The open and resolved alerts, and `admin alerts here` (alert-desk.ts); absent: the bot keeps no alerts. */
  alerts?: AlertDesk;
}

