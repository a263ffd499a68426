/**
 * What the reconcile tick reads between full walks, each by an index and in proportion to what
 * changed, not to the fleet: the leases whose next reminder or expiry is due (leases_due), the
 * VMs a cloud change names (by id or server id), and live VMs per pool by an aggregate over the
 * (pool, state) index. The SqliteStore hands these methods here.
 */
import type { LeaseView, Vm } from '../../core/model.ts';
import type { ReminderRecord, ReminderStatus } from '../../ports/store.ts';
import type { LeaseDue } from '../../ports/tick-reads.ts';
import { LEASE_SELECT, LIVE_STATES, placeholders, type Row, type Statements, toLeaseView, toVm, VM_COLUMNS } from './rows.ts';

/** SQLite's default limit on bound parameters is 32,766; lists are bound in chunks well under it. */
const CHUNK = 500;

export class SqliteTickReads {
  constructor(
    private readonly sql: Statements,
    private readonly transaction: <T>(fn: () => T) => T,
  ) {}

  dueLeases(now: number): LeaseView[] {
    return (this.sql.get(`${LEASE_SELECT} WHERE l.ended_at IS NULL AND l.next_due_at <= ? ORDER BY l.expires_at, l.id`).all(now) as Row[]).map(toLeaseView);
  }

  dueReminders(now: number): ReminderRecord[] {
    return (
      this.sql
        .get(
          `SELECT r.lease_id, r.before_ms, r.expires_at, r.status FROM leases l
           JOIN reminders r ON r.lease_id = l.id WHERE l.ended_at IS NULL AND l.next_due_at <= ?`,
        )
        .all(now) as Row[]
    ).map((r) => ({ leaseId: r.lease_id as string, beforeMs: r.before_ms as number, expiresAt: r.expires_at as number, status: r.status as ReminderStatus }));
  }

  scheduleLeases(due: readonly LeaseDue[]): void {
    // An extension since the lease was read moved its stages: it stays due at once.
    const update = this.sql.get('UPDATE leases SET next_due_at = ? WHERE id = ? AND ended_at IS NULL AND expires_at = ?');
    this.transaction(() => {
      for (const { leaseId, dueAt, expiresAt } of due) update.run(dueAt, leaseId, expiresAt);
    });
  }

  leasesDueNow(): number {
    return this.sql.get('UPDATE leases SET next_due_at = 0 WHERE ended_at IS NULL AND next_due_at > 0').run().changes;
  }

  nextLeaseDueAfter(now: number): number | null {
    const row = this.sql.get('SELECT MIN(next_due_at) AS at FROM leases WHERE ended_at IS NULL AND next_due_at > ?').get(now) as { at: number | null };
    return row.at;
  }

  liveVmsNamed(ids: readonly string[], serverIds: readonly string[]): Vm[] {
    const found = new Map<string, Vm>();
    const live = LIVE_STATES.map((s) => `'${s}'`).join(', ');
    for (const [column, values] of [['id', ids], ['server_id', serverIds]] as const) {
      for (let i = 0; i < values.length; i += CHUNK) {
        const chunk = values.slice(i, i + CHUNK);
        const rows = this.sql.get(`SELECT ${VM_COLUMNS} FROM vms v WHERE v.${column} IN (${placeholders(chunk.length)}) AND v.state IN (${live})`).all(...chunk) as Row[];
        for (const row of rows) found.set(row.id as string, toVm(row));
      }
    }
    return [...found.values()].sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id));
  }

  liveVmCounts(): Map<string, number> {
    // One scan of the covering (pool, state) index, grouped as it is ordered: no table row read,
    // no sort (an IN over the live states took the state index and a temporary tree: 2–3× slower).
    const rows = this.sql.get("SELECT pool, COUNT(*) AS n FROM vms WHERE state != 'deleted' GROUP BY pool").all() as { pool: string; n: number }[];
    return new Map(rows.map((r) => [r.pool, r.n]));
  }
}
