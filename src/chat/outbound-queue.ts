/**
 * The one outbound queue every chat adapter sends through, with the limiters it counts against
 * (a little over 350 lines: the limiters are the queue's contract and are read with it).
 */
import type { Clock } from '../ports/clock.ts';
import type { Logger } from '../ports/logger.ts';

/**
 * A rate limit on one key (a Slack method, a channel, a Teams conversation or tenant): how long
 * until a call may go, and counting one that goes.
 */
export interface Limiter {
  /** 0 if a call may go at `now`; otherwise how long until one may. */
  waitMs(now: number): number;
  /** Counts a call that goes at `now`. */
  take(now: number): void;
  /** The platform said to wait (a 429's Retry-After): nothing goes before `until`. */
  pauseUntil(until: number): void;
  /** Nothing it remembers matters any more at `now`: it may be forgotten. */
  quiet(now: number): boolean;
}

/** A sustained rate per minute with a burst (Slack's per-method limits across a workspace). */
export class TokenBucket implements Limiter {
  private tokens: number;
  private updatedAt: number | null = null;
  private pausedUntil = 0;

  constructor(
    private readonly perMinute: number,
    private readonly burst: number,
  ) {
    this.tokens = burst;
  }

  waitMs(now: number): number {
    this.refill(now);
    const paused = Math.max(0, this.pausedUntil - now);
    return this.tokens >= 1 ? paused : Math.max(paused, Math.ceil(((1 - this.tokens) * 60_000) / this.perMinute));
  }

  take(now: number): void {
    this.refill(now);
    this.tokens -= 1;
  }

  pauseUntil(until: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, until);
  }

  quiet(now: number): boolean {
    this.refill(now);
    return this.tokens >= this.burst && this.pausedUntil <= now;
  }

  private refill(now: number): void {
    if (this.updatedAt !== null && now > this.updatedAt) this.tokens = Math.min(this.burst, this.tokens + ((now - this.updatedAt) * this.perMinute) / 60_000);
    this.updatedAt = Math.max(this.updatedAt ?? now, now);
  }
}

/** At most `limit` calls in any `ms` milliseconds. */
export interface RateWindow {
  limit: number;
  ms: number;
}

/** Sliding windows, all kept at once (Teams' per-conversation and per-tenant limits; Slack's ~1 a second per channel). */
export class SlidingWindows implements Limiter {
  /** Start times of recent calls, oldest first. */
  private times: number[] = [];
  private pausedUntil = 0;
  private readonly longest: number;

  constructor(private readonly windows: readonly RateWindow[]) {
    this.longest = Math.max(0, ...windows.map((w) => w.ms));
  }

  waitMs(now: number): number {
    this.prune(now);
    let wait = Math.max(0, this.pausedUntil - now);
    for (const w of this.windows) {
      const inWindow = this.times.filter((t) => t > now - w.ms);
      if (inWindow.length >= w.limit) wait = Math.max(wait, inWindow[inWindow.length - w.limit]! + w.ms - now);
    }
    return wait;
  }

  take(now: number): void {
    this.prune(now);
    this.times.push(now);
  }

  pauseUntil(until: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, until);
  }

  quiet(now: number): boolean {
    this.prune(now);
    return this.times.length === 0 && this.pausedUntil <= now;
  }

  private prune(now: number): void {
    while (this.times.length > 0 && this.times[0]! <= now - this.longest) this.times.shift();
  }
}

/** What the queue needs to know of a call besides how to make it: its lane, limits and priority. */
export interface JobShape {
  /** What it is, for the log: `chat.postMessage`, `proactive`, `member lookup`. */
  kind: string;
  /** Calls in one lane (a channel, a conversation) go one at a time, in order. None: a lane of its own. */
  lane?: string;
  /** The keys of the limits this call counts against. */
  limits: readonly string[];
  /** Answers to someone waiting go before reminders and notices. */
  urgent?: boolean;
  /** Fields for the log lines about this call. */
  logFields?: Record<string, unknown>;
}

export interface OutboundJob<T> extends JobShape {
  run: () => Promise<T>;
}

/** What one platform's calls are held to; `S` is the shape of its calls (a Slack method and channel, a Teams conversation and tenant). */
export interface OutboundPolicy<S = JobShape> {
  /** Where a call goes in the queue. */
  shape(call: S): JobShape;
  /** The platform's name, for messages: "the Slack adapter stopped …". */
  platform: string;
  /** The limiter of a key, made once when the key is first used; null: no limit of ours. */
  limiter(key: string): Limiter | null;
  /** How long to wait before sending a failed call again, or undefined if it must not be sent again. */
  retryDelayMs(error: unknown, attempt: number): number | undefined;
  /**
   * Whether waiting before a retry holds every call counted against the same limits (a Slack 429
   * is about the method across the workspace) or only the call's lane (a Teams conversation).
   */
  retryPausesLimits: boolean;
  /** Calls in flight at once. */
  concurrency: number;
  /** Attempts of one call before it is given up. */
  maxAttempts: number;
  /** What the log says of a failure (an HTTP status, an error code). */
  errorFields?: (error: unknown) => Record<string, unknown>;
}

interface Entry {
  seq: number;
  job: OutboundJob<unknown>;
  attempts: number;
  /** Not before this time (waiting before a retry). */
  notBefore: number;
  lastError?: unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

interface Lane {
  entries: Entry[];
  busy: boolean;
}

/**
 * Every call a chat adapter makes goes through its platform's queue: one algorithm for every
 * platform, the limits and the retry rule given by the platform. Calls of one lane go one at a
 * time and in order; a call goes when every limit it counts against allows it and fewer than
 * `concurrency` are in flight; answers to someone waiting go first. A failure the platform says
 * may be retried (a rate limit, a moment's trouble) is sent again after the pause it asks for, in
 * its place; anything else goes back to the caller at once, so nothing the platform acted on is
 * sent twice.
 */
export class OutboundQueue<S = JobShape> {
  private readonly lanes = new Map<string, Lane>();
  private readonly limiters = new Map<string, Limiter | null>();
  private seq = 0;
  private inFlight = 0;
  private waiting = 0;
  private pumping = false;
  private stopped = false;
  private wakeUp: AbortController | undefined;
  private readonly idleWaiters: (() => void)[] = [];

  constructor(private readonly options: { clock: Clock; log: Logger; policy: OutboundPolicy<S> }) {}

  push<T>(call: S & { run: () => Promise<T> }): Promise<T> {
    if (this.stopped) return Promise.reject(new Error(`the ${this.options.policy.platform} adapter is stopping; nothing more is sent`));
    const job: OutboundJob<unknown> = { ...this.options.policy.shape(call), run: call.run };
    return new Promise<T>((resolve, reject) => {
      const entry: Entry = { seq: this.seq++, job, attempts: 0, notBefore: 0, resolve: resolve as (v: unknown) => void, reject };
      const key = job.lane !== undefined ? `l\u0000${job.lane}` : `j\u0000${entry.seq}`;
      let lane = this.lanes.get(key);
      if (!lane) {
        lane = { entries: [], busy: false };
        this.lanes.set(key, lane);
      }
      const at = job.urgent ? lane.entries.findIndex((e) => !e.job.urgent) : -1;
      lane.entries.splice(at === -1 ? lane.entries.length : at, 0, entry);
      this.waiting++;
      this.pump();
    });
  }

  /** Calls waiting or in flight. */
  get pending(): number {
    return this.waiting;
  }

  /** Resolves once nothing is waiting or in flight. */
  idle(): Promise<void> {
    if (this.waiting === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Refuses new calls and fails the waiting ones (a call pausing before a retry with its last error); calls in flight finish. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const lane of this.lanes.values()) {
      for (const entry of lane.entries.splice(0)) {
        this.settle(() => entry.reject(entry.lastError ?? new Error(`the ${this.options.policy.platform} adapter stopped before this message could be sent`)));
      }
    }
    this.wakeUp?.abort();
  }

  /** How an adapter stops: `answering` (what it acknowledged) and the calls it queues get up to `graceMs`, then stop(). */
  async stopAfter(answering: () => Promise<void>, graceMs = 5_000): Promise<void> {
    const timeout = new AbortController();
    await Promise.race([answering().then(() => this.idle()), this.options.clock.sleep(graceMs, timeout.signal).catch(() => {})]);
    timeout.abort();
    this.stop();
  }

  /** Starts what may go now, at once; a loop sleeps until something waiting may go. */
  private pump(): void {
    if (this.stopped) return;
    const next = this.startReady();
    if (next === null) return;
    if (this.pumping) {
      this.wakeUp?.abort();
      return;
    }
    this.pumping = true;
    void this.loop(next);
  }

  private async loop(first: number): Promise<void> {
    try {
      let next: number | null = first;
      while (next !== null && !this.stopped) {
        await this.sleepUntil(next);
        if (this.stopped) return;
        next = this.startReady();
      }
    } finally {
      this.pumping = false;
    }
  }

  /**
   * Starts every call that may go now, urgent ones first, then in the order they came. Returns
   * when to look again (Infinity: when a call ends), or null when no lane has a call to start.
   */
  private startReady(): number | null {
    const now = this.options.clock.now();
    const heads: { entry: Entry; lane: Lane; key: string }[] = [];
    for (const [key, lane] of this.lanes) if (!lane.busy && lane.entries.length > 0) heads.push({ entry: lane.entries[0]!, lane, key });
    // Nothing waits that could start: a call that ends pumps again.
    if (heads.length === 0) return null;
    heads.sort((a, b) => Number(Boolean(b.entry.job.urgent)) - Number(Boolean(a.entry.job.urgent)) || a.entry.seq - b.entry.seq);
    let wakeAt = Number.POSITIVE_INFINITY;
    for (const { entry, lane, key } of heads) {
      if (this.inFlight >= this.options.policy.concurrency) break;
      const limiters = entry.job.limits.map((k) => this.limiter(k, now)).filter((l): l is Limiter => l !== null);
      const wait = Math.max(0, entry.notBefore - now, ...limiters.map((l) => l.waitMs(now)));
      if (wait > 0) {
        wakeAt = Math.min(wakeAt, now + wait);
        continue;
      }
      for (const l of limiters) l.take(now);
      lane.entries.shift();
      this.start(entry, lane, key);
    }
    return wakeAt;
  }

  private start(entry: Entry, lane: Lane, key: string): void {
    lane.busy = true;
    entry.attempts++;
    this.inFlight++;
    let running: Promise<unknown>;
    try {
      running = entry.job.run();
    } catch (error) {
      running = Promise.reject(error);
    }
    void running.then(
      (value) => this.finish(lane, key, () => this.settle(() => entry.resolve(value))),
      (error: unknown) => this.finish(lane, key, () => this.failed(entry, lane, error)),
    );
  }

  private finish(lane: Lane, key: string, then: () => void): void {
    this.inFlight--;
    lane.busy = false;
    then();
    if (lane.entries.length === 0 && !lane.busy && this.lanes.get(key) === lane) this.lanes.delete(key);
    if (this.waiting > 0) this.pump();
  }

  private failed(entry: Entry, lane: Lane, error: unknown): void {
    const { policy, log, clock } = this.options;
    const delayMs = this.stopped ? undefined : policy.retryDelayMs(error, entry.attempts);
    const fields = { platform: policy.platform, kind: entry.job.kind, attempt: entry.attempts, ...entry.job.logFields, ...policy.errorFields?.(error) };
    if (delayMs === undefined) return this.settle(() => entry.reject(error));
    if (entry.attempts >= policy.maxAttempts) {
      log.warn(fields, `${policy.platform} kept refusing a call for the moment; giving up on it`);
      return this.settle(() => entry.reject(error));
    }
    log.info({ ...fields, delayMs: Math.round(delayMs) }, `${policy.platform} asked the bot to slow down or failed for a moment: sending again after a pause`);
    const now = clock.now();
    entry.notBefore = now + delayMs;
    entry.lastError = error;
    if (policy.retryPausesLimits) for (const key of entry.job.limits) this.limiter(key, now)?.pauseUntil(now + delayMs);
    // Back at the head of its lane (kept, as it is not empty now): the calls after it keep their order.
    lane.entries.unshift(entry);
  }

  private limiter(key: string, now: number): Limiter | null {
    let limiter = this.limiters.get(key);
    if (limiter === undefined) {
      // Bounded memory: forget limiters that remember nothing that still matters.
      if (this.limiters.size >= 10_000) for (const [k, l] of this.limiters) if (l === null || l.quiet(now)) this.limiters.delete(k);
      limiter = this.options.policy.limiter(key);
      this.limiters.set(key, limiter);
    }
    return limiter;
  }

  private async sleepUntil(at: number): Promise<void> {
    const controller = new AbortController();
    this.wakeUp = controller;
    const ms = Number.isFinite(at) ? Math.max(1, at - this.options.clock.now()) : 2_147_483_647;
    try {
      await this.options.clock.sleep(ms, controller.signal);
    } catch {
      // Woken early: a call was added or ended, or the queue stopped.
    } finally {
      if (this.wakeUp === controller) this.wakeUp = undefined;
    }
  }

  private settle(fn: () => void): void {
    this.waiting--;
    fn();
    if (this.waiting === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
  }
}
