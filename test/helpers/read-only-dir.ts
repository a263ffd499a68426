import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

/**
 * `source` seen read-only at a new path. Root ignores permission bits, so as root (CI) the
 * directory is bind-mounted read-only, a real read-only file system; as anyone else, a copy
 * of the directory with its write bits taken away does. Fails, saying why, rather than
 * handing back a directory that is writable after all.
 */
export function readOnlyView(source: string, parent: string): { path: string; release: () => void } {
  const path = join(parent, 'read-only');
  mkdirSync(path);
  if (process.getuid?.() === 0) {
    try {
      execFileSync('mount', ['--bind', source, path], { stdio: 'pipe' });
      execFileSync('mount', ['-o', 'remount,bind,ro', path], { stdio: 'pipe' });
    } catch (error) {
      throw new Error(`cannot bind-mount ${source} read-only for this test (root without mount rights?): ${(error as Error).message}`);
    }
    return { path, release: () => execFileSync('umount', [path], { stdio: 'pipe' }) };
  }
  execFileSync('cp', ['-a', `${source}/.`, path]);
  chmodSync(path, 0o555);
  return { path, release: () => chmodSync(path, 0o755) };
}
