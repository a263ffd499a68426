import type Database from 'better-sqlite3';
import type { ActivityReport, ActivityStore, LeaseActivity } from '../../ports/activity.ts';
import { Statements } from './rows.ts';

type Row = Record<string, unknown>;

function toActivity(r: Row): LeaseActivity {
  const graceAt = r.grace_at as number | null;
  return {
    leaseId: r.lease_id as string,
    pool: r.pool as string,
    lastProbeAt: (r.last_probe_at as number | null) ?? null,
    lastReport: r.last_report === null ? null : (JSON.parse(r.last_report as string) as ActivityReport),
    lastError: (r.last_error as string | null) ?? null,
    idleSince: (r.idle_since as number | null) ?? null,
    idleMs: r.idle_ms as number,
    promptedAt: (r.prompted_at as number | null) ?? null,
    keptAt: (r.kept_at as number | null) ?? null,
    grace: graceAt === null ? null : { at: graceAt, until: r.grace_until as number, job: r.grace_job as string },
  };
}

/**
 * The lease_activity table of the bot's SQLite file (see ports/activity.ts): one row per lease,
 * the latest probe and what followed from it. The grace given at expiry is kept here, so a
 * restart neither gives a second one nor forgets the first.
 */
export class SqliteActivity implements ActivityStore {
  private readonly statements: Statements;

  constructor(private readonly db: Database.Database) {
    this.statements = new Statements(db);
  }

  leaseActivity(leaseId: string): LeaseActivity | undefined {
    const row = this.prepared('SELECT * FROM lease_activity WHERE lease_id = ?').get(leaseId) as Row | undefined;
    return row && toActivity(row);
  }

  activeLeaseActivity(): LeaseActivity[] {
    return (this.prepared('SELECT a.* FROM lease_activity a JOIN leases l ON l.id = a.lease_id WHERE l.ended_at IS NULL ORDER BY a.lease_id').all() as Row[]).map(toActivity);
  }

  saveLeaseActivity(a: LeaseActivity): void {
    this.prepared(
      `INSERT INTO lease_activity (lease_id, pool, last_probe_at, last_report, last_error, idle_since, idle_ms, prompted_at, kept_at, grace_at, grace_until, grace_job)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (lease_id) DO UPDATE SET pool = excluded.pool, last_probe_at = excluded.last_probe_at, last_report = excluded.last_report,
         last_error = excluded.last_error, idle_since = excluded.idle_since, idle_ms = excluded.idle_ms, prompted_at = excluded.prompted_at,
         kept_at = excluded.kept_at, grace_at = excluded.grace_at, grace_until = excluded.grace_until, grace_job = excluded.grace_job`,
    ).run(
      a.leaseId,
      a.pool,
      a.lastProbeAt,
      a.lastReport === null ? null : JSON.stringify(a.lastReport),
      a.lastError,
      a.idleSince,
      a.idleMs,
      a.promptedAt,
      a.keptAt,
      a.grace?.at ?? null,
      a.grace?.until ?? null,
      a.grace?.job ?? null,
    );
  }

  private prepared(sql: string): Database.Statement {
    return this.statements.get(sql);
  }
}
