/**
 * Slack on the one outbound queue: its rate limits (per Web API method, per channel), its retry
 * rule (429 Retry-After), and what Slack's errors mean (an error code, no answer at all).
 */
import type { Clock } from '../../ports/clock.ts';
import type { Logger } from '../../ports/logger.ts';
import { OutboundQueue, SlidingWindows, TokenBucket, type OutboundPolicy } from '../outbound-queue.ts';

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

/** Where a Slack call goes in the queue. */
export interface SlackCallShape {
  /** The Web API method (`chat.postMessage`), or `response_url`: picks the rate limit. */
  method: string;
  /** The conversation, for per-channel spacing and ordering. */
  channel?: string;
  /** Answers to someone waiting (command responses, look-ups) go before reminders. */
  urgent?: boolean;
}

export type SlackCall<T> = SlackCallShape & { run: () => Promise<T> };

export interface SlackOutboundOptions {
  clock: Clock;
  log: Logger;
  /** Overrides of SLACK_RATE_LIMITS, by method. */
  limits?: Readonly<Record<string, RateLimit | null>>;
  /** Calls in flight at once. Default 4. */
  concurrency?: number;
  /** Attempts of one call that keeps being rate-limited, before it is given up. Default 5. */
  maxAttempts?: number;
  /** How long a failure says to wait (a 429's Retry-After), or undefined if it is not a rate limit. */
  retryAfterMs: (error: unknown) => number | undefined;
}

/**
 * Every call to Slack goes through here: the one outbound queue (../outbound-queue.ts) held to
 * Slack's rate limits — per method across the workspace (a token bucket), and about one message
 * a second per channel, in order. When Slack answers 429 the method is paused for Retry-After and
 * the same call is sent again. Only a rate-limited call is retried: Slack did not act on it, so a
 * retry cannot deliver a message twice. Any other failure goes back to the caller.
 */
export class SlackOutboundQueue extends OutboundQueue<SlackCallShape> {
  constructor(options: SlackOutboundOptions) {
    super({ clock: options.clock, log: options.log, policy: slackPolicy(options) });
  }
}

function slackPolicy(options: SlackOutboundOptions): OutboundPolicy<SlackCallShape> {
  const limit = (method: string): RateLimit | null => {
    const own = options.limits?.[method];
    if (own !== undefined) return own;
    const known = SLACK_RATE_LIMITS[method];
    return known === undefined ? DEFAULT_LIMIT : known;
  };
  return {
    platform: 'Slack',
    shape: (call) => {
      // A channel orders and spaces the calls of a limited method; the method's bucket is the workspace's.
      const lane = call.channel !== undefined && limit(call.method) !== null ? `${call.method}\u0000${call.channel}` : undefined;
      return {
        kind: call.method,
        ...(lane !== undefined ? { lane, limits: [`method\u0000${call.method}`, `channel\u0000${lane}`] } : { limits: [`method\u0000${call.method}`] }),
        ...(call.urgent ? { urgent: true } : {}),
        logFields: { method: call.method, channel: call.channel },
      };
    },
    limiter: (key) => {
      const [kind, method = ''] = key.split('\u0000');
      const known = limit(method);
      if (!known) return null;
      if (kind === 'channel') return known.perChannelMs ? new SlidingWindows([{ limit: 1, ms: known.perChannelMs }]) : null;
      return new TokenBucket(known.perMinute, known.burst);
    },
    retryDelayMs: (error) => options.retryAfterMs(error),
    retryPausesLimits: true,
    errorFields: (error) => ({ retryAfterMs: options.retryAfterMs(error) }),
    concurrency: options.concurrency ?? 4,
    maxAttempts: options.maxAttempts ?? 5,
  };
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

/**
 * Why auth.test got no verdict on the token: no answer at all (refused, reset, timed out, DNS),
 * which is the network's doing, or an HTTP error from Slack itself.
 */
export function slackNotAnswering(error: unknown): string {
  const e = error as { code?: unknown; statusCode?: unknown; original?: { code?: unknown; message?: unknown }; message?: unknown };
  if (e.code === 'slack_webapi_http_error') return `Slack answered the token check with HTTP ${String(e.statusCode)}; try again later`;
  return `cannot reach Slack (${networkCause(e.original ?? error)}); check the network, the proxy settings, or SLACK_API_URL`;
}

/** The first error code down the cause chain (ECONNREFUSED, ENOTFOUND, …), else the first message. */
function networkCause(error: unknown): string {
  for (let e = error as { code?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 5; e = e.cause as typeof e, depth++) {
    if (typeof e.code === 'string' && /^E[A-Z_]+$|^UND_ERR/.test(e.code)) return e.code;
  }
  return error instanceof Error ? error.message : String(error);
}
