/**
 * 5a. Peak memory (RSS) of a fresh bot process holding 100 pools, 10,000 leases and their VMs
 * (the simulated cloud's servers are in the same process, as in the embedded default), run as
 * the service runs: compiled to JavaScript the way `npm run build` compiles the bot (tsc with
 * tsconfig.build.json, here with the benchmark's child added and without the type check), and
 * started with plain `node`, no TypeScript loader.
 */
import { execFileSync, spawn } from 'node:child_process';
import { symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir, type Row, type SectionResult } from './lib.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const TARGET_MB = 150;

interface ChildResult {
  gcDuringSeeding: boolean;
  /** Allocated by the first tick after start (a full walk), and by a regular tick (median of 7). */
  firstTickAllocatedMB: number;
  tickAllocatedMB: number;
  seededRssMB: number;
  peakWhileSeedingMB: number;
  liveHeapAfterGcMB: number;
  vms: number;
  leases: number;
  servers: number;
  baselineRssMB: number;
  rssMB: number;
  peakRssMB: number;
  heapUsedMB: number;
  heapTotalMB: number;
  externalMB: number;
}

/**
 * Compiles the bot and one bench script (with what it imports) into a throwaway installation, as
 * `npm run build` compiles the bot: the script's path there, and how to remove it.
 */
export function compileScript(script: string): { path: string; remove: () => void } {
  const install = tempDir();
  symlinkSync(join(ROOT, 'node_modules'), join(install.path, 'node_modules'));
  const tsconfig = join(install.path, 'tsconfig.json');
  writeFileSync(
    tsconfig,
    JSON.stringify({
      extends: join(ROOT, 'tsconfig.build.json'),
      compilerOptions: { rootDir: ROOT, outDir: join(install.path, 'dist'), sourceMap: false },
      include: [join(ROOT, 'src'), join(ROOT, 'commands'), join(ROOT, 'bench', script)],
    }),
  );
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  try {
    execFileSync(process.execPath, [tsc, '-p', tsconfig, '--noCheck'], { stdio: 'pipe' });
  } catch (error) {
    install.remove();
    throw new Error(`compiling ${script} failed: ${String((error as { stdout?: Buffer }).stdout ?? error).trim().split('\n').slice(0, 3).join(' ')}`);
  }
  return { path: join(install.path, 'dist', 'bench', script.replace(/\.ts$/, '.js')), remove: install.remove };
}

/** Runs a script (compiled: plain node; a .ts: through tsx) as a child process; kills it (by its PID) if it overruns. */
export function runChild(script: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const loader = script.endsWith('.ts') ? ['--import', 'tsx'] : [];
    const path = script.startsWith('/') ? script : join(ROOT, 'bench', script);
    const child = spawn(process.execPath, ['--expose-gc', ...loader, path, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => {
      if (child.pid && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
    }, timeoutMs);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolvePromise(out);
      else reject(new Error(`${script} exited with ${code ?? signal}: ${err.trim().split('\n').slice(-3).join(' ')}`));
    });
  });
}

export async function peakMemory(quick: boolean): Promise<SectionResult> {
  const perPool = quick ? 25 : 100;
  const compiled = compileScript('memory-child.ts');
  let out: string;
  try {
    out = await runChild(compiled.path, ['--leases-per-pool', String(perPool)], 180_000);
  } finally {
    compiled.remove();
  }
  const r = JSON.parse(out.trim().split('\n').at(-1)!) as ChildResult;
  const rows: Row[] = [
    {
      section: '5 memory',
      measure: `peak RSS, compiled, fresh process, ${r.vms.toLocaleString('en')} VMs / ${r.leases.toLocaleString('en')} leases, ticks and claims`,
      value: `${r.peakRssMB} MB (app before state ${r.baselineRssMB} MB, after seeding ${r.seededRssMB} MB, live heap ${r.liveHeapAfterGcMB} MB)`,
      target: `< ${TARGET_MB} MB`,
      verdict: r.peakRssMB < TARGET_MB ? 'pass' : 'miss',
      figure: 'rss',
    },
    {
      section: '5 memory',
      measure: `garbage a tick makes at ${r.vms.toLocaleString('en')} VMs (allocated during the tick; median of 7 regular ticks, then the first tick after start)`,
      value: `${r.tickAllocatedMB} MB a tick (first tick ${r.firstTickAllocatedMB} MB)`,
      target: 'not proportional to the fleet',
      verdict: 'info',
    },
  ];
  const notes =
    r.peakRssMB < TARGET_MB
      ? []
      : [
          `Peak RSS ${r.peakRssMB} MB at ${r.vms.toLocaleString('en')} VMs exceeds ${TARGET_MB} MB. ${r.baselineRssMB} MB is node and the libraries before any state; ` +
            `the state itself is small (${r.seededRssMB} MB after seeding, ${r.liveHeapAfterGcMB} MB of live heap at the end); the rest is what the ticks allocate — ${r.tickAllocatedMB} MB a regular tick at this fleet, ${r.firstTickAllocatedMB} MB the first after start (a full walk) — which survives young collections and piles up in the old generation until a full collection.`,
        ];
  return { rows, notes, data: { targetMB: TARGET_MB, ...r } };
}
