import type { Clock } from '../../ports/clock.ts';
import type { Logger } from '../../ports/logger.ts';

/** A Slack rate limit: a workspace-wide rate with a burst, and optionally a per-channel spacing. */
export interface RateLimit {
  /** Calls per minute, sustained, across the workspace. */
  perMinute: number;
  /** Calls that may go at once before the sustained rate applies. */
  burst: number;
  /** Least time between two calls to the same channel (chat.postMessage: about 1 s). */
  perChannelMs?: number;
}

/**
 * Slack's published limits, per method (they are counted per method and workspace). `null` is
 * no limit of ours (response_url), though a 429 is still honoured.
 */
export const SLACK_RATE_LIMITS: Readonly<Record<string, RateLimit | null>> = {
  'chat.postMessage': { perMinute: 300, burst: 10, perChannelMs: 1_000 },
  'views.publish': { perMinute: 100, burst: 10 },
  'users.info': { perMinute: 100, burst: 20 },
  response_url: null,
};

/** Tier 3, for any other method. */
const DEFAULT_LIMIT: RateLimit = { perMinute: 50, burst: 5 };

export interface OutboundJob<T> {
  /** The Web API method (`chat.postMessage`), or `response_url`: picks the rate limit. */
  method: string;
  /** The conversation, for per-channel spacing and ordering. */
  channel?: string;
  /** Answers to someone waiting (command responses, look-ups) go before reminders. */
  urgent?: boolean;
  run: () => Promise<T>;
}

export interface OutboundQueueOptions {
  clock: Clock;
  log: Logger;
  /** Overrides of SLACK_RATE_LIMITS, by method. */
  limits?: Readonly<Record<string, RateLimit | null>>;
  /** Calls in flight at once. */
  concurrency?: number;
  /** Attempts of one call that keeps being rate-limited, before it is given up. */
  maxAttempts?: number;
  /** How long a failure says to wait (a 429's Retry-After), or undefined if it is not a rate limit. */
  retryAfterMs: (error: unknown) => number | undefined;
}

interface Pending {
  seq: number;
  job: OutboundJob<unknown>;
  attempts: number;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

interface Bucket {
  tokens: number;
  updatedAt: number;
  pausedUntil: number;
}

interface ChannelState {
  busy: boolean;
  nextAt: number;
}

/**
 * Every call to Slack goes through here. It keeps to Slack's rate limits (per method across the
 * workspace, and about one message a second per channel), keeps the order of messages to one
 * channel, and when Slack answers 429 it pauses that method for Retry-After and sends the same
 * call again. Only a rate-limited call is retried: Slack did not act on it, so a retry cannot
 * deliver a message twice. Any other failure goes back to the caller.
 */
export class OutboundQueue {
  private readonly urgent: Pending[] = [];
  private readonly normal: Pending[] = [];
  private readonly buckets = new Map<string, Bucket>();
  private readonly channels = new Map<string, ChannelState>();
  private seq = 0;
  private inFlight = 0;
  private running = false;
  private stopped = false;
  private wakeUp: AbortController | undefined;
  private readonly idleWaiters: (() => void)[] = [];

  constructor(private readonly o: OutboundQueueOptions) {}

  push<T>(job: OutboundJob<T>): Promise<T> {
    if (this.stopped) return Promise.reject(new Error('the Slack adapter is stopping; nothing more is sent'));
    return new Promise<T>((resolve, reject) => {
      const entry: Pending = { seq: this.seq++, job: job as OutboundJob<unknown>, attempts: 0, resolve: resolve as (v: unknown) => void, reject };
      (job.urgent ? this.urgent : this.normal).push(entry);
      this.pump();
    });
  }

  /** Calls waiting or in flight. */
  get pending(): number {
    return this.urgent.length + this.normal.length + this.inFlight;
  }

  /** Resolves once nothing is waiting or in flight. */
  idle(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Refuses new calls and fails the waiting ones; calls in flight finish. */
  stop(): void {
    this.stopped = true;
    for (const entry of [...this.urgent.splice(0), ...this.normal.splice(0)]) {
      entry.reject(new Error('the Slack adapter stopped before this message could be sent'));
    }
    this.wake();
    this.checkIdle();
  }

  private pump(): void {
    if (this.running) return this.wake();
    this.running = true;
    void this.loop();
  }

  private async loop(): Promise<void> {
    // `running` is cleared in the same turn as the last look at the lists, so a push never finds
    // it set by a loop that has already decided to end.
    try {
      while (!this.stopped && this.urgent.length + this.normal.length > 0) {
        if (!this.startReady()) await this.sleepUntil(this.nextChance);
      }
    } finally {
      this.running = false;
    }
  }

  private nextChance = Number.POSITIVE_INFINITY;

  /** Starts every call that may go now; false (and `nextChance` set) if none could. */
  private startReady(): boolean {
    const now = this.o.clock.now();
    let wakeAt = Number.POSITIVE_INFINITY;
    let started = false;
    for (const list of [this.urgent, this.normal]) {
      for (let i = 0; i < list.length && this.inFlight < (this.o.concurrency ?? 4); ) {
        const entry = list[i]!;
        const wait = this.waitMs(entry.job, now);
        if (wait === 0) {
          list.splice(i, 1);
          this.start(entry, now);
          started = true;
        } else {
          wakeAt = Math.min(wakeAt, now + wait);
          i++;
        }
      }
    }
    this.nextChance = wakeAt;
    return started;
  }

  /** 0 if the call may go now; otherwise how long until it might (Infinity: until a call ends). */
  private waitMs(job: OutboundJob<unknown>, now: number): number {
    const limit = this.limit(job.method);
    const bucket = this.bucket(job.method, now);
    let wait = Math.max(0, bucket.pausedUntil - now);
    if (limit) {
      if (bucket.tokens < 1) wait = Math.max(wait, Math.ceil(((1 - bucket.tokens) * 60_000) / limit.perMinute));
      if (job.channel !== undefined) {
        const channel = this.channels.get(this.channelKey(job));
        if (channel?.busy) return Number.POSITIVE_INFINITY;
        if (channel) wait = Math.max(wait, channel.nextAt - now);
      }
    }
    return Math.max(0, wait);
  }

  private start(entry: Pending, now: number): void {
    const { job } = entry;
    const limit = this.limit(job.method);
    if (limit) this.bucket(job.method, now).tokens -= 1;
    const key = job.channel !== undefined && limit ? this.channelKey(job) : undefined;
    if (key) {
      if (this.channels.size >= 1_000) this.forgetQuietChannels(now);
      this.channels.set(key, { busy: true, nextAt: now + (limit?.perChannelMs ?? 0) });
    }
    entry.attempts++;
    this.inFlight++;
    void job.run().then(
      (value) => this.finish(entry, key, () => entry.resolve(value)),
      (error: unknown) => this.finish(entry, key, () => this.failed(entry, error)),
    );
  }

  private finish(entry: Pending, key: string | undefined, settle: () => void): void {
    this.inFlight--;
    if (key) {
      const channel = this.channels.get(key);
      if (channel) channel.busy = false;
    }
    settle();
    if (this.urgent.length + this.normal.length > 0) this.pump();
    this.checkIdle();
  }

  private failed(entry: Pending, error: unknown): void {
    const retryMs = this.o.retryAfterMs(error);
    if (retryMs === undefined || this.stopped) return entry.reject(error);
    const now = this.o.clock.now();
    const bucket = this.bucket(entry.job.method, now);
    bucket.pausedUntil = Math.max(bucket.pausedUntil, now + retryMs);
    if (entry.attempts >= (this.o.maxAttempts ?? 5)) {
      this.o.log.warn({ method: entry.job.method, channel: entry.job.channel, attempts: entry.attempts }, 'Slack kept rate-limiting a call; giving up on it');
      return entry.reject(error);
    }
    this.o.log.info({ method: entry.job.method, channel: entry.job.channel, retryAfterMs: retryMs }, 'Slack rate limit: waiting before sending again');
    // Back in its place, ahead of later calls, so messages to one channel keep their order.
    const list = entry.job.urgent ? this.urgent : this.normal;
    const at = list.findIndex((other) => other.seq > entry.seq);
    list.splice(at === -1 ? list.length : at, 0, entry);
  }

  /** A channel's state matters only while a call to it is in flight or its spacing lasts. */
  private forgetQuietChannels(now: number): void {
    for (const [key, channel] of this.channels) if (!channel.busy && channel.nextAt <= now) this.channels.delete(key);
  }

  private limit(method: string): RateLimit | null {
    const own = this.o.limits?.[method];
    if (own !== undefined) return own;
    const known = SLACK_RATE_LIMITS[method];
    return known === undefined ? DEFAULT_LIMIT : known;
  }

  /** The method's token bucket, refilled for the time that has passed. */
  private bucket(method: string, now: number): Bucket {
    const limit = this.limit(method);
    let bucket = this.buckets.get(method);
    if (!bucket) {
      bucket = { tokens: limit?.burst ?? 0, updatedAt: now, pausedUntil: 0 };
      this.buckets.set(method, bucket);
    }
    if (limit && now > bucket.updatedAt) {
      bucket.tokens = Math.min(limit.burst, bucket.tokens + ((now - bucket.updatedAt) * limit.perMinute) / 60_000);
    }
    bucket.updatedAt = Math.max(bucket.updatedAt, now);
    return bucket;
  }

  private channelKey(job: OutboundJob<unknown>): string {
    return `${job.method}\u0000${job.channel ?? ''}`;
  }

  private async sleepUntil(at: number): Promise<void> {
    const controller = new AbortController();
    this.wakeUp = controller;
    const ms = Number.isFinite(at) ? Math.max(1, at - this.o.clock.now()) : 2_147_483_647;
    try {
      await this.o.clock.sleep(ms, controller.signal);
    } catch {
      // Woken early: a call was added or finished.
    } finally {
      if (this.wakeUp === controller) this.wakeUp = undefined;
    }
  }

  private wake(): void {
    this.wakeUp?.abort();
  }

  private checkIdle(): void {
    if (this.pending > 0) return;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }
}

/**
 * For Slack calls: how long a rate-limit answer says to wait. The Web API client (with
 * rejectRateLimitedCalls) reports a 429 with Retry-After in seconds; a response_url answering
 * 429 says nothing, so one second; `{ok: false, error: "ratelimited"}` likewise.
 */
export function slackRetryAfterMs(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const e = error as { code?: unknown; retryAfter?: unknown; statusCode?: unknown };
  if (e.code === 'slack_webapi_rate_limited_error' && typeof e.retryAfter === 'number') return Math.max(0, e.retryAfter) * 1_000;
  if (e.code === 'slack_bolt_respond_error' && e.statusCode === 429) return 1_000;
  if (slackErrorCode(error) === 'ratelimited') return 1_000;
  return undefined;
}

/** The `error` of a `{ok: false}` Web API answer, or undefined for other failures. */
export function slackErrorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const e = error as { code?: unknown; data?: { error?: unknown } };
  return e.code === 'slack_webapi_platform_error' && typeof e.data?.error === 'string' ? e.data.error : undefined;
}
