import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';

/** Why the data directory could not be taken: said in one line, with what to do. */
export class DataDirError extends Error {}

const LOCK_FILE = 'daaas.lock';
const PID_FILE = 'daaas.pid';

/**
 * One bot per data directory: two reconcilers on the same store and cloud would fight over
 * the pools. The lock is the operating system's own (SQLite's exclusive file lock on
 * `daaas.lock`, held open for the life of the process), so two bots started at the same moment
 * cannot both win, a bot that dies releases it with its last breath, and no process id is
 * trusted: it works across containers that share the volume but not a pid namespace.
 * `daaas.pid` only says who holds the lock, for the message a second bot prints.
 */
export function lockDataDir(dataDir: string): () => void {
  prepare(dataDir);
  const path = join(dataDir, LOCK_FILE);
  let db: Database.Database;
  try {
    // A short wait: two starting at once briefly hold each other's shared lock, and one must
    // still win. A bot that holds the lock holds it for good, so the wait ends in a refusal.
    db = new Database(path, { timeout: 250 });
  } catch (error) {
    throw new DataDirError(`cannot open ${path}: ${reason(error)}`);
  }
  try {
    // The exclusive lock is taken in the normal mode, which lets go of what it got when it
    // fails; once it is held, EXCLUSIVE locking mode keeps it after the commit, until close.
    // (Set beforehand, two contenders would each keep a shared lock and both lose.)
    db.exec('BEGIN EXCLUSIVE');
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('CREATE TABLE IF NOT EXISTS holder (pid INTEGER); COMMIT;');
  } catch (error) {
    db.close();
    if ((error as { code?: string }).code === 'SQLITE_BUSY') {
      const holder = holderPid(dataDir);
      throw new DataDirError(`another DAaaS bot${holder ? ` (pid ${holder})` : ''} is using the data directory ${dataDir}; stop it, or set DAAAS_DATA_DIR to another directory`);
    }
    throw new DataDirError(`cannot lock the data directory ${dataDir}: ${reason(error)}`);
  }
  const pidPath = join(dataDir, PID_FILE);
  try {
    writeFileSync(pidPath, `${process.pid}\n`);
  } catch {
    // Only informative: the lock is what counts.
  }
  let held = true;
  return () => {
    if (!held) return;
    held = false;
    rmSync(pidPath, { force: true });
    db.close();
  };
}

/** Whether some process holds the data directory's lock now (for the operator's commands). */
export function dataDirLocked(dataDir: string): boolean {
  let db: Database.Database | undefined;
  try {
    db = new Database(join(dataDir, LOCK_FILE), { timeout: 0, fileMustExist: true });
    db.exec('BEGIN IMMEDIATE; ROLLBACK;');
    return false;
  } catch (error) {
    return (error as { code?: string }).code === 'SQLITE_BUSY';
  } finally {
    db?.close();
  }
}

/** The directory exists and is a writable directory, or a one-line reason why not. */
function prepare(dataDir: string): void {
  try {
    mkdirSync(dataDir, { recursive: true });
  } catch (recursiveError) {
    // A recursive mkdir says ENOENT for most failures; one level shows the real reason.
    let error = recursiveError;
    try {
      mkdirSync(dataDir);
    } catch (direct) {
      error = direct;
    }
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ENOTDIR') throw new DataDirError(`the data directory ${dataDir} is not a directory (a file is in its way); set DAAAS_DATA_DIR to a directory`);
    throw new DataDirError(`cannot create the data directory ${dataDir}: ${reason(error)}; set DAAAS_DATA_DIR to a writable place`);
  }
  if (!statSync(dataDir).isDirectory()) throw new DataDirError(`the data directory ${dataDir} is not a directory; set DAAAS_DATA_DIR to a directory`);
  const probe = join(dataDir, `.write-test-${process.pid}`);
  try {
    writeFileSync(probe, '');
    rmSync(probe, { force: true });
  } catch (error) {
    throw new DataDirError(`the data directory ${dataDir} is not writable (${reason(error)}); give the bot's user write access or set DAAAS_DATA_DIR to a writable place`);
  }
}

function holderPid(dataDir: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(dataDir, PID_FILE), 'utf8').trim());
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function reason(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  if (e.code === 'EACCES' || e.code === 'EPERM') return 'permission denied';
  if (e.code === 'EROFS') return 'read-only file system';
  return e.message ?? String(error);
}
