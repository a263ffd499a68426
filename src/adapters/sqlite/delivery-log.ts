import type { DeliveryLog } from '../../ports/delivery-log.ts';
import type { SqliteStore } from './sqlite-store.ts';

/** Expired rows are swept once in this many recordings. */
const SWEEP_EVERY = 500;

/**
 * Deliveries remembered in the bot's SQLite file with their expiry, so a delivery the platform
 * sends again after a restart is still recognised as a repeat.
 */
export class SqliteDeliveryLog implements DeliveryLog {
  private recordings = 0;
  /** Compiled once: every message and button press from a platform passes here. */
  private readonly sweep;
  private readonly forgetExpired;
  private readonly insert;

  constructor(private readonly store: SqliteStore) {
    this.sweep = store.db.prepare('DELETE FROM inbound_deliveries WHERE expires_at <= ?');
    this.forgetExpired = store.db.prepare('DELETE FROM inbound_deliveries WHERE key = ? AND expires_at <= ?');
    this.insert = store.db.prepare('INSERT OR IGNORE INTO inbound_deliveries (key, expires_at) VALUES (?, ?)');
  }

  /**
   * Committed without waiting for the disk (synchronous NORMAL for this one transaction): the
   * store's next FULL commit (a claim, a release: anything the delivery causes) writes the log
   * to disk with it, as the log comes first in the same write-ahead log. So a delivery whose
   * effect survives a power loss is still known as handled, and one whose record did not survive
   * had no effect to repeat. One fsync fewer on the way from every message to its answer.
   */
  record(key: string, now: number, expiresAt: number): boolean {
    const work = () =>
      this.store.transaction(() => {
        if (++this.recordings % SWEEP_EVERY === 0) this.sweep.run(now);
        else this.forgetExpired.run(key, now);
        return this.insert.run(key, expiresAt).changes === 1;
      });
    const { db } = this.store;
    if (db.inTransaction || db.memory) return work();
    const level = db.pragma('synchronous', { simple: true }) as number;
    db.pragma('synchronous = NORMAL');
    try {
      return work();
    } finally {
      db.pragma(`synchronous = ${level}`);
    }
  }

  keepAnswer(key: string, answer: string): void {
    this.store.db.prepare('UPDATE inbound_deliveries SET answer = ? WHERE key = ?').run(answer, key);
  }

  answerOf(key: string, now: number): string | undefined {
    const row = this.store.db.prepare('SELECT answer FROM inbound_deliveries WHERE key = ? AND expires_at > ?').get(key, now) as { answer: string | null } | undefined;
    return row?.answer ?? undefined;
  }
}
