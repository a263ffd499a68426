import type Database from 'better-sqlite3';
import type { HistoryCutoffs, PrunedCounts } from '../../core/retention.ts';
import type { HistoryStore } from '../../ports/history.ts';
import type { SqliteStore } from './sqlite-store.ts';

/**
 * Forgets old history in the bot's SQLite file (the rules are core/retention.ts's): each call
 * deletes at most `limit` rows of each kind, oldest first, in one short IMMEDIATE transaction,
 * so a tick waiting for the write lock waits for one small batch at most. Reminder records go
 * before their lease, a lease before its VM (the foreign keys hold throughout).
 */
export class SqliteHistory implements HistoryStore {
  private readonly statements = new Map<string, Database.Statement>();

  constructor(private readonly store: SqliteStore) {}

  pruneHistory(cutoffs: HistoryCutoffs, limit: number): PrunedCounts {
    const { historyBefore, auditBefore } = cutoffs;
    return this.store.transaction(() => {
      const reminders = this.run(
        `DELETE FROM reminders WHERE rowid IN (
           SELECT r.rowid FROM reminders r JOIN leases l ON l.id = r.lease_id
           WHERE l.ended_at IS NOT NULL AND l.ended_at < ? ORDER BY l.ended_at LIMIT ?)`,
        historyBefore,
        limit,
      );
      // A lease whose reminder records are not all gone yet waits for the next batch.
      const leases = this.run(
        `DELETE FROM leases WHERE rowid IN (
           SELECT l.rowid FROM leases l
           WHERE l.ended_at IS NOT NULL AND l.ended_at < ? AND NOT EXISTS (SELECT 1 FROM reminders r WHERE r.lease_id = l.id)
           ORDER BY l.ended_at LIMIT ?)`,
        historyBefore,
        limit,
      );
      const vms = this.run(
        `DELETE FROM vms WHERE rowid IN (
           SELECT v.rowid FROM vms v
           WHERE v.state = 'deleted' AND v.state_since < ? AND NOT EXISTS (SELECT 1 FROM leases l WHERE l.vm_id = v.id)
           ORDER BY v.state_since LIMIT ?)`,
        historyBefore,
        limit,
      );
      const audit = this.run(`DELETE FROM audit WHERE id IN (SELECT id FROM audit WHERE at < ? ORDER BY at LIMIT ?)`, auditBefore, limit);
      return { reminders, leases, vms, audit };
    });
  }

  private run(sql: string, ...params: number[]): number {
    let statement = this.statements.get(sql);
    if (!statement) this.statements.set(sql, (statement = this.store.db.prepare(sql)));
    return statement.run(...params).changes;
  }
}
