/**
 * The service as it is deployed: `npm run build`, then `node dist/main.js --no-shell` with no
 * TypeScript loader. The build goes to a throwaway directory laid out like an installation
 * (dist/ beside config/, ansible/ and node_modules/), so it also proves the compiled bot finds
 * its configuration from dist/. SIGTERM stops it cleanly and frees the data directory.
 */
import test from 'ava';
import { execFile, spawn } from 'node:child_process';
import { copyFileSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { dataDirLocked } from '../../src/adapters/data-dir-lock.ts';
import { tempDir } from '../helpers/harness.ts';
import { until } from '../helpers/bot-process.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const run = promisify(execFile);

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
}

test('npm run build emits JavaScript that runs without a loader; SIGTERM stops the service cleanly and frees the lock', async (t) => {
  const install = tempDir('daaas-compiled-');
  t.teardown(install.remove);
  for (const name of ['config', 'ansible', 'node_modules']) symlinkSync(join(ROOT, name), join(install.path, name));
  copyFileSync(join(ROOT, 'package.json'), join(install.path, 'package.json'));
  await run(process.execPath, [join(ROOT, 'scripts/build.mjs'), join(install.path, 'dist')], { timeout: 170_000 });

  // Every relative import was rewritten to the emitted .js file.
  const js = walk(join(install.path, 'dist')).filter((f) => f.endsWith('.js'));
  t.true(js.length > 50, `${js.length} JavaScript files`);
  const tsImports = js.filter((f) => /(?:from|import)\s*\(?\s*["'][^"']+\.ts["']/.test(readFileSync(f, 'utf8')));
  t.deepEqual(tsImports, [], 'no emitted file imports a .ts module');

  const data = join(install.path, 'var');
  // No NODE_OPTIONS: nothing may slip a TypeScript loader in.
  const env: Record<string, string> = { DAAAS_PORT: '0', DAAAS_HOST: '127.0.0.1', DAAAS_DATA_DIR: data, DAAAS_LOG_LEVEL: 'info' };
  for (const key of ['PATH', 'HOME', 'LANG', 'TMPDIR']) if (process.env[key]) env[key] = process.env[key]!;
  const child = spawn(process.execPath, [join(install.path, 'dist/main.js'), '--no-shell'], { cwd: install.path, env, stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null && child.pid) process.kill(child.pid, 'SIGKILL');
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => child.on('exit', (code, signal) => done({ code, signal })));

  await until('the compiled bot runs as a service', () => /running as a service/.test(out) || child.exitCode !== null, 60_000);
  t.regex(out, /running as a service/, err);
  const listening = out.split('\n').find((line) => line.includes('"listening"'));
  t.is(JSON.parse(listening!).config, join(install.path, 'config', 'default.yaml'), 'the shipped configuration, found from dist/');
  t.true(dataDirLocked(data), 'the running bot holds the data directory');

  const sent = Date.now();
  process.kill(child.pid!, 'SIGTERM');
  const stopped = await Promise.race([exit, new Promise<null>((done) => setTimeout(() => done(null), 10_000))]);
  t.truthy(stopped, 'stopped within 10 s of SIGTERM');
  t.deepEqual(stopped, { code: 0, signal: null }, err);
  t.log(`stopped ${Date.now() - sent} ms after SIGTERM`);
  t.true(Date.now() - sent < 5_000, 'within a few seconds');
  t.regex(out, /"msg":"stopped"/);
  t.false(dataDirLocked(data), 'the lock is free again');
});
