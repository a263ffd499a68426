import { randomUUID } from 'node:crypto';
import type Database from 'better-sqlite3';
import type { JoinOutcome, JoinRequest, QueueEntry, WaitlistStore } from '../../ports/waitlist.ts';
import { Statements } from './rows.ts';

type Row = Record<string, unknown>;

function toEntry(r: Row): QueueEntry {
  return {
    id: r.id as number,
    pool: r.pool as string,
    user: r.user as string,
    platform: r.platform as string,
    conversation: r.conversation as string,
    joinedAt: r.joined_at as number,
    hold: r.held_vm_id === null ? null : { vmId: r.held_vm_id as string, offeredAt: r.offered_at as number, until: r.held_until as number },
  };
}

/**
 * The waitlist table of the bot's SQLite file (see ports/waitlist.ts): the SqliteStore hands its
 * waitlist methods to this, so joining, holding and claiming share the store's transactions.
 * The table's unique indexes are the last word: one entry per user and pool, one hold per VM.
 */
export class SqliteWaitlist implements WaitlistStore {
  private readonly statements: Statements;

  constructor(
    private readonly db: Database.Database,
    private readonly transaction: <T>(fn: () => T) => T,
  ) {
    this.statements = new Statements(db);
  }

  queuedCount(pool: string): number {
    return (this.prepared('SELECT COUNT(*) AS n FROM waitlist WHERE pool = ?').get(pool) as { n: number }).n;
  }

  joinQueue(r: JoinRequest): JoinOutcome {
    return this.transaction(() => {
      const joined =
        this.prepared('INSERT OR IGNORE INTO waitlist (pool, user, platform, conversation, joined_at) VALUES (?, ?, ?, ?, ?)')
          .run(r.pool, r.user, r.platform, r.conversation, r.now).changes === 1;
      const entry = this.entryOf(r.pool, r.user)!;
      return { joined, entry, position: this.positionOf(entry) };
    });
  }

  leaveQueue(pool: string, user: string): QueueEntry | undefined {
    return this.transaction(() => {
      const entry = this.entryOf(pool, user);
      if (entry) this.prepared('DELETE FROM waitlist WHERE id = ?').run(entry.id);
      return entry;
    });
  }

  queueEntries(filter: { pool?: string; user?: string } = {}): QueueEntry[] {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.pool !== undefined) {
      where.push('pool = ?');
      params.push(filter.pool);
    }
    if (filter.user !== undefined) {
      where.push('user = ?');
      params.push(filter.user);
    }
    return (this.prepared(`SELECT * FROM waitlist ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id`).all(...params) as Row[]).map(toEntry);
  }

  queuePosition(pool: string, user: string): number | null {
    const entry = this.entryOf(pool, user);
    return entry ? this.positionOf(entry) : null;
  }

  holdVm(entryId: number, vmId: string, now: number, until: number): boolean {
    return (
      this.prepared(
        `UPDATE waitlist SET held_vm_id = ?, offered_at = ?, held_until = ?
         WHERE id = ? AND held_vm_id IS NULL
           AND EXISTS (SELECT 1 FROM vms WHERE id = ? AND state = 'ready' AND pool = waitlist.pool)
           AND NOT EXISTS (SELECT 1 FROM waitlist w WHERE w.held_vm_id = ?)`,
      ).run(vmId, now, until, entryId, vmId, vmId).changes === 1
    );
  }

  unheldReadyVms(pool: string): string[] {
    return (
      this.prepared(
        `SELECT id FROM vms WHERE pool = ? AND state = 'ready'
           AND id NOT IN (SELECT held_vm_id FROM waitlist WHERE held_vm_id IS NOT NULL)
         ORDER BY ready_at, id`,
      ).all(pool) as { id: string }[]
    ).map((r) => r.id);
  }

  heldVmIds(): string[] {
    return (this.prepared('SELECT held_vm_id FROM waitlist WHERE held_vm_id IS NOT NULL ORDER BY id').all() as { held_vm_id: string }[]).map((r) => r.held_vm_id);
  }

  dropHold(entryId: number): boolean {
    return this.prepared('UPDATE waitlist SET held_vm_id = NULL, offered_at = NULL, held_until = NULL WHERE id = ? AND held_vm_id IS NOT NULL').run(entryId).changes === 1;
  }

  removeEntry(entryId: number): boolean {
    return this.prepared('DELETE FROM waitlist WHERE id = ?').run(entryId).changes === 1;
  }

  lapsedHolds(now: number): QueueEntry[] {
    return (this.prepared('SELECT * FROM waitlist WHERE held_vm_id IS NOT NULL AND held_until <= ? ORDER BY id').all(now) as Row[]).map(toEntry);
  }

  claimHeld(entryId: number, lease: { now: number; leaseMs: number }): string | null {
    return this.transaction(() => {
      const row = this.prepared('SELECT * FROM waitlist WHERE id = ? AND held_vm_id IS NOT NULL').get(entryId) as Row | undefined;
      if (!row) return null;
      const entry = toEntry(row);
      const taken = this.prepared("UPDATE vms SET state = 'claimed', state_since = ? WHERE id = ? AND state = 'ready'").run(lease.now, entry.hold!.vmId).changes === 1;
      if (!taken) return null;
      const id = randomUUID();
      this.prepared(
        `INSERT INTO leases (id, vm_id, pool, user, platform, conversation, claimed_at, expires_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(id, entry.hold!.vmId, entry.pool, entry.user, entry.platform, entry.conversation, lease.now, lease.now + lease.leaseMs);
      this.removeEntry(entry.id);
      return id;
    });
  }

  queuedExtensions(leaseId: string): number {
    const row = this.prepared('SELECT count FROM queued_extensions WHERE lease_id = ?').get(leaseId) as { count: number } | undefined;
    return row?.count ?? 0;
  }

  countQueuedExtension(leaseId: string): void {
    this.prepared('INSERT INTO queued_extensions (lease_id, count) VALUES (?, 1) ON CONFLICT (lease_id) DO UPDATE SET count = count + 1').run(leaseId);
  }

  private entryOf(pool: string, user: string): QueueEntry | undefined {
    const row = this.prepared('SELECT * FROM waitlist WHERE pool = ? AND user = ?').get(pool, user) as Row | undefined;
    return row && toEntry(row);
  }

  /** Everyone before the entry in its pool's queue, plus one: always true, as leaving deletes the row. */
  private positionOf(entry: QueueEntry): number {
    return (this.prepared('SELECT COUNT(*) AS n FROM waitlist WHERE pool = ? AND id <= ?').get(entry.pool, entry.id) as { n: number }).n;
  }

  private prepared(sql: string): Database.Statement {
    return this.statements.get(sql);
  }
}
