import { once } from 'node:events';
import { createWriteStream, existsSync, type WriteStream } from 'node:fs';
import { mkdir, open, readdir } from 'node:fs/promises';
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
export class RunLogs {
  private readonly latest = new Map<string, string>();
  private sequence = 0;

  constructor(private readonly options: { dir: string; clock: Clock }) {}

  /** Creates the run's log file (never one that exists) and remembers it as the VM's latest. */
  async open(vm: string, playbook: string, at: number): Promise<RunLog> {
    const file = await this.create(vm, playbook, at);
    this.latest.set(vm, file);
    const out = createWriteStream(file, { flags: 'a' });
    const clock = this.options.clock;
    return {
      file,
      write: (line) => out.write(`${stamp(clock.now())} ${line}\n`),
      close: () => closeStream(out),
    };
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

/** What follows the VM name in a log file's name. */
const LOG_NAME = /^--\d{8}T\d{6}\.\d{3}Z-\d{3}--[a-z0-9_-]+\.log$/;
const stamp = (at: number) => new Date(at).toISOString();
const compactStamp = (at: number) => stamp(at).replace(/[-:]/g, '');
