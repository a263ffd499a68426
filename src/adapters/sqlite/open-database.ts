/** Opening the store's file: read-write, read-only (a private copy on read-only media), and the errors said so an operator can act. */
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';

/** The store cannot be opened: why, in words an operator can act on. */
export class StoreOpenError extends Error {}

export function openDatabase(path: string, readOnly: boolean): { db: Database.Database; cleanup?: () => void } {
  try {
    if (!readOnly) return { db: new Database(path) };
    const db = new Database(path, { readonly: true, fileMustExist: true });
    try {
      db.pragma('user_version', { simple: true });
      return { db };
    } catch (error) {
      db.close();
      if (!(error as { code?: string }).code?.startsWith('SQLITE_CANTOPEN')) throw error;
    }
    // A WAL store on read-only media cannot get its shared-memory file: read a private copy.
    const dir = mkdtempSync(join(tmpdir(), 'daaas-ro-'));
    const cleanup = () => rmSync(dir, { recursive: true, force: true });
    try {
      copyFileSync(path, join(dir, 'daaas.db'));
      if (existsSync(`${path}-wal`)) copyFileSync(`${path}-wal`, join(dir, 'daaas.db-wal'));
      return { db: new Database(join(dir, 'daaas.db'), { readonly: true, fileMustExist: true }), cleanup };
    } catch (error) {
      cleanup();
      throw error;
    }
  } catch (error) {
    throw storeError(path, error);
  }
}

/** SQLite's failures on opening, said as what is wrong with the file and what to do. */
export function storeError(path: string, error: unknown): Error {
  if (error instanceof StoreOpenError) return error;
  const code = (error as { code?: string }).code ?? '';
  const said = (error as Error).message ?? String(error);
  if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT') return new StoreOpenError(`The store ${path} is damaged or not a database (${said}); restore it from a backup, or move it away to start empty.`, { cause: error });
  if (code === 'SQLITE_READONLY' || code.startsWith('SQLITE_READONLY')) return new StoreOpenError(`The store ${path} cannot be written (${said}); give the bot's user write access to it and its directory.`, { cause: error });
  if (code.startsWith('SQLITE_CANTOPEN')) return new StoreOpenError(`The store ${path} cannot be opened (${said}); check that it exists and that its directory is readable.`, { cause: error });
  return error instanceof Error ? error : new Error(said);
}

