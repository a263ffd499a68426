import type { Clock } from '../../ports/clock.ts';
import type { Logger } from '../../ports/logger.ts';
import { reply, text, type Reply } from '../reply.ts';
import { TtlCache } from './ttl-cache.ts';

/**
 * How Slack users become facility accounts. The explicit map is checked first (by Slack user
 * id or by e-mail address); then the rule turns the user's Slack e-mail address into an account.
 */
export interface IdentityRules {
  /**
   * `email-local-part`: jane.doe@facility.example → jane.doe; `email`: the whole address;
   * `map-only`: only users in `map` are known.
   */
  rule: 'email-local-part' | 'email' | 'map-only';
  /** Only addresses at these domains (or their subdomains) are mapped; empty or absent: any. */
  domains?: readonly string[];
  /** Slack user id (U…/W…) or e-mail address → facility account. */
  map?: Readonly<Record<string, string>>;
  /** Who to ask when someone cannot be mapped, e.g. "the DAaaS team (daaas@facility.example)". */
  contact: string;
  /** How long a mapping is trusted before Slack is asked again. Default 1 h. */
  cacheTtlMs?: number;
  /** How long a failed mapping is remembered, so a fix by an admin shows soon. Default 1 min. */
  negativeTtlMs?: number;
}

/** What Slack says about a user (users.info), reduced to what mapping needs. */
export interface SlackProfile {
  email?: string;
  deleted?: boolean;
  isBot?: boolean;
}

export type Identity = { ok: true; account: string } | { ok: false; reason: string };

export interface UserMapperOptions {
  rules: IdentityRules;
  /** users.info; resolves undefined when Slack does not know the user. Throws on transient failures. */
  lookup: (slackUserId: string) => Promise<SlackProfile | undefined>;
  clock: Clock;
  log: Logger;
  maxEntries?: number;
}

/** Facility account names the bot accepts from an e-mail address (also safe in connection templates). */
const ACCOUNT = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const EMAIL_ACCOUNT = /^[a-z0-9][a-z0-9._+-]{0,63}@[a-z0-9.-]{1,190}$/;

/** Maps Slack users to facility accounts, caching the answers, and remembers the way back. */
export class UserMapper {
  private readonly cache: TtlCache<Identity>;
  private readonly inFlight = new Map<string, Promise<Identity>>();
  /** account → Slack users seen with it: who to tell when that account's leases change. */
  private readonly slackUsers = new Map<string, Set<string>>();
  private readonly map: Map<string, string>;

  constructor(private readonly o: UserMapperOptions) {
    this.cache = new TtlCache({ clock: o.clock, maxEntries: o.maxEntries ?? 10_000 });
    this.map = new Map(Object.entries(o.rules.map ?? {}).map(([k, v]) => [k.startsWith('U') || k.startsWith('W') ? k : k.toLowerCase(), v.toLowerCase()]));
  }

  /** The facility account of a Slack user, or why there is none. */
  async resolve(slackUserId: string): Promise<Identity> {
    const cached = this.cache.get(slackUserId);
    if (cached) return cached;
    const running = this.inFlight.get(slackUserId);
    if (running) return running;
    const lookup = this.lookUp(slackUserId).finally(() => this.inFlight.delete(slackUserId));
    this.inFlight.set(slackUserId, lookup);
    return lookup;
  }

  /** Slack users known to hold this account (most recent last). */
  slackUsersOf(account: string): string[] {
    return [...(this.slackUsers.get(account) ?? [])];
  }

  /** The answer for someone who cannot be mapped: what went wrong and whom to ask. */
  unmappedReply(slackUserId: string, reason: string): Reply {
    return reply(
      'error',
      'Your Slack account is not linked to a facility account, so the bot cannot act for you.',
      text(`${reason}\nAsk ${this.o.rules.contact} to link your Slack user ${slackUserId} to your facility account.`),
    );
  }

  private async lookUp(slackUserId: string): Promise<Identity> {
    const explicit = this.map.get(slackUserId);
    if (explicit) return this.remember(slackUserId, { ok: true, account: explicit });
    // Transient failures (network, Slack down) are not cached: the next command asks again.
    const profile = await this.o.lookup(slackUserId);
    const identity = this.fromProfile(profile);
    if (!identity.ok) this.o.log.info({ slackUser: slackUserId, reason: identity.reason }, 'Slack user not mapped to an account');
    return this.remember(slackUserId, identity);
  }

  private fromProfile(profile: SlackProfile | undefined): Identity {
    if (!profile) return { ok: false, reason: 'Slack does not know your user.' };
    if (profile.deleted) return { ok: false, reason: 'Your Slack account is deactivated.' };
    if (profile.isBot) return { ok: false, reason: 'Bots cannot use the bot.' };
    const email = profile.email?.trim().toLowerCase();
    if (email) {
      const mapped = this.map.get(email);
      if (mapped) return { ok: true, account: mapped };
    }
    const { rules } = this.o;
    if (rules.rule === 'map-only') return { ok: false, reason: 'Your Slack account is not in the bot’s list of users.' };
    if (!email) return { ok: false, reason: 'Slack did not share an e-mail address for you with the bot.' };
    const at = email.lastIndexOf('@');
    const local = email.slice(0, at);
    const domain = email.slice(at + 1);
    const domains = (rules.domains ?? []).map((d) => d.toLowerCase());
    if (at <= 0) return { ok: false, reason: `Your Slack e-mail address (${email}) is not one the bot can read.` };
    if (domains.length > 0 && !domains.some((d) => domain === d || domain.endsWith(`.${d}`))) {
      return { ok: false, reason: `Your Slack e-mail address (${email}) is not at ${domains.length === 1 ? 'the facility’s domain' : 'one of the facility’s domains'} (${domains.join(', ')}).` };
    }
    const account = rules.rule === 'email' ? email : local;
    if (!(rules.rule === 'email' ? EMAIL_ACCOUNT : ACCOUNT).test(account)) {
      return { ok: false, reason: `Your Slack e-mail address (${email}) does not give a facility account name the bot can use.` };
    }
    return { ok: true, account };
  }

  private remember(slackUserId: string, identity: Identity): Identity {
    const ttl = identity.ok ? (this.o.rules.cacheTtlMs ?? 3_600_000) : (this.o.rules.negativeTtlMs ?? 60_000);
    this.cache.set(slackUserId, identity, ttl);
    if (identity.ok) {
      const users = this.slackUsers.get(identity.account) ?? new Set<string>();
      users.delete(slackUserId);
      users.add(slackUserId);
      this.slackUsers.delete(identity.account);
      this.slackUsers.set(identity.account, users);
      // Bounded like the cache: forget the accounts seen longest ago.
      while (this.slackUsers.size > (this.o.maxEntries ?? 10_000)) {
        const oldest = this.slackUsers.keys().next();
        if (oldest.done) break;
        this.slackUsers.delete(oldest.value);
      }
    }
    return identity;
  }
}
