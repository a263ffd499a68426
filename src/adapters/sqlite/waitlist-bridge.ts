/**
 * Until sqlite-store.ts delegates to SqliteWaitlist itself, this gives the SqliteStore the
 * waitlist's queuedCount. Imported for its effect.
 */
import { SqliteStore } from './sqlite-store.ts';
import { SqliteWaitlist } from './waitlist.ts';

declare module './sqlite-store.ts' {
  interface SqliteStore {
    queuedCount(pool: string): number;
  }
}

SqliteStore.prototype.queuedCount = function queuedCount(this: SqliteStore, pool: string): number {
  return new SqliteWaitlist(this.db, (fn) => this.transaction(fn)).queuedCount(pool);
};
