import { randomUUID } from 'node:crypto';
import type Database from 'better-sqlite3';
import type { AuditEntry, LeaseEndReason, LeaseView, PoolControl, PoolHealth, Vm, VmState } from '../../core/model.ts';
import type { AttemptOutcome, MessageKind, OutboxMessage, OutboxRow, OutboxStatus } from '../../ports/outbox.ts';
import type { ClaimOutcome, ClaimRequest, NewVm, ReminderRecord, ReminderStatus, Store, UserSetupFailures, VmPatch } from '../../ports/store.ts';
import type { JoinOutcome, JoinRequest, QueueEntry } from '../../ports/waitlist.ts';
import { MIGRATIONS } from './migrations.ts';
import { openDatabase, StoreOpenError, storeError } from './open-database.ts';
import { SqliteOutbox } from './outbox.ts';
import { SqliteRecords } from './records.ts';
import { SqliteTickReads } from './tick-reads.ts';
import type { LeaseDue } from '../../ports/tick-reads.ts';
import { SqliteWaitlist } from './waitlist.ts';
import { LEASE_SELECT, LIVE_STATES, placeholders, type Row, shortId, Statements, toLeaseView, toVm, VM_COLUMNS } from './rows.ts';

export { StoreOpenError } from './open-database.ts';

/**
 * The Store on SQLite (better-sqlite3, WAL). Transactions are IMMEDIATE so that two processes
 * sharing the file serialise their writes instead of failing half-way.
 */
export class SqliteStore implements Store {
  /** The connection, for sibling tables of other adapters (Teams conversations) in the same file. */
  readonly db: Database.Database;
  /** Compiled statements by SQL text: compiling on every call was the largest cost of a claim. */
  private readonly statements: Statements;
  /** Pool and user records and the audit trail (records.ts). */
  private readonly records: SqliteRecords;
  /** The reconcile tick's indexed reads (tick-reads.ts). */
  private readonly tickReads: SqliteTickReads;
  /** Removes the private copy a read-only store on read-only media is read from. */
  private readonly cleanup: (() => void) | undefined;
  /** The outbox's queries (outbox.ts), in this store's transactions. */
  private readonly outbox: SqliteOutbox;
  /** The pools' queues and holds (waitlist.ts), in this store's transactions. */
  private readonly waitlist: SqliteWaitlist;

  /**
   * `path` is a file, or ':memory:' for a throw-away store. `readOnly` opens an existing store
   * without changing it (the operator's read-only commands, a copy on read-only media); it is
   * refused when the store would need migrating first.
   */
  constructor(path: string, options: { readOnly?: boolean } = {}) {
    const opened = openDatabase(path, options.readOnly ?? false);
    this.db = opened.db;
    this.cleanup = opened.cleanup;
    this.outbox = new SqliteOutbox(this.db, (fn) => this.transaction(fn));
    this.waitlist = new SqliteWaitlist(this.db, (fn) => this.transaction(fn));
    this.statements = new Statements(this.db);
    this.records = new SqliteRecords(this.statements);
    this.tickReads = new SqliteTickReads(this.statements, (fn) => this.transaction(fn));
    try {
      // The version is checked before anything is changed, so a refused store is left as it was.
      this.db.pragma('busy_timeout = 5000');
      this.refuseNewerSchema();
      if (options.readOnly) {
        if (this.schemaVersion < MIGRATIONS.length) throw new StoreOpenError(`The store ${path} is from an older version of the bot (schema ${this.schemaVersion}, this one needs ${MIGRATIONS.length}); start the bot once to upgrade it before reading it read-only.`);
        return;
      }
      this.db.pragma('journal_mode = WAL');
      // FULL: a claim acknowledged to a user survives a power loss (NORMAL may roll back the
      // last transactions in WAL mode, and the VM could then be handed to someone else).
      this.db.pragma('synchronous = FULL');
      this.db.pragma('foreign_keys = ON');
      this.migrate();
    } catch (error) {
      this.close();
      throw storeError(path, error);
    }
  }

  get schemaVersion(): number {
    return this.db.pragma('user_version', { simple: true }) as number;
  }

  private refuseNewerSchema(): void {
    const current = this.schemaVersion;
    if (current > MIGRATIONS.length) {
      throw new StoreOpenError(
        `The store was written by a newer version of the bot (schema ${current}, this one knows ${MIGRATIONS.length}); upgrade the bot or use another data directory.`,
      );
    }
  }

  private migrate(): void {
    const current = this.schemaVersion;
    this.db
      .transaction(() => {
        MIGRATIONS.slice(current).forEach((sql, index) => {
          this.db.exec(sql);
          this.db.pragma(`user_version = ${current + index + 1}`);
        });
      })
      .immediate();
  }

  transaction<T>(fn: () => T): T {
    // As better-sqlite3's db.transaction(fn).immediate() (and, nested, its savepoint, undone alone
    // if it throws: group commit relies on it), but with the control statements compiled once:
    // db.transaction builds a new wrapper on every call, a good part of what a claim cost.
    const outer = !this.db.inTransaction;
    this.prepared(outer ? 'BEGIN IMMEDIATE' : 'SAVEPOINT nested').run();
    try {
      const result = fn();
      this.prepared(outer ? 'COMMIT' : 'RELEASE nested').run();
      return result;
    } catch (error) {
      // SQLite may have rolled the whole transaction back already (a full disk): nothing to undo then.
      if (this.db.inTransaction) {
        if (outer) this.prepared('ROLLBACK').run();
        else {
          this.prepared('ROLLBACK TO nested').run();
          this.prepared('RELEASE nested').run();
        }
      }
      throw error;
    }
  }

  inTransaction(): boolean {
    return this.db.inTransaction;
  }

  createVm(vm: NewVm): Vm {
    for (let attempt = 0; ; attempt++) {
      const id = randomUUID();
      const name = `${vm.pool}-${shortId()}`;
      try {
        this.prepared(
            `INSERT INTO vms (id, name, pool, state, image, flavor, created_at, state_since)
             VALUES (?, ?, ?, 'booting', ?, ?, ?, ?)`,
          )
          .run(id, name, vm.pool, vm.image, vm.flavor, vm.createdAt, vm.createdAt);
        return this.getVm(id)!;
      } catch (error) {
        // A name collision: draw again (rare; bounded so a real fault still surfaces).
        if (attempt < 5 && (error as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') continue;
        throw error;
      }
    }
  }

  getVm(id: string): Vm | undefined {
    const row = this.prepared(`SELECT ${VM_COLUMNS} FROM vms v WHERE v.id = ?`).get(id) as Row | undefined;
    return row && toVm(row);
  }

  findVmByName(name: string): Vm | undefined {
    const row = this.prepared(`SELECT ${VM_COLUMNS} FROM vms v WHERE v.name = ?`).get(name) as Row | undefined;
    return row && toVm(row);
  }

  listVms(filter: { pool?: string; states?: readonly VmState[] } = {}): Vm[] {
    const states = filter.states ?? LIVE_STATES;
    const params: unknown[] = [...states];
    let sql = `SELECT ${VM_COLUMNS} FROM vms v WHERE v.state IN (${placeholders(states.length)})`;
    if (filter.pool !== undefined) {
      sql += ' AND v.pool = ?';
      params.push(filter.pool);
    }
    return (this.prepared(`${sql} ORDER BY v.created_at, v.id`).all(...params) as Row[]).map(toVm);
  }

  updateVm(id: string, patch: VmPatch, now: number, expect?: VmState | readonly VmState[]): boolean {
    const sets: string[] = [];
    const params: unknown[] = [];
    const column = { state: 'state', serverId: 'server_id', address: 'address', readyAt: 'ready_at', detail: 'detail', hostKey: 'host_key' } as const;
    for (const key of Object.keys(column) as (keyof VmPatch)[]) {
      if (patch[key] !== undefined) {
        sets.push(`${column[key]} = ?`);
        params.push(patch[key]);
      }
    }
    if (patch.state !== undefined) {
      sets.push('state_since = ?');
      params.push(now);
    }
    if (sets.length === 0) return false;
    let sql = `UPDATE vms SET ${sets.join(', ')} WHERE id = ?`;
    params.push(id);
    if (expect !== undefined) {
      const states = typeof expect === 'string' ? [expect] : expect;
      sql += ` AND state IN (${placeholders(states.length)})`;
      params.push(...states);
    }
    return this.prepared(sql).run(...params).changes === 1;
  }

  claim(request: ClaimRequest): ClaimOutcome {
    return this.transaction(() => {
      const { held } = this.prepared('SELECT COUNT(*) AS held FROM leases WHERE user = ? AND pool = ? AND ended_at IS NULL')
        .get(request.user, request.pool) as { held: number };
      if (held >= request.maxLeasesPerUser) return { ok: false, reason: 'lease-limit', held };

      // Oldest ready first, so warm VMs do not sit for ever while newer ones are handed out.
      // A VM held for someone in the pool's queue is theirs to claim (claimHeld), nobody else's.
      const vm = this.prepared("SELECT id FROM vms WHERE pool = ? AND state = 'ready' AND id NOT IN (SELECT held_vm_id FROM waitlist WHERE held_vm_id IS NOT NULL) ORDER BY ready_at, id LIMIT 1")
        .get(request.pool) as { id: string } | undefined;
      if (!vm || !this.updateVm(vm.id, { state: 'claimed' }, request.now, 'ready')) {
        return { ok: false, reason: 'pool-empty', held };
      }
      const leaseId = randomUUID();
      this.prepared(
          `INSERT INTO leases (id, vm_id, pool, user, platform, conversation, claimed_at, expires_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(leaseId, vm.id, request.pool, request.user, request.platform, request.conversation, request.now, request.now + request.leaseMs);
      return { ok: true, lease: this.getLease(leaseId)! };
    });
  }

  activeLeases(filter: { user?: string; pool?: string } = {}): LeaseView[] {
    let sql = `${LEASE_SELECT} WHERE l.ended_at IS NULL`;
    const params: unknown[] = [];
    if (filter.user !== undefined) {
      sql += ' AND l.user = ?';
      params.push(filter.user);
    }
    if (filter.pool !== undefined) {
      sql += ' AND l.pool = ?';
      params.push(filter.pool);
    }
    return (this.prepared(`${sql} ORDER BY l.expires_at, l.id`).all(...params) as Row[]).map(toLeaseView);
  }

  getLease(id: string): LeaseView | undefined {
    const row = this.prepared(`${LEASE_SELECT} WHERE l.id = ?`).get(id) as Row | undefined;
    return row && toLeaseView(row);
  }

  extendLease(id: string, newExpiresAt: number, expectedExtensions: number, counts = true): boolean {
    return this.transaction(() => {
      const extended =
        this.prepared(
            `UPDATE leases SET expires_at = ?, extensions_used = extensions_used + ?, next_due_at = 0
             WHERE id = ? AND ended_at IS NULL AND extensions_used = ?`,
          )
          .run(newExpiresAt, counts ? 1 : 0, id, expectedExtensions).changes === 1;
      // A reminder still waiting names the old expiry: it would mislead.
      if (extended) this.outbox.supersedeMessages(id, 'reminder', null);
      return extended;
    });
  }

  // The reconcile tick's reads (ports/tick-reads.ts), in tick-reads.ts: one line each.
  dueLeases(now: number): LeaseView[] { return this.tickReads.dueLeases(now); }
  dueReminders(now: number): ReminderRecord[] { return this.tickReads.dueReminders(now); }
  scheduleLeases(due: readonly LeaseDue[]): void { this.tickReads.scheduleLeases(due); }
  leasesDueNow(): number { return this.tickReads.leasesDueNow(); }
  nextLeaseDueAfter(now: number): number | null { return this.tickReads.nextLeaseDueAfter(now); }
  liveVmsNamed(ids: readonly string[], serverIds: readonly string[]): Vm[] { return this.tickReads.liveVmsNamed(ids, serverIds); }
  liveVmCounts(): Map<string, number> { return this.tickReads.liveVmCounts(); }

  private prepared(sql: string): Database.Statement {
    return this.statements.get(sql);
  }

  /** Throws unless a write transaction can start now (disk full, read-only, locked for long). */
  checkWritable(): void {
    this.db.exec('BEGIN IMMEDIATE; ROLLBACK');
  }

  markHomeReady(id: string, now: number): boolean {
    return this.prepared('UPDATE leases SET home_ready_at = ? WHERE id = ? AND ended_at IS NULL AND home_ready_at IS NULL').run(now, id).changes === 1;
  }

  endLease(id: string, reason: LeaseEndReason, now: number): boolean {
    return this.transaction(() => {
      const lease = this.getLease(id);
      if (!lease || lease.endedAt !== null) return false;
      this.prepared('UPDATE leases SET ended_at = ?, end_reason = ? WHERE id = ?').run(now, reason, id);
      // Reminders and the like about a lease that is over are pointless now.
      this.outbox.supersedeMessages(id, undefined, now);
      // A VM that died under its user is already failed; anything else goes to teardown.
      this.updateVm(lease.vmId, { state: 'releasing' }, now, 'claimed');
      return true;
    });
  }

  recordReminder(leaseId: string, beforeMs: number, expiresAt: number, status: ReminderStatus, now: number): boolean {
    return (
      this.prepared('INSERT OR IGNORE INTO reminders (lease_id, before_ms, expires_at, status, at) VALUES (?, ?, ?, ?, ?)')
        .run(leaseId, beforeMs, expiresAt, status, now).changes === 1
    );
  }

  activeReminders(): ReminderRecord[] {
    return (
      this.prepared(
          `SELECT r.lease_id, r.before_ms, r.expires_at, r.status FROM reminders r
           JOIN leases l ON l.id = r.lease_id WHERE l.ended_at IS NULL`,
        )
        .all() as Row[]
    ).map((r) => ({
      leaseId: r.lease_id as string,
      beforeMs: r.before_ms as number,
      expiresAt: r.expires_at as number,
      status: r.status as ReminderStatus,
    }));
  }

  // The outbox (ports/outbox.ts), in outbox.ts: one line each.
  enqueueMessage(message: OutboxMessage): boolean { return this.outbox.enqueueMessage(message); }
  settleAndClaimMessages(outcomes: readonly { id: number; outcome: AttemptOutcome }[], now: number, limit: number): OutboxRow[] { return this.outbox.settleAndClaimMessages(outcomes, now, limit); }
  interruptSendingMessages(now: number): number { return this.outbox.interruptSendingMessages(now); }
  nextMessageDueAt(): number | null { return this.outbox.nextMessageDueAt(); }
  supersedeMessages(leaseId: string, kind: MessageKind | undefined, now: number): number { return this.outbox.supersedeMessages(leaseId, kind, now); }
  pruneMessages(doneBefore: number): number { return this.outbox.pruneMessages(doneBefore); }
  outboxMessages(filter?: { leaseId?: string; status?: readonly OutboxStatus[]; limit?: number }): OutboxRow[] { return this.outbox.outboxMessages(filter); }

  // The waitlist (ports/waitlist.ts), in waitlist.ts: one line each.
  queuedCount(pool: string): number { return this.waitlist.queuedCount(pool); }
  joinQueue(request: JoinRequest): JoinOutcome { return this.waitlist.joinQueue(request); }
  leaveQueue(pool: string, user: string): QueueEntry | undefined { return this.waitlist.leaveQueue(pool, user); }
  queueEntries(filter?: { pool?: string; user?: string }): QueueEntry[] { return this.waitlist.queueEntries(filter); }
  queuePosition(pool: string, user: string): number | null { return this.waitlist.queuePosition(pool, user); }
  holdVm(entryId: number, vmId: string, now: number, until: number): boolean { return this.waitlist.holdVm(entryId, vmId, now, until); }
  unheldReadyVms(pool: string): string[] { return this.waitlist.unheldReadyVms(pool); }
  heldVmIds(): string[] { return this.waitlist.heldVmIds(); }
  dropHold(entryId: number): boolean { return this.waitlist.dropHold(entryId); }
  removeEntry(entryId: number): boolean { return this.waitlist.removeEntry(entryId); }
  lapsedHolds(now: number): QueueEntry[] { return this.waitlist.lapsedHolds(now); }
  claimHeld(entryId: number, lease: { now: number; leaseMs: number }): string | null { return this.waitlist.claimHeld(entryId, lease); }
  queuedExtensions(leaseId: string): number { return this.waitlist.queuedExtensions(leaseId); }
  countQueuedExtension(leaseId: string): void { this.waitlist.countQueuedExtension(leaseId); }

  // Pool and user records and the audit trail (records.ts): one line each.
  userSetupFailures(user: string): UserSetupFailures | undefined { return this.records.userSetupFailures(user); }
  saveUserSetupFailures(record: UserSetupFailures): void { this.records.saveUserSetupFailures(record); }
  clearUserSetupFailures(user: string): void { this.records.clearUserSetupFailures(user); }
  poolHealth(pool: string): PoolHealth { return this.records.poolHealth(pool); }
  savePoolHealth(health: PoolHealth): void { this.records.savePoolHealth(health); }
  poolControls(): PoolControl[] { return this.records.poolControls(); }
  poolControl(pool: string): PoolControl { return this.records.poolControl(pool); }
  savePoolControl(control: PoolControl): void { this.records.savePoolControl(control); }
  recentReadyTimesMs(pool: string, limit: number): number[] { return this.records.recentReadyTimesMs(pool, limit); }
  audit(entry: AuditEntry): void { this.records.audit(entry); }
  auditLog(filter?: { since?: number; limit?: number }): AuditEntry[] { return this.records.auditLog(filter); }

  close(): void {
    if (this.db.open) this.db.close();
    this.cleanup?.();
  }
}
