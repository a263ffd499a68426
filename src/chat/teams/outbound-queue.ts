import type { Clock } from '../../ports/clock.ts';
import type { Logger } from '../../ports/logger.ts';

/** At most `limit` calls in any `ms` milliseconds. */
export interface RateWindow {
  limit: number;
  ms: number;
}

export interface TeamsLimits {
  /** Per conversation (Teams counts messages per bot and thread). */
  perConversation: readonly RateWindow[];
  /** Per tenant, for every call the bot makes there. */
  perTenant: readonly RateWindow[];
}

/** Teams' published limits for a bot sending to one conversation, and per app and tenant. */
export const TEAMS_LIMITS: TeamsLimits = {
  perConversation: [
    { limit: 7, ms: 1_000 },
    { limit: 8, ms: 2_000 },
    { limit: 60, ms: 30_000 },
  ],
  perTenant: [{ limit: 30, ms: 1_000 }],
};

/** What Teams asks the bot to send again, after a pause: throttled, precondition, gateway trouble. */
export const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([412, 429, 502, 504]);

export interface OutboundJob<T> {
  /** What it is, for the log: `reply`, `proactive`, `member lookup`. */
  kind: string;
  /** Calls to one conversation go one at a time, in order, within its rate limit. */
  conversation?: string;
  tenant: string;
  /** Answers to someone waiting go before reminders to the same conversation. */
  urgent?: boolean;
  run: () => Promise<T>;
}

export interface OutboundQueueOptions {
  clock: Clock;
  log: Logger;
  limits?: TeamsLimits;
  /** Calls in flight at once, across conversations. Default 8. */
  concurrency?: number;
  /** Attempts of one call before it is given up. Default 5. */
  maxAttempts?: number;
  /** Exponential back-off: the first pause and the longest. Default 1 s and 30 s. */
  backoff?: { initialMs?: number; maxMs?: number };
  /** A Retry-After longer than this gives the call up rather than hold the queue. Default 60 s. */
  maxRetryAfterMs?: number;
  /** For jitter; Math.random by default. */
  random?: () => number;
}

interface Entry {
  job: OutboundJob<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

interface Lane {
  entries: Entry[];
  running: boolean;
}

/**
 * Every call to the Bot Connector goes through here. It keeps to Teams' rate limits (per
 * conversation and per tenant), keeps the order of messages to one conversation, and sends a
 * call again after exponential back-off with jitter (or the Retry-After Teams gives) when Teams
 * answers 429, 412, 502 or 504 — a limited number of times. Anything else, such as a 403 for a
 * user who removed the app, goes straight back to the caller: retrying cannot help.
 */
export class TeamsOutboundQueue {
  private readonly lanes = new Map<string, Lane>();
  /** Start times of recent calls, per rate-limit key, oldest first. */
  private readonly recent = new Map<string, number[]>();
  private readonly stopping = new AbortController();
  private wakeUp = new AbortController();
  private readonly idleWaiters: (() => void)[] = [];
  private inFlight = 0;
  private waiting = 0;
  private jobs = 0;
  private stopped = false;

  constructor(private readonly o: OutboundQueueOptions) {}

  push<T>(job: OutboundJob<T>): Promise<T> {
    if (this.stopped) return Promise.reject(new Error('the Teams adapter is stopping; nothing more is sent'));
    return new Promise<T>((resolve, reject) => {
      const entry: Entry = { job: job as OutboundJob<unknown>, resolve: resolve as (v: unknown) => void, reject };
      // Calls without a conversation (look-ups) each get a lane of their own: they need no order.
      const key = job.conversation !== undefined ? `c\u0000${job.conversation}` : `j\u0000${this.jobs++}`;
      let lane = this.lanes.get(key);
      if (!lane) {
        lane = { entries: [], running: false };
        this.lanes.set(key, lane);
      }
      const at = job.urgent ? lane.entries.findIndex((e) => !e.job.urgent) : -1;
      lane.entries.splice(at === -1 ? lane.entries.length : at, 0, entry);
      this.waiting++;
      if (!lane.running) void this.drain(key, lane);
    });
  }

  /** Calls waiting or in flight. */
  get pending(): number {
    return this.waiting;
  }

  idle(): Promise<void> {
    if (this.waiting === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Refuses new calls, fails the waiting ones and those pausing before a retry; calls in flight finish. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const lane of this.lanes.values()) {
      for (const entry of lane.entries.splice(0)) this.settle(() => entry.reject(new Error('the Teams adapter stopped before this message could be sent')));
    }
    this.stopping.abort();
  }

  /**
   * How long to wait before sending a failed call again, or undefined if it must not be sent
   * again: Retry-After when Teams gives one, else exponential back-off with jitter.
   */
  retryDelayMs(error: unknown, attempt: number): number | undefined {
    const status = connectorStatus(error);
    if (status === undefined || !RETRYABLE_STATUSES.has(status)) return undefined;
    const random = this.o.random ?? Math.random;
    const retryAfter = retryAfterMs(error, this.o.clock.now());
    if (retryAfter !== undefined) {
      if (retryAfter > (this.o.maxRetryAfterMs ?? 60_000)) return undefined;
      // A little jitter on top, so callers told the same time do not all come back at once.
      return retryAfter + random() * Math.min(1_000, retryAfter * 0.2);
    }
    const initial = this.o.backoff?.initialMs ?? 1_000;
    const cap = Math.min(this.o.backoff?.maxMs ?? 30_000, initial * 2 ** (attempt - 1));
    return cap / 2 + random() * (cap / 2);
  }

  private async drain(key: string, lane: Lane): Promise<void> {
    lane.running = true;
    try {
      while (lane.entries.length > 0) await this.send(lane.entries.shift()!);
    } finally {
      lane.running = false;
      if (lane.entries.length === 0 && this.lanes.get(key) === lane) this.lanes.delete(key);
    }
  }

  /** Sends one call, again if it fails in a way worth retrying; settles it either way. */
  private async send(entry: Entry): Promise<void> {
    const { job } = entry;
    const maxAttempts = this.o.maxAttempts ?? 5;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.permit(job);
      } catch (error) {
        return this.settle(() => entry.reject(error));
      }
      try {
        const value = await job.run();
        this.release();
        return this.settle(() => entry.resolve(value));
      } catch (error) {
        this.release();
        const delayMs = this.stopped ? undefined : this.retryDelayMs(error, attempt);
        const fields = { kind: job.kind, conversation: job.conversation, tenant: job.tenant, status: connectorStatus(error), attempt };
        if (delayMs === undefined) return this.settle(() => entry.reject(error));
        if (attempt >= maxAttempts) {
          this.o.log.warn(fields, 'Teams kept refusing a call for the moment; giving up on it');
          return this.settle(() => entry.reject(error));
        }
        this.o.log.info({ ...fields, delayMs: Math.round(delayMs) }, 'Teams asked the bot to slow down or failed for a moment: sending again after a pause');
        try {
          await this.o.clock.sleep(delayMs, this.stopping.signal);
        } catch {
          return this.settle(() => entry.reject(error));
        }
      }
    }
  }

  /** Waits until the conversation's and tenant's limits and the concurrency allow a call, then counts it. */
  private async permit(job: OutboundJob<unknown>): Promise<void> {
    const limits = this.o.limits ?? TEAMS_LIMITS;
    const keys: [string, readonly RateWindow[]][] = [[`t\u0000${job.tenant}`, limits.perTenant]];
    if (job.conversation !== undefined) keys.push([`c\u0000${job.conversation}`, limits.perConversation]);
    for (;;) {
      if (this.stopped) throw new Error('the Teams adapter stopped before this message could be sent');
      const now = this.o.clock.now();
      const wait = Math.max(0, ...keys.map(([key, windows]) => this.windowWait(key, windows, now)));
      if (wait === 0 && this.inFlight < (this.o.concurrency ?? 8)) {
        for (const [key, windows] of keys) this.record(key, windows, now);
        this.inFlight++;
        return;
      }
      // Until a window frees a slot, or (for concurrency) until a call ends.
      const signal = AbortSignal.any([this.stopping.signal, this.wakeUp.signal]);
      await this.o.clock.sleep(wait > 0 ? wait : 2_147_483_647, signal).catch(() => {});
    }
  }

  private release(): void {
    this.inFlight--;
    this.wakeUp.abort();
    this.wakeUp = new AbortController();
  }

  /** 0 if a call may go now under every window of `key`; else how long until one may. */
  private windowWait(key: string, windows: readonly RateWindow[], now: number): number {
    const times = this.prune(key, windows, now);
    let wait = 0;
    for (const w of windows) {
      const inWindow = times.filter((t) => t > now - w.ms);
      if (inWindow.length >= w.limit) wait = Math.max(wait, inWindow[inWindow.length - w.limit]! + w.ms - now);
    }
    return wait;
  }

  private record(key: string, windows: readonly RateWindow[], now: number): void {
    const times = this.prune(key, windows, now);
    times.push(now);
    this.recent.set(key, times);
    // Bounded memory: forget keys with nothing inside their windows.
    if (this.recent.size > 10_000) {
      const longest = Math.max(...windows.map((w) => w.ms));
      for (const [k, list] of this.recent) if ((list.at(-1) ?? 0) <= now - longest) this.recent.delete(k);
    }
  }

  private prune(key: string, windows: readonly RateWindow[], now: number): number[] {
    const longest = Math.max(0, ...windows.map((w) => w.ms));
    const times = (this.recent.get(key) ?? []).filter((t) => t > now - longest);
    if (times.length === 0) this.recent.delete(key);
    else this.recent.set(key, times);
    return times;
  }

  private settle(fn: () => void): void {
    this.waiting--;
    fn();
    if (this.waiting === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
  }
}

/** The HTTP status of a failed connector call (the Agents SDK's HttpError), if it had one. */
export function connectorStatus(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const e = error as { status?: unknown; response?: { status?: unknown } };
  if (typeof e.status === 'number') return e.status;
  return typeof e.response?.status === 'number' ? e.response.status : undefined;
}

/** The error code in a failed connector call's body (`{error: {code}}`), e.g. MessageWritesBlocked. */
export function connectorErrorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const data = (error as { response?: { data?: unknown } }).response?.data;
  if (typeof data !== 'object' || data === null) return undefined;
  const code = (data as { error?: { code?: unknown } }).error?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Retry-After of a failed call, in ms: seconds or an HTTP date. */
export function retryAfterMs(error: unknown, now: number): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const headers = (error as { response?: { headers?: unknown } }).response?.headers;
  let raw: unknown;
  if (headers instanceof Headers) raw = headers.get('retry-after');
  else if (typeof headers === 'object' && headers !== null) raw = (headers as Record<string, unknown>)['retry-after'];
  if (typeof raw !== 'string' || raw.trim() === '') return undefined;
  const seconds = Number(raw.trim());
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1_000);
  const date = Date.parse(raw);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
