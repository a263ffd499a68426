/**
 * Backups of the bot's store and restoring one. A backup is SQLite's online backup taken on a
 * read-only connection of its own, so it runs beside a working bot: the bot's writes go on, and
 * the copy is one consistent moment of the store. Restoring needs the data directory to itself.
 */
import Database from 'better-sqlite3';
import { chmodSync, copyFileSync, existsSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { DataDirError, dataDirLocked, lockDataDir } from '../data-dir-lock.ts';
import { MIGRATIONS } from './migrations.ts';
import { SqliteStore, StoreOpenError } from './sqlite-store.ts';

/** The store's file in a data directory. */
export const STORE_FILE = 'daaas.db';

/** What a store holds, to say what a backup or a restore contains. */
export interface StoreSummary {
  schemaVersion: number;
  vms: number;
  activeLeases: number;
  bytes: number;
}

/** A file that is not a usable DAaaS store, said in words an operator can act on. */
export class NotAStoreError extends Error {}

/** Tables every DAaaS store has had since its first schema. */
const CORE_TABLES = ['vms', 'leases', 'audit'];

function summarise(db: Database.Database, file: string): StoreSummary {
  return {
    schemaVersion: db.pragma('user_version', { simple: true }) as number,
    vms: (db.prepare(`SELECT count(*) AS n FROM vms WHERE state <> 'deleted'`).get() as { n: number }).n,
    activeLeases: (db.prepare('SELECT count(*) AS n FROM leases WHERE ended_at IS NULL').get() as { n: number }).n,
    bytes: statSync(file).size,
  };
}

/**
 * Whether `file` is a whole DAaaS store this bot can use (as it is, or after its migrations):
 * an SQLite database that passes its integrity check, with the bot's tables, and no newer than
 * this bot. Opens the file read-write (a store in WAL mode cannot be read otherwise where its
 * directory is writable) but changes nothing in it.
 */
export function checkStoreFile(file: string): StoreSummary {
  if (!existsSync(file)) throw new NotAStoreError(`${file} does not exist.`);
  let db: Database.Database;
  try {
    db = new Database(file, { fileMustExist: true });
  } catch (error) {
    throw new NotAStoreError(`${file} cannot be opened: ${(error as Error).message}.`, { cause: error });
  }
  try {
    let integrity: unknown;
    try {
      integrity = db.pragma('integrity_check', { simple: true });
    } catch (error) {
      throw new NotAStoreError(`${file} is not an SQLite database (${(error as Error).message}).`, { cause: error });
    }
    if (integrity !== 'ok') throw new NotAStoreError(`${file} is damaged: SQLite's integrity check says ${String(integrity)}.`);
    const version = db.pragma('user_version', { simple: true }) as number;
    const tables = new Set((db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).all() as { name: string }[]).map((r) => r.name));
    const missing = CORE_TABLES.filter((t) => !tables.has(t));
    if (version < 1 || missing.length) throw new NotAStoreError(`${file} is an SQLite database but not a DAaaS store (${missing.length ? `no ${missing.join(', ')} table` : 'no schema version'}).`);
    if (version > MIGRATIONS.length) throw new NotAStoreError(`${file} was written by a newer version of the bot (schema ${version}, this one knows ${MIGRATIONS.length}); restore it with that version.`);
    return summarise(db, file);
  } finally {
    db.close();
  }
}

/**
 * A consistent copy of the store at `storePath` in `file`, while the bot may be running. The
 * copy is made in one step after SQLite has sized it, under a read transaction of the backup's
 * own connection: the bot's writes (WAL) go on meanwhile and are not in the copy. It is written
 * beside `file` first and renamed into place once checked, so `file` is never half a backup.
 */
export async function backupStore(storePath: string, file: string): Promise<StoreSummary & { ms: number }> {
  const target = resolve(file);
  if (resolve(storePath) === target) throw new NotAStoreError('The backup cannot overwrite the store itself: name another file.');
  const started = performance.now();
  let store: SqliteStore;
  try {
    store = new SqliteStore(storePath, { readOnly: true });
  } catch (error) {
    if (error instanceof StoreOpenError) throw new NotAStoreError(error.message, { cause: error });
    throw error;
  }
  const partial = join(dirname(target), `.${basename(target)}.partial-${process.pid}`);
  try {
    rmSync(partial, { force: true });
    // All remaining pages in one step: many small steps would restart with every write the
    // bot makes meanwhile, and might never finish on a busy store.
    await store.db.backup(partial, { progress: () => 0x7fffffff });
  } catch (error) {
    rmSync(partial, { force: true });
    throw new NotAStoreError(`The backup could not be written to ${target}: ${(error as Error).message}.`, { cause: error });
  } finally {
    store.close();
  }
  try {
    const summary = checkStoreFile(partial);
    for (const suffix of ['-wal', '-shm']) rmSync(`${partial}${suffix}`, { force: true });
    // Users, accounts and addresses are in it: readable by its owner only.
    chmodSync(partial, 0o600);
    renameSync(partial, target);
    return { ...summary, ms: performance.now() - started };
  } catch (error) {
    for (const suffix of ['', '-wal', '-shm']) rmSync(`${partial}${suffix}`, { force: true });
    throw error;
  }
}

/**
 * Puts the backup `file` in place as the store of `dataDir`, which no bot may be using: the
 * directory is locked for the while, so none can start meanwhile either. The store it replaces
 * (if any) is kept beside it, named with the time, to undo a mistaken restore. The restored
 * store is opened once, which runs the migrations of a backup from an older version.
 *
 * A VM that was ready when the backup was taken may have been claimed since, by a claim the
 * backup does not hold: handed out again, two users would share it. So every ready VM of the
 * copy is retired (torn down and replaced by the reconciler, as it does with a surplus VM):
 * the pools refill, and no VM goes to two users.
 */
export function restoreStore(dataDir: string, file: string, now: number): { summary: StoreSummary; keptAs: string | null; retired: number } {
  const source = resolve(file);
  const dir = resolve(dataDir);
  if (existsSync(dir) && dataDirLocked(dir)) throw new DataDirError(`a DAaaS bot is using the data directory ${dir}; stop it first (systemctl stop daaas), then restore`);
  const unlock = lockDataDir(dir);
  try {
    const store = join(dir, STORE_FILE);
    if (source === store) throw new NotAStoreError('That is the store itself: name a backup file.');
    // Checked as a copy inside the data directory, so the backup itself is never touched.
    const staged = join(dir, `.${STORE_FILE}.restoring`);
    const clean = (path: string) => {
      for (const suffix of ['', '-wal', '-shm']) rmSync(`${path}${suffix}`, { force: true });
    };
    clean(staged);
    if (!existsSync(source)) throw new NotAStoreError(`${source} does not exist.`);
    copyFileSync(source, staged);
    try {
      checkStoreFile(staged);
    } catch (error) {
      clean(staged);
      if (error instanceof NotAStoreError) throw new NotAStoreError(error.message.replaceAll(staged, source), { cause: error });
      throw error;
    }
    let keptAs: string | null = null;
    if (existsSync(store)) {
      keptAs = join(dir, `${STORE_FILE}.before-restore-${new Date(now).toISOString().replace(/[:.]/g, '-')}`);
      // The old store's log goes with it: together they are the store as the bot left it.
      for (const suffix of ['', '-wal', '-shm']) if (existsSync(`${store}${suffix}`)) renameSync(`${store}${suffix}`, `${keptAs}${suffix}`);
    }
    for (const suffix of ['-wal', '-shm']) rmSync(`${staged}${suffix}`, { force: true });
    renameSync(staged, store);
    // Opening it runs the migrations a backup from an older version needs.
    const restored = new SqliteStore(store);
    let retired = 0;
    try {
      restored.transaction(() => {
        for (const vm of restored.listVms({ states: ['ready'] })) {
          if (restored.updateVm(vm.id, { state: 'releasing', detail: 'restored from a backup: it may have been claimed after the backup was taken' }, now, 'ready')) retired++;
        }
      });
    } finally {
      restored.close();
    }
    return { summary: checkStoreFile(store), keptAs, retired };
  } finally {
    unlock();
  }
}
