/**
 * What a play reports, read from the JSON lines of the daaas_jsonl stdout callback: which play
 * and task started, each task's result per host, and the recap with what the play set through
 * `set_stats`. Pure: lines in, events and a summary out; the runner does the I/O.
 */

export type TaskStatus = 'ok' | 'changed' | 'failed' | 'skipped' | 'unreachable';

export interface TaskResult {
  host: string;
  /** As Ansible names it, `role : task` inside a role. */
  task: string;
  role?: string;
  status: TaskStatus;
  msg?: string;
  rc?: number;
  /** A failure the play tolerates (`ignore_errors`). */
  ignored?: boolean;
}

export interface HostStats {
  ok: number;
  changed: number;
  failures: number;
  unreachable: number;
  skipped: number;
  rescued: number;
  ignored: number;
}

/** One line of the play's output, understood. `text` is anything that is not a known event. */
export type PlayEvent =
  | { kind: 'play_start'; play: string }
  | { kind: 'task_start'; task: string; handler: boolean }
  | { kind: 'result'; result: TaskResult }
  | { kind: 'stats'; hosts: Record<string, HostStats>; custom: Record<string, unknown> }
  | { kind: 'text'; line: string };

type RawEvent = Record<string, unknown> & { event: string };

const STATUSES: readonly TaskStatus[] = ['ok', 'changed', 'failed', 'skipped', 'unreachable'];

/** Reads one stdout line: a known callback event, or the line as it was. */
export function parseEventLine(line: string): PlayEvent {
  const raw = parseJsonEvent(line);
  switch (raw?.event) {
    case 'play_start':
      return { kind: 'play_start', play: str(raw.play) };
    case 'task_start':
      return { kind: 'task_start', task: str(raw.task), handler: Boolean(raw.handler) };
    case 'result':
      return { kind: 'result', result: toTaskResult(raw) };
    case 'stats':
      return { kind: 'stats', hosts: (raw.hosts as Record<string, HostStats>) ?? {}, custom: (raw.custom as Record<string, unknown>) ?? {} };
    default:
      return { kind: 'text', line };
  }
}

/** How an event reads in the run's log. */
export function describeEvent(event: PlayEvent): string {
  switch (event.kind) {
    case 'play_start':
      return `PLAY ${event.play}`;
    case 'task_start':
      return `TASK ${event.task}${event.handler ? ' (handler)' : ''}`;
    case 'result': {
      const { result } = event;
      return `${result.status.toUpperCase()}${result.ignored ? ' (ignored)' : ''} [${result.host}] ${result.task}${result.msg ? `: ${result.msg}` : ''}`;
    }
    case 'stats':
      return `RECAP ${Object.entries(event.hosts)
        .map(([h, s]) => `${h} ok=${s.ok} changed=${s.changed} failed=${s.failures} unreachable=${s.unreachable} skipped=${s.skipped} rescued=${s.rescued}`)
        .join('; ')}`;
    case 'text':
      return `| ${event.line}`;
  }
}

/** What a play has reported so far: fed every event in order. */
export class PlayReport {
  readonly tasks: TaskResult[] = [];
  stats: Record<string, HostStats> = {};
  custom: Record<string, unknown> = {};
  /** The task running now, to say where a stopped run was. */
  currentTask: string | undefined;

  add(event: PlayEvent): void {
    if (event.kind === 'task_start') this.currentTask = event.task;
    else if (event.kind === 'result') this.tasks.push(event.result);
    else if (event.kind === 'stats') {
      this.stats = event.hosts;
      this.custom = event.custom;
    }
  }

  /** The first failure that stopped the play: an unreachable host, or a failure not ignored. */
  firstFailure(): TaskResult | undefined {
    return this.tasks.find((t) => (t.status === 'failed' && !t.ignored) || t.status === 'unreachable');
  }
}

function parseJsonEvent(line: string): RawEvent | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const value = JSON.parse(line) as unknown;
    return typeof value === 'object' && value !== null && typeof (value as RawEvent).event === 'string' ? (value as RawEvent) : undefined;
  } catch {
    return undefined;
  }
}

function toTaskResult(event: RawEvent): TaskResult {
  const status = STATUSES.includes(event.status as TaskStatus) ? (event.status as TaskStatus) : 'failed';
  return {
    host: str(event.host),
    task: str(event.task),
    status,
    ...(typeof event.role === 'string' ? { role: event.role } : {}),
    ...(typeof event.msg === 'string' ? { msg: event.msg } : {}),
    ...(typeof event.rc === 'number' ? { rc: event.rc } : {}),
    ...(event.ignored === true ? { ignored: true } : {}),
  };
}

const str = (value: unknown): string => (typeof value === 'string' ? value : String(value ?? ''));
