import type Database from 'better-sqlite3';
import type { AttemptOutcome, MessageKind, OutboxMessage, OutboxRow, OutboxStatus, OutboxStore } from '../../ports/outbox.ts';
import { Statements } from './rows.ts';

type Row = Record<string, unknown>;

const placeholders = (n: number) => Array.from({ length: n }, () => '?').join(', ');

function toRow(r: Row): OutboxRow {
  return {
    id: r.id as number,
    key: r.key as string,
    kind: r.kind as MessageKind,
    leaseId: (r.lease_id as string | null) ?? null,
    to: { platform: r.platform as string, user: r.user as string, conversation: r.conversation as string },
    body: JSON.parse(r.body as string) as OutboxRow['body'],
    createdAt: r.created_at as number,
    deliverBy: r.deliver_by as number,
    status: r.status as OutboxStatus,
    attempts: r.attempts as number,
    nextAt: r.next_at as number,
    lastError: (r.last_error as string | null) ?? null,
    doneAt: (r.done_at as number | null) ?? null,
  };
}

/**
 * The outbox table of the bot's SQLite file (see ports/outbox.ts): the SqliteStore hands its
 * outbox methods to this, so a message is queued inside the store's transaction.
 */
export class SqliteOutbox implements OutboxStore {
  private readonly statements: Statements;

  constructor(
    private readonly db: Database.Database,
    private readonly transaction: <T>(fn: () => T) => T,
  ) {
    this.statements = new Statements(db);
  }

  enqueueMessage(m: OutboxMessage): boolean {
    return this.transaction(() => {
      if (m.replacesPending && m.leaseId !== null) this.supersedeMessages(m.leaseId, m.kind, m.createdAt);
      return (
        this.prepared(
          `INSERT OR IGNORE INTO outbox (key, kind, lease_id, platform, user, conversation, body, created_at, deliver_by, status, next_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?)`,
        ).run(m.key, m.kind, m.leaseId, m.to.platform, m.to.user, m.to.conversation, JSON.stringify(m.body), m.createdAt, m.deliverBy, m.createdAt).changes === 1
      );
    });
  }

  settleAndClaimMessages(outcomes: readonly { id: number; outcome: AttemptOutcome }[], now: number, limit: number): OutboxRow[] {
    return this.transaction(() => {
      for (const { id, outcome } of outcomes) this.settle(id, outcome, now);
      if (limit <= 0) return [];
      const claimed: OutboxRow[] = [];
      for (;;) {
        const want = limit - claimed.length;
        const due = (this.prepared(`SELECT * FROM outbox WHERE status = 'pending' AND next_at <= ? ORDER BY next_at, id LIMIT ?`).all(now, want) as Row[]).map(toRow);
        for (const row of due) {
          if (row.deliverBy < now) {
            this.settle(row.id, { status: 'expired', error: row.lastError ?? 'not sent before its deadline' }, now, 'pending');
            continue;
          }
          this.prepared(`UPDATE outbox SET status = 'sending', attempts = attempts + 1 WHERE id = ?`).run(row.id);
          claimed.push({ ...row, status: 'sending', attempts: row.attempts + 1 });
        }
        if (claimed.length >= limit || due.length < want) return claimed;
      }
    });
  }

  /** Only a message in the state the caller saw changes: a message settled twice keeps its first outcome. */
  private settle(id: number, outcome: AttemptOutcome, now: number, from: OutboxStatus = 'sending'): void {
    if (outcome.status === 'pending') {
      this.prepared(`UPDATE outbox SET status = 'pending', next_at = ?, last_error = ? WHERE id = ? AND status = ?`).run(outcome.retryAt, outcome.error, id, from);
    } else {
      this.prepared(`UPDATE outbox SET status = ?, done_at = ?, last_error = coalesce(?, last_error) WHERE id = ? AND status = ?`).run(outcome.status, now, outcome.error ?? null, id, from);
    }
  }

  interruptSendingMessages(now: number): number {
    return this.prepared(`UPDATE outbox SET status = 'interrupted', done_at = ? WHERE status = 'sending'`).run(now).changes;
  }

  pruneMessages(doneBefore: number): number {
    return this.prepared(`DELETE FROM outbox WHERE status NOT IN ('pending', 'sending') AND done_at < ?`).run(doneBefore).changes;
  }

  nextMessageDueAt(): number | null {
    const row = this.prepared(`SELECT min(next_at) AS at FROM outbox WHERE status = 'pending'`).get() as { at: number | null };
    return row.at ?? null;
  }

  /** `now` is null when the caller does not know the time (an extension): the moment is then left unrecorded. */
  supersedeMessages(leaseId: string, kind: MessageKind | undefined, now: number | null): number {
    if (kind === undefined) return this.prepared(`UPDATE outbox SET status = 'superseded', done_at = ? WHERE lease_id = ? AND status = 'pending'`).run(now, leaseId).changes;
    return this.prepared(`UPDATE outbox SET status = 'superseded', done_at = ? WHERE lease_id = ? AND kind = ? AND status = 'pending'`).run(now, leaseId, kind).changes;
  }

  outboxMessages(filter: { leaseId?: string; status?: readonly OutboxStatus[]; limit?: number } = {}): OutboxRow[] {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.leaseId !== undefined) {
      where.push('lease_id = ?');
      params.push(filter.leaseId);
    }
    if (filter.status !== undefined) {
      where.push(`status IN (${placeholders(filter.status.length)})`);
      params.push(...filter.status);
    }
    const sql = `SELECT * FROM outbox ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id LIMIT ?`;
    return (this.prepared(sql).all(...params, filter.limit ?? 10_000) as Row[]).map(toRow);
  }

  private prepared(sql: string): Database.Statement {
    return this.statements.get(sql);
  }
}
