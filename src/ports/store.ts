import type { AuditEntry, LeaseEndReason, LeaseView, PoolControl, PoolHealth, Vm, VmState } from '../core/model.ts';
import type { OutboxStore } from './outbox.ts';
import type { TickReadStore } from './tick-reads.ts';
import type { WaitlistStore } from './waitlist.ts';

export interface NewVm {
  pool: string;
  image: string;
  flavor: string;
  createdAt: number;
}

export interface ClaimRequest {
  pool: string;
  user: string;
  platform: string;
  conversation: string;
  now: number;
  leaseMs: number;
  maxLeasesPerUser: number;
}

export type ClaimOutcome =
  | { ok: true; lease: LeaseView }
  | { ok: false; reason: 'pool-empty' | 'lease-limit'; held: number };

export interface VmPatch {
  state?: VmState;
  serverId?: string | null;
  address?: string | null;
  readyAt?: number | null;
  detail?: string | null;
  hostKey?: string | null;
}

/** Personalisations that failed for a user's own reasons, in a row: what backs off their claims. */
export interface UserSetupFailures {
  user: string;
  failures: number;
  lastError: string;
  lastFailedAt: number;
  /** No claim for this user before then. */
  retryAt: number;
}

/**
 * A reminder stage's record. `queued`: its message is in the outbox (written in the same
 * transaction), which keeps how delivery went. `sending`, `sent` and `failed` are from stores
 * of bots that sent reminders themselves.
 */
export type ReminderStatus = 'queued' | 'sending' | 'sent' | 'failed' | 'superseded';

export interface ReminderRecord {
  leaseId: string;
  beforeMs: number;
  expiresAt: number;
  status: ReminderStatus;
}

/**
 * Durable state. Every method is atomic: a claim, an extension or a state change either
 * happens whole or not at all, and two claims can never receive the same VM.
 */
export interface Store extends OutboxStore, WaitlistStore, TickReadStore {
  /**
   * Runs `fn` atomically; `fn` must not await. A call nested in another runs in a savepoint of
   * the outer transaction: if it throws, its own writes are undone and the outer one goes on
   * (or not, as its caller decides); what it wrote commits or rolls back with the outer.
   */
  transaction<T>(fn: () => T): T;
  /** Whether a transaction is open now (SQLite may roll one back by itself, on a full disk). */
  inTransaction(): boolean;

  createVm(vm: NewVm): Vm;
  getVm(id: string): Vm | undefined;
  findVmByName(name: string): Vm | undefined;
  /** VMs in any of `states` (all but deleted when omitted), oldest first. */
  listVms(filter?: { pool?: string; states?: readonly VmState[] }): Vm[];
  /**
   * Changes a VM only if it is still in `expect` state(s): the guard that keeps a tick and a
   * command from acting on stale reads. Returns whether it changed.
   */
  updateVm(id: string, patch: VmPatch, now: number, expect?: VmState | readonly VmState[]): boolean;

  /** Hands the oldest ready VM of the pool to the user, in one transaction. */
  claim(request: ClaimRequest): ClaimOutcome;
  activeLeases(filter?: { user?: string; pool?: string }): LeaseView[];
  getLease(id: string): LeaseView | undefined;
  /**
   * Moves the expiry if the lease is still active with `expectedExtensions` used; its pending
   * reminders are superseded. `counts`: false for an admin's extension, which uses none of the pool's.
   */
  extendLease(id: string, newExpiresAt: number, expectedExtensions: number, counts?: boolean): boolean;
  /** Records that the lease's VM was personalised for its user; false if it already was or ended. */
  markHomeReady(id: string, now: number): boolean;
  /** Ends an active lease and marks its VM for teardown, in one transaction; its pending messages are superseded. */
  endLease(id: string, reason: LeaseEndReason, now: number): boolean;

  /**
   * Records that a reminder stage is done for this expiry (its message queued, or superseded);
   * false if it was recorded before, so a stage is queued once.
   */
  recordReminder(leaseId: string, beforeMs: number, expiresAt: number, status: ReminderStatus, now: number): boolean;
  /** Reminders recorded for the leases that are still active, in one query. */
  activeReminders(): ReminderRecord[];

  /** The user's run of failed personalisations, if the last one failed. */
  userSetupFailures(user: string): UserSetupFailures | undefined;
  saveUserSetupFailures(record: UserSetupFailures): void;
  /** A personalisation for the user succeeded: the run of failures is over. */
  clearUserSetupFailures(user: string): void;

  poolHealth(pool: string): PoolHealth;
  savePoolHealth(health: PoolHealth): void;
  /** Admins' run-time changes to pools (size, drained, paused); pools without any are absent. */
  poolControls(): PoolControl[];
  /** The pool's run-time changes; a pool without any gets an empty control. */
  poolControl(pool: string): PoolControl;
  /** Saves a pool's run-time changes; one without any change is removed. */
  savePoolControl(control: PoolControl): void;
  /** Seconds from creation to ready of the pool's latest ready VMs, newest first. */
  recentReadyTimesMs(pool: string, limit: number): number[];

  audit(entry: AuditEntry): void;
  auditLog(filter?: { since?: number; limit?: number }): AuditEntry[];
  close(): void;
}
