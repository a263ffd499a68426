import type { Clock } from '../../ports/clock.ts';
import type { Logger } from '../../ports/logger.ts';
import { OutboundQueue, SlidingWindows, type OutboundPolicy, type RateWindow } from '../outbound-queue.ts';

export type { RateWindow };

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

/** Where a Teams call goes in the queue. */
export interface TeamsCallShape {
  /** What it is, for the log: `reply`, `proactive`, `member lookup`. */
  kind: string;
  /** Calls to one conversation go one at a time, in order, within its rate limit. */
  conversation?: string;
  tenant: string;
  /** Answers to someone waiting go before reminders to the same conversation. */
  urgent?: boolean;
}

export type TeamsCall<T> = TeamsCallShape & { run: () => Promise<T> };

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

/**
 * Every call to the Bot Connector goes through here: the one outbound queue
 * (../outbound-queue.ts) held to Teams' rate limits (per conversation, in order, and per tenant).
 * When Teams answers 429, 412, 502 or 504 the call is sent again after exponential back-off with
 * jitter (or the Retry-After Teams gives), holding only its conversation — a limited number of
 * times. Anything else, such as a 403 for a user who removed the app, goes straight back to the
 * caller: retrying cannot help.
 */
export class TeamsOutboundQueue extends OutboundQueue<TeamsCallShape> {
  constructor(private readonly teams: OutboundQueueOptions) {
    super({ clock: teams.clock, log: teams.log, policy: teamsPolicy(teams) });
  }

  /** How long to wait before sending a failed call again, or undefined if it must not be sent again. */
  retryDelayMs(error: unknown, attempt: number): number | undefined {
    return teamsRetryDelayMs(error, attempt, this.teams);
  }
}

function teamsPolicy(options: OutboundQueueOptions): OutboundPolicy<TeamsCallShape> {
  const limits = options.limits ?? TEAMS_LIMITS;
  return {
    platform: 'Teams',
    shape: (call) => {
      const tenant = `tenant\u0000${call.tenant}`;
      return {
        kind: call.kind,
        // Calls without a conversation (look-ups) each get a lane of their own: they need no order.
        ...(call.conversation !== undefined ? { lane: call.conversation, limits: [tenant, `conversation\u0000${call.conversation}`] } : { limits: [tenant] }),
        ...(call.urgent ? { urgent: true } : {}),
        logFields: { conversation: call.conversation, tenant: call.tenant },
      };
    },
    limiter: (key) => new SlidingWindows(key.startsWith('tenant\u0000') ? limits.perTenant : limits.perConversation),
    retryDelayMs: (error, attempt) => teamsRetryDelayMs(error, attempt, options),
    retryPausesLimits: false,
    errorFields: (error) => ({ status: connectorStatus(error) }),
    concurrency: options.concurrency ?? 8,
    maxAttempts: options.maxAttempts ?? 5,
  };
}

/**
 * How long to wait before sending a failed call again, or undefined if it must not be sent
 * again: Retry-After when Teams gives one, else exponential back-off with jitter.
 */
function teamsRetryDelayMs(error: unknown, attempt: number, options: OutboundQueueOptions): number | undefined {
  const status = connectorStatus(error);
  if (status === undefined || !RETRYABLE_STATUSES.has(status)) return undefined;
  const random = options.random ?? Math.random;
  const retryAfter = retryAfterMs(error, options.clock.now());
  if (retryAfter !== undefined) {
    if (retryAfter > (options.maxRetryAfterMs ?? 60_000)) return undefined;
    // A little jitter on top, so callers told the same time do not all come back at once.
    return retryAfter + random() * Math.min(1_000, retryAfter * 0.2);
  }
  const initial = options.backoff?.initialMs ?? 1_000;
  const cap = Math.min(options.backoff?.maxMs ?? 30_000, initial * 2 ** (attempt - 1));
  return cap / 2 + random() * (cap / 2);
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
