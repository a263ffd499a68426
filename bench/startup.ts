/**
 * 5b. Start-up: `node --import tsx src/main.ts --no-shell` on the shipped configuration, with
 * DAAAS_PORT=0 and a fresh data directory, until it logs "listening"; the first run also waits
 * for the first warm VM ("ready"; the README says about 10 seconds). Each bot is stopped with
 * SIGTERM by its PID (SIGKILL by PID if it does not stop) once it says it runs as a service: its
 * signal handlers are installed only after "listening", so a signal right then would kill it
 * without its orderly shutdown.
 */
import { spawn } from 'node:child_process';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median, round, tempDir, type Row, type SectionResult } from './lib.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

interface Run {
  listeningMs: number;
  firstReadyMs: number | null;
  exitedOnSigterm: boolean;
  exit: string;
  stderrTail: string;
}

function startOnce(waitForReady: boolean): Promise<Run> {
  const dir = tempDir();
  // Only what node needs and the bot's own variables: no chat credentials, no cloud settings.
  const env: Record<string, string> = { DAAAS_PORT: '0', DAAAS_HOST: '127.0.0.1', DAAAS_DATA_DIR: join(dir.path, 'var'), DAAAS_LOG_LEVEL: 'info' };
  for (const key of ['PATH', 'HOME', 'TMPDIR', 'LANG']) if (process.env[key]) env[key] = process.env[key]!;
  return new Promise<Run>((resolvePromise, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', '--no-shell'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let buffer = '';
    let err = '';
    let listeningMs: number | null = null;
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
          // In case the "running as a service" line is ever reworded.
          setTimeout(() => (serviceMs ??= performance.now() - t0), 1_000);
        }
        if (typeof msg === 'string' && msg.startsWith('running as a service') && serviceMs === null) serviceMs = now;
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
      else resolvePromise({ listeningMs, firstReadyMs, exitedOnSigterm: stopping && code === 0, exit: String(code ?? signal), stderrTail });
    });
  });
}

export async function startupTime(quick: boolean): Promise<SectionResult> {
  // The first start may have to compile changed sources (tsx caches them); the last one also waits for a warm VM.
  const runs: Run[] = [];
  for (let i = 0; i < (quick ? 1 : 3); i++) runs.push(await startOnce(false));
  runs.push(await startOnce(true));
  const listening = runs.map((r) => r.listeningMs);
  const last = runs.at(-1)!;
  const firstReady = last.firstReadyMs;
  const rows: Row[] = [
    {
      section: '5 start-up',
      measure: `start-up to "listening" (node --import tsx src/main.ts --no-shell), median of ${runs.length}`,
      value: `${(median(listening) / 1000).toFixed(2)} s (first ${(listening[0]! / 1000).toFixed(2)} s)`,
      target: '—',
      verdict: 'info',
    },
    {
      section: '5 start-up',
      measure: 'start-up to the first warm VM ready (shipped config: boot 4 s, provision 3 s)',
      value: firstReady === null ? 'none seen' : `${(firstReady / 1000).toFixed(2)} s (${((firstReady - last.listeningMs) / 1000).toFixed(2)} s after "listening")`,
      target: '≈ 10 s (README)',
      verdict: firstReady !== null && firstReady <= 12_000 ? 'pass' : 'miss',
    },
  ];
  const unclean = runs.filter((r) => !r.exitedOnSigterm);
  const notes = unclean.map((r) => `A bot stopped with SIGTERM exited with ${r.exit}, not 0${r.stderrTail ? `: ${r.stderrTail}` : ''}.`);
  return {
    rows,
    notes,
    data: { firstRunCompilesSources: true, runs: runs.map((r) => ({ listeningMs: round(r.listeningMs, 1), firstReadyMs: r.firstReadyMs === null ? null : round(r.firstReadyMs, 1), exit: r.exit, exitedOnSigterm: r.exitedOnSigterm })) },
  };
}
