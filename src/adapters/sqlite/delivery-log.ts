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

  constructor(private readonly store: SqliteStore) {}

  record(key: string, now: number, expiresAt: number): boolean {
    return this.store.transaction(() => {
      if (++this.recordings % SWEEP_EVERY === 0) this.store.db.prepare('DELETE FROM inbound_deliveries WHERE expires_at <= ?').run(now);
      else this.store.db.prepare('DELETE FROM inbound_deliveries WHERE key = ? AND expires_at <= ?').run(key, now);
      const inserted = this.store.db.prepare('INSERT OR IGNORE INTO inbound_deliveries (key, expires_at) VALUES (?, ?)').run(key, expiresAt);
      return inserted.changes === 1;
    });
  }

  keepAnswer(key: string, answer: string): void {
    this.store.db.prepare('UPDATE inbound_deliveries SET answer = ? WHERE key = ?').run(answer, key);
  }

  answerOf(key: string, now: number): string | undefined {
    const row = this.store.db.prepare('SELECT answer FROM inbound_deliveries WHERE key = ? AND expires_at > ?').get(key, now) as { answer: string | null } | undefined;
    return row?.answer ?? undefined;
  }
}
