import { randomBytes, randomUUID } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { AuditEntry, LeaseEndReason, LeaseView, PoolControl, PoolHealth, Vm, VmState } from '../../core/model.ts';
import { noControl, VM_STATES } from '../../core/model.ts';
import type { AttemptOutcome, MessageKind, OutboxMessage, OutboxRow, OutboxStatus } from '../../ports/outbox.ts';
import type { ClaimOutcome, ClaimRequest, NewVm, ReminderRecord, ReminderStatus, Store, UserSetupFailures, VmPatch } from '../../ports/store.ts';
import { MIGRATIONS } from './migrations.ts';
import { SqliteOutbox } from './outbox.ts';

type Row = Record<string, unknown>;

const LIVE_STATES = VM_STATES.filter((s) => s !== 'deleted');

const VM_COLUMNS = `v.id, v.name, v.pool, v.state, v.server_id, v.address, v.image, v.flavor,
  v.created_at, v.state_since, v.ready_at, v.detail, v.host_key`;
const LEASE_SELECT = `SELECT l.id AS lease_id, l.vm_id, l.pool AS lease_pool, l.user, l.platform,
  l.conversation, l.claimed_at, l.expires_at, l.extensions_used, l.home_ready_at, l.ended_at, l.end_reason, ${VM_COLUMNS}
  FROM leases l JOIN vms v ON v.id = l.vm_id`;

/** Four characters of base-32: short enough to type in chat, plenty per pool. */
function shortId(): string {
  const alphabet = 'abcdefghjkmnpqrstuvwxyz23456789';
  return [...randomBytes(4)].map((b) => alphabet[b % alphabet.length]).join('');
}

function toVm(r: Row): Vm {
  return {
    id: r.id as string,
    name: r.name as string,
    pool: r.pool as string,
    state: r.state as VmState,
    serverId: (r.server_id as string | null) ?? null,
    address: (r.address as string | null) ?? null,
    image: r.image as string,
    flavor: r.flavor as string,
    createdAt: r.created_at as number,
    stateSince: r.state_since as number,
    readyAt: (r.ready_at as number | null) ?? null,
    detail: (r.detail as string | null) ?? null,
    hostKey: (r.host_key as string | null) ?? null,
  };
}

function toPoolControl(r: Row): PoolControl {
  return {
    pool: r.pool as string,
    size: (r.size as number | null) ?? null,
    drained: r.drained_at === null ? null : { reason: r.drained_reason as string, by: r.drained_by as string, at: r.drained_at as number },
    paused: r.paused_at === null ? null : { by: r.paused_by as string, at: r.paused_at as number },
  };
}

function toLeaseView(r: Row): LeaseView {
  return {
    id: r.lease_id as string,
    vmId: r.vm_id as string,
    pool: r.lease_pool as string,
    user: r.user as string,
    platform: r.platform as string,
    conversation: r.conversation as string,
    claimedAt: r.claimed_at as number,
    expiresAt: r.expires_at as number,
    extensionsUsed: r.extensions_used as number,
    homeReadyAt: (r.home_ready_at as number | null) ?? null,
    endedAt: (r.ended_at as number | null) ?? null,
    endReason: (r.end_reason as LeaseEndReason | null) ?? null,
    vm: toVm(r),
  };
}

const placeholders = (n: number) => Array.from({ length: n }, () => '?').join(', ');

/** The store cannot be opened: why, in words an operator can act on. */
export class StoreOpenError extends Error {}

function openDatabase(path: string, readOnly: boolean): { db: Database.Database; cleanup?: () => void } {
  try {
    if (!readOnly) return { db: new Database(path) };
    const db = new Database(path, { readonly: true, fileMustExist: true });
    try {
      db.pragma('user_version', { simple: true });
      return { db };
    } catch (error) {
      db.close();
      if (!(error as { code?: string }).code?.startsWith('SQLITE_CANTOPEN')) throw error;
    }
    // A WAL store on read-only media cannot get its shared-memory file: read a private copy.
    const dir = mkdtempSync(join(tmpdir(), 'daaas-ro-'));
    const cleanup = () => rmSync(dir, { recursive: true, force: true });
    try {
      copyFileSync(path, join(dir, 'daaas.db'));
      if (existsSync(`${path}-wal`)) copyFileSync(`${path}-wal`, join(dir, 'daaas.db-wal'));
      return { db: new Database(join(dir, 'daaas.db'), { readonly: true, fileMustExist: true }), cleanup };
    } catch (error) {
      cleanup();
      throw error;
    }
  } catch (error) {
    throw storeError(path, error);
  }
}

/** SQLite's failures on opening, said as what is wrong with the file and what to do. */
function storeError(path: string, error: unknown): Error {
  if (error instanceof StoreOpenError) return error;
  const code = (error as { code?: string }).code ?? '';
  const said = (error as Error).message ?? String(error);
  if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT') return new StoreOpenError(`The store ${path} is damaged or not a database (${said}); restore it from a backup, or move it away to start empty.`, { cause: error });
  if (code === 'SQLITE_READONLY' || code.startsWith('SQLITE_READONLY')) return new StoreOpenError(`The store ${path} cannot be written (${said}); give the bot's user write access to it and its directory.`, { cause: error });
  if (code.startsWith('SQLITE_CANTOPEN')) return new StoreOpenError(`The store ${path} cannot be opened (${said}); check that it exists and that its directory is readable.`, { cause: error });
  return error instanceof Error ? error : new Error(said);
}

/**
 * The Store on SQLite (better-sqlite3, WAL). Transactions are IMMEDIATE so that two processes
 * sharing the file serialise their writes instead of failing half-way.
 */
export class SqliteStore implements Store {
  /** The connection, for sibling tables of other adapters (Teams conversations) in the same file. */
  readonly db: Database.Database;
  /** Compiled statements by SQL text: compiling on every call was the largest cost of a claim. */
  private readonly statements = new Map<string, Database.Statement>();
  /** Removes the private copy a read-only store on read-only media is read from. */
  private readonly cleanup: (() => void) | undefined;
  /** The outbox's queries (outbox.ts), in this store's transactions. */
  private readonly outbox: SqliteOutbox;

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
    return this.db.inTransaction ? fn() : this.db.transaction(fn).immediate();
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
      const vm = this.prepared("SELECT id FROM vms WHERE pool = ? AND state = 'ready' ORDER BY ready_at, id LIMIT 1")
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
            `UPDATE leases SET expires_at = ?, extensions_used = extensions_used + ?
             WHERE id = ? AND ended_at IS NULL AND extensions_used = ?`,
          )
          .run(newExpiresAt, counts ? 1 : 0, id, expectedExtensions).changes === 1;
      // A reminder still waiting names the old expiry: it would mislead.
      if (extended) this.outbox.supersedeMessages(id, 'reminder', null);
      return extended;
    });
  }

  private prepared(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
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

  userSetupFailures(user: string): UserSetupFailures | undefined {
    const row = this.prepared('SELECT * FROM user_setup_failures WHERE user = ?').get(user) as Row | undefined;
    if (!row) return undefined;
    return { user, failures: row.failures as number, lastError: row.last_error as string, lastFailedAt: row.last_failed_at as number, retryAt: row.retry_at as number };
  }

  saveUserSetupFailures(r: UserSetupFailures): void {
    this.prepared(
      `INSERT INTO user_setup_failures (user, failures, last_error, last_failed_at, retry_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (user) DO UPDATE SET failures = excluded.failures, last_error = excluded.last_error,
         last_failed_at = excluded.last_failed_at, retry_at = excluded.retry_at`,
    ).run(r.user, r.failures, r.lastError, r.lastFailedAt, r.retryAt);
  }

  clearUserSetupFailures(user: string): void {
    this.prepared('DELETE FROM user_setup_failures WHERE user = ?').run(user);
  }

  poolHealth(pool: string): PoolHealth {
    const row = this.prepared('SELECT * FROM pool_health WHERE pool = ?').get(pool) as Row | undefined;
    return {
      pool,
      lastError: (row?.last_error as string | null) ?? null,
      lastErrorAt: (row?.last_error_at as number | null) ?? null,
      consecutiveFailures: (row?.consecutive_failures as number | undefined) ?? 0,
      backoffUntil: (row?.backoff_until as number | null) ?? null,
    };
  }

  savePoolHealth(h: PoolHealth): void {
    this.prepared(
        `INSERT INTO pool_health (pool, last_error, last_error_at, consecutive_failures, backoff_until)
         VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (pool) DO UPDATE SET last_error = excluded.last_error, last_error_at = excluded.last_error_at,
           consecutive_failures = excluded.consecutive_failures, backoff_until = excluded.backoff_until`,
      )
      .run(h.pool, h.lastError, h.lastErrorAt, h.consecutiveFailures, h.backoffUntil);
  }

  poolControls(): PoolControl[] {
    return (this.prepared('SELECT * FROM pool_controls ORDER BY pool').all() as Row[]).map(toPoolControl);
  }

  poolControl(pool: string): PoolControl {
    const row = this.prepared('SELECT * FROM pool_controls WHERE pool = ?').get(pool) as Row | undefined;
    return row ? toPoolControl(row) : noControl(pool);
  }

  savePoolControl(c: PoolControl): void {
    if (c.size === null && c.drained === null && c.paused === null) {
      this.prepared('DELETE FROM pool_controls WHERE pool = ?').run(c.pool);
      return;
    }
    this.prepared(
      `INSERT INTO pool_controls (pool, size, drained_reason, drained_by, drained_at, paused_by, paused_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (pool) DO UPDATE SET size = excluded.size, drained_reason = excluded.drained_reason, drained_by = excluded.drained_by,
         drained_at = excluded.drained_at, paused_by = excluded.paused_by, paused_at = excluded.paused_at`,
    ).run(c.pool, c.size, c.drained?.reason ?? null, c.drained?.by ?? null, c.drained?.at ?? null, c.paused?.by ?? null, c.paused?.at ?? null);
  }

  recentReadyTimesMs(pool: string, limit: number): number[] {
    return (
      this.prepared('SELECT ready_at - created_at AS ms FROM vms WHERE pool = ? AND ready_at IS NOT NULL ORDER BY ready_at DESC LIMIT ?')
        .all(pool, limit) as { ms: number }[]
    ).map((r) => r.ms);
  }

  audit(entry: AuditEntry): void {
    this.prepared('INSERT INTO audit (at, actor, action, target, result, detail) VALUES (?, ?, ?, ?, ?, ?)')
      .run(entry.at, entry.actor, entry.action, entry.target, entry.result, entry.detail ? JSON.stringify(entry.detail) : null);
  }

  auditLog(filter: { since?: number; limit?: number } = {}): AuditEntry[] {
    const rows = this.prepared('SELECT * FROM (SELECT * FROM audit WHERE at >= ? ORDER BY id DESC LIMIT ?) ORDER BY id')
      .all(filter.since ?? 0, filter.limit ?? 1000) as Row[];
    return rows.map((r) => ({
      at: r.at as number,
      actor: r.actor as string,
      action: r.action as string,
      target: r.target as string,
      result: r.result as string,
      ...(r.detail ? { detail: JSON.parse(r.detail as string) as Record<string, unknown> } : {}),
    }));
  }

  close(): void {
    if (this.db.open) this.db.close();
    this.cleanup?.();
  }
}
