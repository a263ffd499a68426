import type Database from 'better-sqlite3';
import type { Alert, AlertKind, AlertStatus } from '../../core/alerts.ts';
import type { VmState } from '../../core/model.ts';
import type { AlertConversation, AlertStore } from '../../ports/alerts.ts';
import type { SqliteStore } from './sqlite-store.ts';

type Row = Record<string, unknown>;

/** The claim refusals that mean "nothing was ready for you" (see DaaasService.emptyPoolError). */
const NOTHING_READY = ['POOL_EMPTY', 'POOL_FAILING', 'CLOUD_UNAVAILABLE'];

function toAlert(r: Row): Alert {
  return {
    id: r.id as number,
    kind: r.kind as AlertKind,
    pool: r.pool as string,
    subject: r.subject as string,
    status: r.status as AlertStatus,
    since: r.since as number,
    raisedAt: (r.raised_at as number | null) ?? null,
    lastSentAt: (r.last_sent_at as number | null) ?? null,
    sent: r.sent as number,
    resolvedAt: (r.resolved_at as number | null) ?? null,
    detail: r.detail as string,
  };
}

/**
 * The alerts tables of the bot's SQLite file (see ports/alerts.ts), beside the store's own in
 * the same connection and transactions: an alert's state commits with its outbox messages.
 */
export class SqliteAlerts implements AlertStore {
  private readonly statements = new Map<string, Database.Statement>();

  constructor(private readonly store: SqliteStore) {}

  liveAlerts(): Alert[] {
    return (this.sql(`SELECT * FROM alerts WHERE status IN ('pending', 'open') ORDER BY id`).all() as Row[]).map(toAlert);
  }

  resolvedAlerts(limit: number): Alert[] {
    return (this.sql(`SELECT * FROM alerts WHERE status = 'resolved' ORDER BY resolved_at DESC, id DESC LIMIT ?`).all(limit) as Row[]).map(toAlert);
  }

  addAlert(a: Omit<Alert, 'id'>): Alert {
    const result = this.sql(
      `INSERT INTO alerts (kind, pool, subject, status, since, raised_at, last_sent_at, sent, resolved_at, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(a.kind, a.pool, a.subject, a.status, a.since, a.raisedAt, a.lastSentAt, a.sent, a.resolvedAt, a.detail);
    return { ...a, id: Number(result.lastInsertRowid) };
  }

  saveAlert(a: Alert): void {
    this.sql(`UPDATE alerts SET status = ?, since = ?, raised_at = ?, last_sent_at = ?, sent = ?, resolved_at = ?, detail = ? WHERE id = ?`).run(
      a.status,
      a.since,
      a.raisedAt,
      a.lastSentAt,
      a.sent,
      a.resolvedAt,
      a.detail,
      a.id,
    );
  }

  dropAlert(id: number): void {
    this.sql(`DELETE FROM alerts WHERE id = ? AND status = 'pending'`).run(id);
  }

  pruneAlerts(before: number): number {
    return this.sql(`DELETE FROM alerts WHERE status = 'resolved' AND resolved_at < ?`).run(before).changes;
  }

  alertConversations(): AlertConversation[] {
    return (this.sql('SELECT * FROM alert_conversations ORDER BY platform').all() as Row[]).map((r) => ({
      platform: r.platform as string,
      conversation: r.conversation as string,
      setBy: r.set_by as string,
      setAt: r.set_at as number,
    }));
  }

  setAlertConversation(e: AlertConversation): void {
    this.sql(
      `INSERT INTO alert_conversations (platform, conversation, set_by, set_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (platform) DO UPDATE SET conversation = excluded.conversation, set_by = excluded.set_by, set_at = excluded.set_at`,
    ).run(e.platform, e.conversation, e.setBy, e.setAt);
  }

  refusedClaimsSince(since: number): Map<string, number> {
    const rows = this.sql(
      `SELECT target, MAX(at) AS at FROM audit WHERE at >= ? AND action = 'claim' AND result IN (${NOTHING_READY.map(() => '?').join(', ')}) GROUP BY target`,
    ).all(since, ...NOTHING_READY) as Row[];
    return new Map(rows.map((r) => [r.target as string, r.at as number]));
  }

  vmStateCounts(): Map<string, Partial<Record<VmState, number>>> {
    const counts = new Map<string, Partial<Record<VmState, number>>>();
    for (const r of this.sql(`SELECT pool, state, COUNT(*) AS n FROM vms WHERE state != 'deleted' GROUP BY pool, state`).all() as Row[]) {
      const pool = counts.get(r.pool as string) ?? {};
      pool[r.state as VmState] = r.n as number;
      counts.set(r.pool as string, pool);
    }
    return counts;
  }

  leasesEndingBetween(from: number, to: number): Map<string, number> {
    const rows = this.sql('SELECT pool, COUNT(*) AS n FROM leases WHERE ended_at IS NULL AND expires_at > ? AND expires_at <= ? GROUP BY pool').all(from, to) as Row[];
    return new Map(rows.map((r) => [r.pool as string, r.n as number]));
  }

  usersFailingSetup(atLeast: number): { user: string; failures: number; lastError: string; lastFailedAt: number }[] {
    return (this.sql('SELECT * FROM user_setup_failures WHERE failures >= ? ORDER BY user').all(atLeast) as Row[]).map((r) => ({
      user: r.user as string,
      failures: r.failures as number,
      lastError: r.last_error as string,
      lastFailedAt: r.last_failed_at as number,
    }));
  }

  private sql(text: string): Database.Statement {
    let statement = this.statements.get(text);
    if (!statement) {
      statement = this.store.db.prepare(text);
      this.statements.set(text, statement);
    }
    return statement;
  }
}
