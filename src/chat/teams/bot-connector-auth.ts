import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import type { Clock } from '../../ports/clock.ts';
import type { Logger } from '../../ports/logger.ts';
import type { ServiceUrlPolicy } from './service-urls.ts';

/**
 * Who may call `POST /api/messages` in production: the Bot Connector, and only it. Every
 * activity carries its token, which must be issued by the Bot Framework (not merely by Entra:
 * any principal of the tenant can get an Entra token for the bot's app id), be for this bot,
 * be current, name in its `serviceurl` claim the service the activity names, and be signed with
 * a key of the Bot Framework's published key set endorsed for the activity's channel.
 *
 * The cheap checks on the unverified token come first, so a forged request costs no outbound
 * call; the key set is fetched when a token names a key not seen yet, at most once per
 * `minRefreshMs`, so a flood of made-up key ids costs one fetch.
 */

export type AuthOutcome = { ok: true; claims: BotConnectorClaims } | { ok: false; status: 401 | 503; reason: string };

/** The verified claims, as the Agents SDK expects them on `request.user`. */
export interface BotConnectorClaims {
  iss: string;
  aud: string | string[];
  exp: number;
  serviceurl: string;
  [claim: string]: unknown;
}

export interface BotConnectorAuthOptions {
  /** The bot's app (client) id: the token's audience. */
  appId: string;
  /** The Bot Framework's issuer, e.g. https://api.botframework.com. */
  issuer: string;
  /** Which service URLs the bot may talk to at all. */
  serviceUrls: ServiceUrlPolicy;
  keys: BotConnectorKeys;
  clock: Clock;
  /** Allowed clock difference for `exp` and `nbf`. Default 5 min, as the Bot Framework SDKs. */
  clockToleranceMs?: number;
}

const MAX_TOKEN_LENGTH = 16_384;
const SEGMENT = /^[A-Za-z0-9_-]+$/;

export class BotConnectorAuth {
  constructor(private readonly options: BotConnectorAuthOptions) {}

  /** Checks one request's `Authorization` header against the activity it came with. */
  async authenticate(authorization: string | string[] | undefined, activity: Record<string, unknown>): Promise<AuthOutcome> {
    const refuse = (reason: string): AuthOutcome => ({ ok: false, status: 401, reason });
    const header = Array.isArray(authorization) ? authorization[0] : authorization;
    const match = /^Bearer ([^\s]+)$/i.exec(header?.trim() ?? '');
    if (!match) return refuse(header ? 'the Authorization header is not a bearer token' : 'no Authorization header');
    const token = match[1]!;
    if (token.length > MAX_TOKEN_LENGTH) return refuse('the token is too long');
    const parts = token.split('.');
    if (parts.length !== 3 || !parts.every((p) => SEGMENT.test(p))) return refuse('the token is not a signed JWT');
    const head = decodeJson(parts[0]!);
    const claims = decodeJson(parts[1]!);
    if (!head || !claims) return refuse('the token is not a JWT');

    // Everything that needs no key, before any key is looked up.
    if (head.alg !== 'RS256') return refuse(`the token's algorithm is ${String(head.alg)}, not RS256`);
    if (typeof head.kid !== 'string' || head.kid === '' || head.kid.length > 256) return refuse('the token names no signing key');
    if (claims.iss !== this.options.issuer) return refuse(`the token was issued by ${describe(claims.iss)}, not the Bot Framework (${this.options.issuer})`);
    const aud = claims.aud;
    if (!(aud === this.options.appId || (Array.isArray(aud) && aud.includes(this.options.appId)))) return refuse(`the token is for ${describe(aud)}, not this bot`);
    const nowSeconds = this.options.clock.now() / 1000;
    const tolerance = (this.options.clockToleranceMs ?? 300_000) / 1000;
    if (typeof claims.exp !== 'number') return refuse('the token has no expiry');
    if (nowSeconds > claims.exp + tolerance) return refuse('the token has expired');
    if (claims.nbf !== undefined && (typeof claims.nbf !== 'number' || claims.nbf > nowSeconds + tolerance)) return refuse('the token is not valid yet');
    if (typeof claims.serviceurl !== 'string') return refuse('the token has no serviceurl claim');
    const serviceUrl = typeof activity.serviceUrl === 'string' ? activity.serviceUrl : undefined;
    if (!serviceUrl || originOf(claims.serviceurl) === undefined || originOf(claims.serviceurl) !== originOf(serviceUrl)) {
      return refuse(`the activity's serviceUrl ${describe(serviceUrl)} is not the token's (${describe(claims.serviceurl)})`);
    }
    const notAllowed = this.options.serviceUrls.refusal(serviceUrl);
    if (notAllowed) return refuse(notAllowed);

    const found = await this.options.keys.get(head.kid);
    if (found === 'unavailable') return { ok: false, status: 503, reason: 'the Bot Framework signing keys could not be fetched' };
    if (found === 'unknown') return refuse(`the token is signed with key ${describe(head.kid)}, which is not in the Bot Framework's key set`);
    const channelId = typeof activity.channelId === 'string' ? activity.channelId : '';
    if (found.endorsements && !found.endorsements.includes(channelId)) return refuse(`the signing key is not endorsed for channel ${describe(channelId)}`);
    const signed = verify('RSA-SHA256', Buffer.from(`${parts[0]}.${parts[1]}`), found.key, Buffer.from(parts[2]!, 'base64url'));
    if (!signed) return refuse('the token signature is not valid');
    return { ok: true, claims: claims as BotConnectorClaims };
  }
}

export interface SigningKey {
  key: KeyObject;
  /** The channels the key may sign for (Bot Framework keys list them); undefined: any. */
  endorsements?: readonly string[];
}

export interface BotConnectorKeysOptions {
  /** The OpenID metadata document; its `jwks_uri` is the key set. */
  openIdMetadataUrl: string;
  clock: Clock;
  log: Logger;
  /** Fewest milliseconds between two fetches of the key set. Default 60 s. */
  minRefreshMs?: number;
  /** Keys older than this are fetched again on the next request (a removed key stops being trusted). Default 24 h. */
  maxAgeMs?: number;
  /** How long one fetch may take. Default 10 s. */
  timeoutMs?: number;
  /** The fetch to use: through the outbound proxy when one is set. Default the global fetch. */
  fetch?: typeof globalThis.fetch;
}

/** The Bot Framework's signing keys by key id, fetched lazily and seldom. */
export class BotConnectorKeys {
  private keys = new Map<string, SigningKey>();
  private loadedAt: number | undefined;
  private lastAttemptAt: number | undefined;
  private lastFailed = false;
  private refreshing: Promise<void> | undefined;
  /** Outbound fetches made (metadata and key set): for the log and for tests. */
  fetches = 0;

  constructor(private readonly options: BotConnectorKeysOptions) {}

  /** The key with this id, 'unknown' if the key set does not have it, 'unavailable' if it could not be fetched. */
  async get(kid: string): Promise<SigningKey | 'unknown' | 'unavailable'> {
    const now = this.options.clock.now();
    const fresh = this.loadedAt !== undefined && now - this.loadedAt < (this.options.maxAgeMs ?? 86_400_000);
    const known = this.keys.get(kid);
    if (known && fresh) return known;
    if (this.refreshing) {
      await this.refreshing;
    } else if (this.lastAttemptAt === undefined || now - this.lastAttemptAt >= (this.options.minRefreshMs ?? 60_000)) {
      this.lastAttemptAt = now;
      this.refreshing = this.refresh().finally(() => (this.refreshing = undefined));
      await this.refreshing;
    }
    const found = this.keys.get(kid);
    if (found) return found;
    return this.lastFailed && this.keys.size === 0 ? 'unavailable' : 'unknown';
  }

  private async refresh(): Promise<void> {
    try {
      const metadata = await this.fetchJson(this.options.openIdMetadataUrl);
      const jwksUri = metadata.jwks_uri;
      if (typeof jwksUri !== 'string') throw new Error('the OpenID metadata has no jwks_uri');
      const set = await this.fetchJson(jwksUri);
      const keys = new Map<string, SigningKey>();
      for (const jwk of Array.isArray(set.keys) ? (set.keys as Record<string, unknown>[]) : []) {
        const key = signingKey(jwk);
        if (key) keys.set(jwk.kid as string, key);
      }
      if (keys.size === 0) throw new Error('the key set has no RSA signing keys');
      this.keys = keys;
      this.loadedAt = this.options.clock.now();
      this.lastFailed = false;
      this.options.log.info({ keys: keys.size }, 'Bot Framework signing keys fetched');
    } catch (error) {
      // The keys held so far stay in use: a failed refresh must not lock Teams out.
      this.lastFailed = true;
      this.options.log.error({ err: error, url: this.options.openIdMetadataUrl }, 'could not fetch the Bot Framework signing keys');
    }
  }

  private async fetchJson(url: string): Promise<Record<string, unknown>> {
    this.fetches++;
    const response = await (this.options.fetch ?? fetch)(url, { signal: AbortSignal.timeout(this.options.timeoutMs ?? 10_000), redirect: 'error' });
    if (!response.ok) throw new Error(`${url} answered HTTP ${response.status}`);
    const body = (await response.json()) as unknown;
    if (typeof body !== 'object' || body === null) throw new Error(`${url} did not answer a JSON object`);
    return body as Record<string, unknown>;
  }
}

function signingKey(jwk: Record<string, unknown>): SigningKey | undefined {
  if (jwk.kty !== 'RSA' || typeof jwk.kid !== 'string' || typeof jwk.n !== 'string' || typeof jwk.e !== 'string') return undefined;
  if (jwk.use !== undefined && jwk.use !== 'sig') return undefined;
  try {
    const key = createPublicKey({ key: { kty: 'RSA', n: jwk.n, e: jwk.e }, format: 'jwk' });
    const endorsements = Array.isArray(jwk.endorsements) ? jwk.endorsements.filter((e): e is string => typeof e === 'string') : undefined;
    return { key, ...(endorsements ? { endorsements } : {}) };
  } catch {
    return undefined;
  }
}

function decodeJson(segment: string): Record<string, unknown> | undefined {
  try {
    const value = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8')) as unknown;
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function originOf(url: string): string | undefined {
  try {
    const origin = new URL(url).origin;
    return origin === 'null' ? undefined : origin;
  } catch {
    return undefined;
  }
}

/** An attacker-supplied value, short and on one line, for a log line. */
function describe(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value) ?? String(value);
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/[\x00-\x1f\x7f-\x9f\u2028\u2029]/g, '?');
  return clean.length > 120 ? `${clean.slice(0, 120)}…` : clean;
}
