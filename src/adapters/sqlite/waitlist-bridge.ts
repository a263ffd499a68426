/**
 * Until sqlite-store.ts delegates to SqliteWaitlist itself, this gives the SqliteStore the
 * waitlist's methods. Imported for its effect.
 */
import type { WaitlistStore } from '../../ports/waitlist.ts';
import { SqliteStore } from './sqlite-store.ts';
import { SqliteWaitlist } from './waitlist.ts';

declare module './sqlite-store.ts' {
  interface SqliteStore extends WaitlistStore {}
}

const waitlists = new WeakMap<SqliteStore, SqliteWaitlist>();
const METHODS = ['queuedCount', 'joinQueue', 'leaveQueue', 'queueEntries', 'queuePosition', 'holdVm', 'unheldReadyVms', 'heldVmIds', 'dropHold', 'removeEntry', 'lapsedHolds', 'claimHeld', 'queuedExtensions', 'countQueuedExtension'] as const satisfies readonly (keyof WaitlistStore)[];

for (const method of METHODS) {
  Object.defineProperty(SqliteStore.prototype, method, {
    configurable: true,
    value(this: SqliteStore, ...args: unknown[]) {
      let waitlist = waitlists.get(this);
      if (!waitlist) waitlists.set(this, (waitlist = new SqliteWaitlist(this.db, (fn) => this.transaction(fn))));
      return (waitlist[method] as (...a: unknown[]) => unknown).apply(waitlist, args);
    },
  });
}
