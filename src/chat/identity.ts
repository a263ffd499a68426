/**
 * What every chat platform does to turn its users into facility accounts: an address read by the
 * configured rule, and the answers cached per platform user with the way back from an account to
 * its users (whose views to refresh when that account's leases change).
 */
import { isAccountName } from '../core/account-name.ts';
import type { Clock } from '../ports/clock.ts';
import { TtlCache } from './ttl-cache.ts';

export type Identity = { ok: true; account: string } | { ok: false; reason: string };

/**
 * The account an address gives: its local part, if the address is at one of the `domains` (or
 * a subdomain; any when empty — the bot's configuration refuses that for a platform in use) and
 * the local part is an account name by the bot's one rule. A whole address is never an account.
 * `what` names the address in refusals.
 */
export function accountFromAddress(address: string, options: { domains: readonly string[]; what: string }): Identity {
  const at = address.lastIndexOf('@');
  if (at <= 0) return { ok: false, reason: `${options.what} (${address}) is not one the bot can read.` };
  const domain = address.slice(at + 1).toLowerCase();
  const domains = options.domains.map((d) => d.toLowerCase());
  if (domains.length > 0 && !domains.some((d) => domain === d || domain.endsWith(`.${d}`))) {
    return { ok: false, reason: `${options.what} (${address}) is not at ${domains.length === 1 ? 'the facility’s domain' : 'one of the facility’s domains'} (${domains.join(', ')}).` };
  }
  const account = address.slice(0, at);
  if (!isAccountName(account)) return { ok: false, reason: `${options.what} (${address}) does not give a facility account name the bot can use.` };
  return { ok: true, account };
}

/** An account an administrator wrote in an identity map, checked by the same rule. */
export function mappedAccount(account: string): Identity {
  return isAccountName(account)
    ? { ok: true, account }
    : { ok: false, reason: `The bot’s list of users gives you an account name the bot cannot use (${JSON.stringify(account)}).` };
}

/** An administrator's explicit map (platform user or address → account), keyed the way the platform compares keys. */
export function explicitMap(map: Readonly<Record<string, string>> | undefined, keyOf: (key: string) => string): Map<string, string> {
  return new Map(Object.entries(map ?? {}).map(([key, account]) => [keyOf(key), account]));
}

/** How long a platform's answers are trusted: what every platform's identity rules say. */
export interface CacheRules {
  /** How long a mapping is trusted before the platform is asked again. Default 1 h. */
  cacheTtlMs?: number;
  /** How long a failed mapping is remembered, so a fix by an admin shows soon. Default 1 min. */
  negativeTtlMs?: number;
}

/**
 * Identities by platform user key: answers cached (failures briefly), one look-up at a time per
 * user, and the users seen with each account, most recent last, bounded like the cache.
 */
export class IdentityCache {
  private readonly cache: TtlCache<Identity>;
  private readonly inFlight = new Map<string, Promise<Identity>>();
  private readonly users = new Map<string, Set<string>>();

  constructor(private readonly options: { clock: Clock; maxEntries?: number; ttlMs?: number; negativeTtlMs?: number }) {
    this.cache = new TtlCache({ clock: options.clock, maxEntries: options.maxEntries ?? 10_000 });
  }

  /** A cache following a platform's identity rules. */
  static forRules(rules: CacheRules, options: { clock: Clock; maxEntries?: number | undefined }): IdentityCache {
    return new IdentityCache({ clock: options.clock, maxEntries: options.maxEntries ?? 10_000, ttlMs: rules.cacheTtlMs, negativeTtlMs: rules.negativeTtlMs });
  }

  /** The cached identity of `key`, the look-up already running for it, or `lookUp()` (whose answer is remembered). */
  resolve(key: string, lookUp: () => Promise<Identity>): Promise<Identity> {
    const cached = this.cache.get(key);
    if (cached) return Promise.resolve(cached);
    const running = this.inFlight.get(key);
    if (running) return running;
    // Transient failures (lookUp throws) are not remembered: the next command asks again.
    const pending = lookUp()
      .then((identity) => this.remember(key, identity))
      .finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, pending);
    return pending;
  }

  /** Platform users known to hold this account (most recent last). */
  usersOf(account: string): string[] {
    return [...(this.users.get(account) ?? [])];
  }

  private remember(key: string, identity: Identity): Identity {
    this.cache.set(key, identity, identity.ok ? (this.options.ttlMs ?? 3_600_000) : (this.options.negativeTtlMs ?? 60_000));
    if (identity.ok) {
      const users = this.users.get(identity.account) ?? new Set<string>();
      users.delete(key);
      users.add(key);
      this.users.delete(identity.account);
      this.users.set(identity.account, users);
      // Bounded like the cache: forget the accounts seen longest ago.
      while (this.users.size > (this.options.maxEntries ?? 10_000)) {
        const oldest = this.users.keys().next();
        if (oldest.done) break;
        this.users.delete(oldest.value);
      }
    }
    return identity;
  }
}

/**
 * What every platform's user mapper shares: the administrator's explicit map, keyed the way the
 * platform compares keys, and the cache of answers with the way back from an account to its users.
 */
export abstract class PlatformUserMapper {
  /** Answers by platform user key, and the user keys of each account. */
  protected readonly identities: IdentityCache;
  protected readonly map: Map<string, string>;

  protected constructor(rules: CacheRules & { map?: Readonly<Record<string, string>> | undefined }, options: { clock: Clock; maxEntries?: number | undefined }, keyOf: (key: string) => string) {
    this.identities = IdentityCache.forRules(rules, options);
    this.map = explicitMap(rules.map, keyOf);
  }

  /** Platform user keys known to hold this account (most recent last). */
  usersOf(account: string): string[] {
    return this.identities.usersOf(account);
  }
}
