import { once } from 'node:events';
import { createWriteStream, existsSync, type WriteStream } from 'node:fs';
import { mkdir, open, readdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock } from '../../ports/clock.ts';
import { safeName } from './safe-vars.ts';

export interface LogTail {
  file: string;
  lines: string[];
}

/** One run's log: each line stamped with the time it was written. */
export interface RunLog {
  readonly file: string;
  write(line: string): void;
  close(): Promise<void>;
}

/**
 * The log files of playbook runs, one per run, named `<vm>--<UTC time>-<seq>--<playbook>.log` so
 * they sort by time within a VM; and the end of a VM's latest log, for an admin asking why.
 */
export interface RunLogsOptions {
  dir: string;
  clock: Clock;
  /** Log files kept per VM, the newest; older ones are deleted when a run starts. Default 10. */
  keepPerVm?: number;
  /** Bytes all log files may take; the oldest files (any VM) go first beyond it. Default 200 MiB. */
  maxTotalBytes?: number;
}

export class RunLogs {
  private readonly latest = new Map<string, string>();
  /** Files of runs still being written: never rotated away. */
  private readonly writing = new Set<string>();
  private sequence = 0;
  private rotating: Promise<void> = Promise.resolve();

  constructor(private readonly options: RunLogsOptions) {}

  /** Creates the run's log file (never one that exists) and remembers it as the VM's latest. */
  async open(vm: string, playbook: string, at: number): Promise<RunLog> {
    const file = await this.create(vm, playbook, at);
    this.latest.set(vm, file);
    this.writing.add(file);
    // Rotation runs beside the run, one at a time; a failure to delete an old log never fails a run.
    this.rotating = this.rotating.then(() => this.rotate(vm)).catch(() => {});
    const out = createWriteStream(file, { flags: 'a' });
    const clock = this.options.clock;
    return {
      file,
      write: (line) => out.write(`${stamp(clock.now())} ${line}\n`),
      close: async () => {
        await closeStream(out);
        this.writing.delete(file);
      },
    };
  }

  /** Resolves when the rotations started so far are done: for tests. */
  async idle(): Promise<void> {
    await this.rotating;
  }

  /**
   * Keeps the newest `keepPerVm` logs of the VM, then deletes the oldest logs of any VM while
   * all of them together take more than `maxTotalBytes`. Logs being written are kept.
   */
  private async rotate(vm: string): Promise<void> {
    const dir = this.options.dir;
    const logs = (await readdir(dir)).flatMap((name) => {
      const at = LOG_STAMP.exec(name);
      return at ? [{ name, vm: name.slice(0, at.index), order: at[0] }] : [];
    });
    const doomed = new Set<string>();
    const ofVm = logs.filter((l) => l.vm === vm).sort((a, b) => (a.order < b.order ? 1 : -1));
    for (const old of ofVm.slice(this.options.keepPerVm ?? 10)) doomed.add(old.name);
    const sized = await Promise.all(
      logs.filter((l) => !doomed.has(l.name)).map(async (l) => ({ ...l, bytes: await stat(join(dir, l.name)).then((s) => s.size, () => 0) })),
    );
    let total = sized.reduce((sum, l) => sum + l.bytes, 0);
    const limit = this.options.maxTotalBytes ?? 200 * 1024 * 1024;
    for (const old of sized.sort((a, b) => (a.order < b.order ? -1 : 1))) {
      if (total <= limit) break;
      if (this.writing.has(join(dir, old.name))) continue;
      doomed.add(old.name);
      total -= old.bytes;
    }
    for (const name of doomed) {
      const file = join(dir, name);
      if (this.writing.has(file)) continue;
      await unlink(file).catch(() => {});
      for (const [key, latest] of this.latest) if (latest === file) this.latest.delete(key);
    }
  }

  /** The end of the last run's log for a VM (this process's runs first, else the newest file). */
  async lastLog(vmName: string, maxLines = 40): Promise<LogTail | undefined> {
    const vm = safeName(vmName, 'vm name');
    const dir = this.options.dir;
    let file = this.latest.get(vm);
    if (!file) {
      const names = existsSync(dir) ? (await readdir(dir)).filter((n) => n.startsWith(`${vm}--`) && LOG_NAME.test(n.slice(vm.length))) : [];
      const newest = names.sort().at(-1);
      if (!newest) return undefined;
      file = join(dir, newest);
    }
    return { file, lines: await tailLines(file, maxLines) };
  }

  private async create(vm: string, playbook: string, at: number): Promise<string> {
    await mkdir(this.options.dir, { recursive: true });
    const base = `${vm}--${compactStamp(at)}`;
    const stem = playbook.replace(/\.ya?ml$/, '');
    for (;;) {
      const n = this.sequence++ % 1000;
      // The sequence number keeps two runs in one millisecond apart and in order.
      const file = join(this.options.dir, `${base}-${String(n).padStart(3, '0')}--${stem}.log`);
      try {
        const handle = await open(file, 'wx');
        await handle.close();
        return file;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
    }
  }
}

async function closeStream(stream: WriteStream): Promise<void> {
  stream.end();
  if (!stream.closed) await once(stream, 'close');
}

async function tailLines(file: string, maxLines: number): Promise<string[]> {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    const length = Math.min(size, 256 * 1024);
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, size - length);
    const lines = buffer.toString('utf8').split('\n');
    if (lines.at(-1) === '') lines.pop();
    // A partial first line from reading mid-file is dropped.
    if (length < size) lines.shift();
    return lines.slice(-maxLines);
  } finally {
    await handle.close();
  }
}

/** The time and sequence in a log file's name, which order its VM's runs (and all runs, roughly). */
const LOG_STAMP = /--\d{8}T\d{6}\.\d{3}Z-\d{3}(?=--[a-z0-9_-]+\.log$)/;
/** What follows the VM name in a log file's name. */
const LOG_NAME = /^--\d{8}T\d{6}\.\d{3}Z-\d{3}--[a-z0-9_-]+\.log$/;
const stamp = (at: number) => new Date(at).toISOString();
const compactStamp = (at: number) => stamp(at).replace(/[-:]/g, '');
