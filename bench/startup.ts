/**
 * 5b. Start-up, both ways the bot runs: `node --import tsx src/main.ts --no-shell` (what
 * `npm start` does) and `node dist/main.js --no-shell` (the compiled service, built here into a
 * throwaway installation first), on the shipped configuration, with
 * DAAAS_PORT=0 and a fresh data directory, until it logs "listening"; the first run also waits
 * for the first warm VM ("ready"; the README says about 10 seconds). Each bot is stopped with
 * SIGTERM by its PID (SIGKILL by PID if it does not stop) once it says it runs as a service: its
 * signal handlers are installed only after "listening", so a signal right then would kill it
 * without its orderly shutdown. The resident set size is read from /proc at "running as a
 * service", before the bot holds any state (its pools are only starting to boot).
 */
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, readFileSync, symlinkSync } from 'node:fs';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median, round, tempDir, type Row, type SectionResult } from './lib.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The issue's target for the compiled service: start-up to listening. */
const TARGET_LISTENING_MS = 500;

interface Run {
  listeningMs: number;
  /** CPU time the bot had used when it logged "listening" (from /proc; null where there is none). */
  cpuAtListeningMs: number | null;
  rssMb: number | null;
  firstReadyMs: number | null;
  exitedOnSigterm: boolean;
  exit: string;
  stderrTail: string;
}

/** How to start the bot: the sources through tsx, or a compiled installation's dist/main.js. */
interface Way {
  label: string;
  args: string[];
  cwd: string;
}

const TSX: Way = { label: 'node --import tsx src/main.ts --no-shell (npm start)', args: ['--import', 'tsx', 'src/main.ts', '--no-shell'], cwd: ROOT };

/** `npm run build` into a throwaway installation (dist/ beside config/ and node_modules/). */
function compiled(): { way: Way; remove: () => void } {
  const install = tempDir();
  for (const name of ['config', 'ansible', 'node_modules']) symlinkSync(join(ROOT, name), join(install.path, name));
  copyFileSync(join(ROOT, 'package.json'), join(install.path, 'package.json'));
  execFileSync(process.execPath, [join(ROOT, 'scripts/build.mjs'), join(install.path, 'dist')], { stdio: 'ignore' });
  return { way: { label: 'node dist/main.js --no-shell (compiled)', args: [join(install.path, 'dist/main.js'), '--no-shell'], cwd: install.path }, remove: install.remove };
}

/** The CPU time (user + system) a process has used, from /proc (null where there is none; 10 ms steps). */
function cpuMsOf(pid: number): number | null {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
    // After "pid (comm) ": state is field 3, utime 14 and stime 15 (1-based), in clock ticks of 10 ms.
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return null;
  }
}

/** The process's resident set size in MB, from /proc (null where there is none). */
function rssMb(pid: number): number | null {
  try {
    const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb ? Number(kb) / 1024 : null;
  } catch {
    return null;
  }
}

function startOnce(waitForReady: boolean, way: Way = TSX): Promise<Run> {
  const dir = tempDir();
  // Only what node needs and the bot's own variables: no chat credentials, no cloud settings.
  const env: Record<string, string> = { DAAAS_PORT: '0', DAAAS_HOST: '127.0.0.1', DAAAS_DATA_DIR: join(dir.path, 'var'), DAAAS_LOG_LEVEL: 'info' };
  for (const key of ['PATH', 'HOME', 'TMPDIR', 'LANG']) if (process.env[key]) env[key] = process.env[key]!;
  return new Promise<Run>((resolvePromise, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, way.args, { cwd: way.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let rss: number | null = null;
    let buffer = '';
    let err = '';
    let listeningMs: number | null = null;
    let cpuAtListeningMs: number | null = null;
    let serviceMs: number | null = null;
    let firstReadyMs: number | null = null;
    let stopping = false;
    const stop = () => {
      if (stopping || !child.pid || child.exitCode !== null) return;
      stopping = true;
      process.kill(child.pid, 'SIGTERM');
      killTimer = setTimeout(() => {
        if (child.pid && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
      }, 10_000);
    };
    let killTimer: NodeJS.Timeout | undefined;
    const overall = setTimeout(stop, 60_000);
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      buffer += d.toString();
      let newline: number;
      while ((newline = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        let msg: unknown;
        try {
          msg = (JSON.parse(line) as { msg?: unknown }).msg;
        } catch {
          continue;
        }
        const now = performance.now() - t0;
        if (msg === 'listening' && listeningMs === null) {
          listeningMs = now;
          if (child.pid) cpuAtListeningMs = cpuMsOf(child.pid);
          // In case the "running as a service" line is ever reworded.
          setTimeout(() => (serviceMs ??= performance.now() - t0), 1_000);
        }
        if (typeof msg === 'string' && msg.startsWith('running as a service') && serviceMs === null) {
          serviceMs = now;
          if (child.pid) rss = rssMb(child.pid);
        }
        if (msg === 'ready' && firstReadyMs === null) firstReadyMs = now;
        if (serviceMs !== null && (!waitForReady || firstReadyMs !== null)) stop();
      }
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(overall);
      clearTimeout(killTimer);
      dir.remove();
      const stderrTail = err.trim().split('\n').slice(-3).join(' ').slice(0, 300);
      if (listeningMs === null) reject(new Error(`the bot did not log "listening" (exit ${code ?? signal}): ${stderrTail}`));
      else resolvePromise({ listeningMs, cpuAtListeningMs, rssMb: rss, firstReadyMs, exitedOnSigterm: stopping && code === 0, exit: String(code ?? signal), stderrTail });
    });
  });
}

export async function startupTime(quick: boolean): Promise<SectionResult> {
  // The first start may have to compile changed sources (tsx caches them); the last one also waits for a warm VM.
  const runs: Run[] = [];
  for (let i = 0; i < (quick ? 1 : 3); i++) runs.push(await startOnce(false));
  runs.push(await startOnce(true));
  const build = compiled();
  const compiledRuns: Run[] = [];
  try {
    for (let i = 0; i < (quick ? 1 : 3); i++) compiledRuns.push(await startOnce(false, build.way));
  } finally {
    build.remove();
  }
  const last = runs.at(-1)!;
  const firstReady = last.firstReadyMs;
  const startRow = (way: Way, of: Run[], target: boolean): Row => {
    const listening = of.map((r) => r.listeningMs);
    const cpu = of.map((r) => r.cpuAtListeningMs).filter((v): v is number => v !== null);
    return {
      section: '5 start-up',
      measure: `start-up to "listening", ${way.label}, median of ${of.length}`,
      value: `${(median(listening) / 1000).toFixed(2)} s (first ${(listening[0]! / 1000).toFixed(2)} s)${cpu.length ? `, CPU ${(median(cpu) / 1000).toFixed(2)} s` : ''}`,
      target: target ? `< ${(TARGET_LISTENING_MS / 1000).toFixed(1)} s` : '—',
      verdict: target ? (median(listening) < TARGET_LISTENING_MS ? 'pass' : 'miss') : 'info',
      ...(target ? { figure: 'startup' } : {}),
    };
  };
  const rssRow = (way: Way, of: Run[]): Row => {
    const rss = of.map((r) => r.rssMb).filter((v): v is number => v !== null);
    return { section: '5 start-up', measure: `RSS before any state, ${way.label}, median of ${rss.length}`, value: rss.length ? `${median(rss).toFixed(0)} MB` : 'no /proc here', target: '—', verdict: 'info' };
  };
  const rows: Row[] = [
    startRow(TSX, runs, false),
    startRow(build.way, compiledRuns, true),
    rssRow(TSX, runs),
    rssRow(build.way, compiledRuns),
    {
      section: '5 start-up',
      measure: 'start-up to the first warm VM ready (shipped config: boot 4 s, provision 3 s)',
      value: firstReady === null ? 'none seen' : `${(firstReady / 1000).toFixed(2)} s (${((firstReady - last.listeningMs) / 1000).toFixed(2)} s after "listening")`,
      target: '≈ 10 s (README)',
      verdict: firstReady !== null && firstReady <= 12_000 ? 'pass' : 'miss',
    },
  ];
  const unclean = [...runs, ...compiledRuns].filter((r) => !r.exitedOnSigterm);
  const notes = unclean.map((r) => `A bot stopped with SIGTERM exited with ${r.exit}, not 0${r.stderrTail ? `: ${r.stderrTail}` : ''}.`);
  const compiledMs = median(compiledRuns.map((r) => r.listeningMs));
  const compiledCpu = compiledRuns.map((r) => r.cpuAtListeningMs).filter((v): v is number => v !== null);
  if (compiledMs >= TARGET_LISTENING_MS) {
    notes.push(
      `The compiled bot took ${(compiledMs / 1000).toFixed(2)} s to listen${compiledCpu.length ? `, of which ${(median(compiledCpu) / 1000).toFixed(2)} s was its own CPU time (loading node's and the libraries' modules: zod, yaml, prom-client, pino, better-sqlite3; reading and checking the configuration; opening and migrating the store)` : ''}; the rest was waiting for a CPU or the disk.`,
    );
  }
  const data = (r: Run) => ({ listeningMs: round(r.listeningMs, 1), cpuAtListeningMs: r.cpuAtListeningMs, rssMb: r.rssMb === null ? null : round(r.rssMb, 1), firstReadyMs: r.firstReadyMs === null ? null : round(r.firstReadyMs, 1), exit: r.exit, exitedOnSigterm: r.exitedOnSigterm });
  return {
    rows,
    notes,
    data: { firstRunCompilesSources: true, runs: runs.map(data), compiledRuns: compiledRuns.map(data) },
  };
}
