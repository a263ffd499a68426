/**
 * One life of the bot as a child process: `node --import tsx src/main.ts --user NAME` with the
 * terminal chat on a pipe, its output collected, its log followed for the first reconcile
 * tick, and killed by its own pid.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Variables that would start Slack or Teams, point at a real cloud, or override our settings. */
const FOREIGN = /^(SLACK_|TEAMS_|OS_|DAAAS_|MicrosoftApp|Connections__|clientId$|clientSecret$|tenantId$)/i;

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

const alive = new Set<BotLife>();

/** Kills every life still running (each by its own pid): for a test's teardown. */
export async function killAll(): Promise<void> {
  await Promise.all([...alive].map((bot) => bot.kill('SIGKILL')));
}

export class BotLife {
  readonly child: ChildProcessWithoutNullStreams;
  readonly exited: Promise<Exit>;
  readonly spawnedAt = Date.now();
  /** When this life logged that it listens: its store is open and its tick loop starts next. */
  listeningAt: number | null = null;
  /** Start time of the first reconcile tick of this life, once its log line is written. */
  firstTickAt: number | null = null;
  private out = '';
  private err = '';
  private logOffset: number;
  private logRest = '';
  private following = true;

  constructor(
    private readonly dataDir: string,
    configPath: string,
    readonly user: string,
  ) {
    const logPath = join(dataDir, 'daaas.log');
    this.logOffset = existsSync(logPath) ? statSync(logPath).size : 0;
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !FOREIGN.test(k))) as NodeJS.ProcessEnv;
    this.child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', '--user', user], {
      cwd: ROOT,
      env: { ...env, DAAAS_CONFIG: configPath, DAAAS_DATA_DIR: dataDir, DAAAS_HOST: '127.0.0.1', DAAAS_PORT: '0', DAAAS_LOG_LEVEL: 'debug' },
      stdio: 'pipe',
    });
    // Decoded as a stream, so a character split between two reads is not mangled.
    this.child.stdout.setEncoding('utf8').on('data', (d: string) => (this.out += d));
    this.child.stderr.setEncoding('utf8').on('data', (d: string) => (this.err += d));
    // Commands written to a bot that was just killed: the pipe is gone, and that is expected.
    this.child.stdin.on('error', () => {});
    // 'close', not 'exit': only then has everything the bot printed been read.
    this.exited = new Promise((done) => this.child.on('close', (code, signal) => done({ code, signal })));
    alive.add(this);
    void this.exited.then(() => {
      this.following = false;
      alive.delete(this);
    });
    void this.follow();
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  stdout(): string {
    return this.out;
  }

  stderr(): string {
    return this.err;
  }

  send(line: string): void {
    if (this.running && this.child.stdin.writable) this.child.stdin.write(`${line}\n`);
  }

  /** Resolves true once the first tick of this life has completed, false if the bot exits or `ms` pass first. */
  firstTick(ms: number): Promise<boolean> {
    return this.until(() => this.firstTickAt !== null, ms);
  }

  /** Resolves true once this life listens (start-up done, first tick starting), false if it exits or `ms` pass first. */
  listening(ms: number): Promise<boolean> {
    return this.until(() => this.listeningAt !== null, ms);
  }

  private async until(done: () => boolean, ms: number): Promise<boolean> {
    const end = Date.now() + ms;
    while (!done() && this.running && Date.now() < end) await delay(10);
    this.readLog();
    return done();
  }

  /** SIGKILL, to this child's own pid only; resolves when it is gone. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<Exit> {
    if (this.running) {
      try {
        process.kill(this.pid, signal);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error; // gone just now
      }
    }
    const exit = await this.exited;
    this.readLog();
    return exit;
  }

  private async follow(): Promise<void> {
    while (this.following) {
      this.readLog();
      await delay(25);
    }
  }

  /** Reads what this life appended to daaas.log and notes its first `tick` line. */
  private readLog(): void {
    if (this.firstTickAt !== null) return;
    const path = join(this.dataDir, 'daaas.log');
    if (!existsSync(path)) return;
    const size = statSync(path).size;
    if (size <= this.logOffset) return;
    const fd = openSync(path, 'r');
    try {
      const buffer = Buffer.alloc(size - this.logOffset);
      const n = readSync(fd, buffer, 0, buffer.length, this.logOffset);
      this.logOffset += n;
      const text = this.logRest + buffer.subarray(0, n).toString('utf8');
      const end = text.lastIndexOf('\n');
      this.logRest = text.slice(end + 1);
      for (const line of text.slice(0, end + 1).split('\n')) {
        if (this.listeningAt === null && line.includes('"msg":"listening"')) this.listeningAt = (JSON.parse(line) as { time: number }).time;
        if (!line.includes('"msg":"tick"')) continue;
        const entry = JSON.parse(line) as { time: number; ms: number };
        // The line is written when the tick ends: it started `ms` before (a little margin for
        // the millisecond the log's own clock reading may add).
        this.firstTickAt = entry.time - entry.ms - 2;
        return;
      }
    } finally {
      closeSync(fd);
    }
  }
}
