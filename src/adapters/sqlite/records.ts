/**
 * The store's records about pools and users that are not VMs or leases: pool health (failures,
 * back-off), admins' pool controls, users' set-up failures, boot-to-ready times and the audit
 * trail. The SqliteStore hands these methods here.
 */
import type { AuditEntry, PoolControl, PoolHealth } from '../../core/model.ts';
import { noControl } from '../../core/model.ts';
import type { UserSetupFailures } from '../../ports/store.ts';
import { type Row, type Statements, toPoolControl } from './rows.ts';

export class SqliteRecords {
  constructor(private readonly sql: Statements) {}

  userSetupFailures(user: string): UserSetupFailures | undefined {
    const row = this.sql.get('SELECT * FROM user_setup_failures WHERE user = ?').get(user) as Row | undefined;
    if (!row) return undefined;
    return { user, failures: row.failures as number, lastError: row.last_error as string, lastFailedAt: row.last_failed_at as number, retryAt: row.retry_at as number };
  }

  saveUserSetupFailures(r: UserSetupFailures): void {
    this.sql.get(
      `INSERT INTO user_setup_failures (user, failures, last_error, last_failed_at, retry_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (user) DO UPDATE SET failures = excluded.failures, last_error = excluded.last_error,
         last_failed_at = excluded.last_failed_at, retry_at = excluded.retry_at`,
    ).run(r.user, r.failures, r.lastError, r.lastFailedAt, r.retryAt);
  }

  clearUserSetupFailures(user: string): void {
    this.sql.get('DELETE FROM user_setup_failures WHERE user = ?').run(user);
  }

  poolHealth(pool: string): PoolHealth {
    const row = this.sql.get('SELECT * FROM pool_health WHERE pool = ?').get(pool) as Row | undefined;
    return {
      pool,
      lastError: (row?.last_error as string | null) ?? null,
      lastErrorAt: (row?.last_error_at as number | null) ?? null,
      consecutiveFailures: (row?.consecutive_failures as number | undefined) ?? 0,
      backoffUntil: (row?.backoff_until as number | null) ?? null,
      ...(typeof row?.spec === 'string' ? { spec: row.spec } : {}),
    };
  }

  savePoolHealth(h: PoolHealth): void {
    this.sql.get(
        `INSERT INTO pool_health (pool, last_error, last_error_at, consecutive_failures, backoff_until, spec)
         VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (pool) DO UPDATE SET last_error = excluded.last_error, last_error_at = excluded.last_error_at,
           consecutive_failures = excluded.consecutive_failures, backoff_until = excluded.backoff_until,
           spec = CASE WHEN ? THEN excluded.spec ELSE pool_health.spec END`,
      )
      // A health without `spec` leaves the fingerprint kept before as it is; null clears it.
      .run(h.pool, h.lastError, h.lastErrorAt, h.consecutiveFailures, h.backoffUntil, h.spec ?? null, h.spec !== undefined ? 1 : 0);
  }

  poolControls(): PoolControl[] {
    return (this.sql.get('SELECT * FROM pool_controls ORDER BY pool').all() as Row[]).map(toPoolControl);
  }

  poolControl(pool: string): PoolControl {
    const row = this.sql.get('SELECT * FROM pool_controls WHERE pool = ?').get(pool) as Row | undefined;
    return row ? toPoolControl(row) : noControl(pool);
  }

  savePoolControl(c: PoolControl): void {
    if (c.size === null && c.drained === null && c.paused === null) {
      this.sql.get('DELETE FROM pool_controls WHERE pool = ?').run(c.pool);
      return;
    }
    this.sql.get(
      `INSERT INTO pool_controls (pool, size, size_by, size_at, drained_reason, drained_by, drained_at, paused_by, paused_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (pool) DO UPDATE SET size = excluded.size, size_by = excluded.size_by, size_at = excluded.size_at,
         drained_reason = excluded.drained_reason, drained_by = excluded.drained_by,
         drained_at = excluded.drained_at, paused_by = excluded.paused_by, paused_at = excluded.paused_at`,
    ).run(c.pool, c.size, c.size === null ? null : (c.sizeBy?.by ?? null), c.size === null ? null : (c.sizeBy?.at ?? null), c.drained?.reason ?? null, c.drained?.by ?? null, c.drained?.at ?? null, c.paused?.by ?? null, c.paused?.at ?? null);
  }

  recentReadyTimesMs(pool: string, limit: number): number[] {
    return (
      this.sql.get('SELECT ready_at - created_at AS ms FROM vms WHERE pool = ? AND ready_at IS NOT NULL ORDER BY ready_at DESC LIMIT ?')
        .all(pool, limit) as { ms: number }[]
    ).map((r) => r.ms);
  }

  audit(entry: AuditEntry): void {
    this.sql.get('INSERT INTO audit (at, actor, action, target, result, detail) VALUES (?, ?, ?, ?, ?, ?)')
      .run(entry.at, entry.actor, entry.action, entry.target, entry.result, entry.detail ? JSON.stringify(entry.detail) : null);
  }

  auditLog(filter: { since?: number; limit?: number } = {}): AuditEntry[] {
    const rows = this.sql.get('SELECT * FROM (SELECT * FROM audit WHERE at >= ? ORDER BY id DESC LIMIT ?) ORDER BY id')
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

}
