import type { Clock } from '../../ports/clock.ts';
import type { Logger } from '../../ports/logger.ts';
import { reply, text, type Reply } from '../reply.ts';
import { accountFromAddress, IdentityCache, type Identity } from '../identity.ts';

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

export type { Identity };

export interface UserMapperOptions {
  rules: IdentityRules;
  /** users.info; resolves undefined when Slack does not know the user. Throws on transient failures. */
  lookup: (slackUserId: string) => Promise<SlackProfile | undefined>;
  clock: Clock;
  log: Logger;
  maxEntries?: number;
}

/** Maps Slack users to facility accounts, caching the answers, and remembers the way back. */
export class UserMapper {
  /** Answers by Slack user, and the Slack users of each account: whose Home to refresh. */
  private readonly identities: IdentityCache;
  private readonly map: Map<string, string>;

  constructor(private readonly o: UserMapperOptions) {
    this.identities = new IdentityCache({ clock: o.clock, maxEntries: o.maxEntries ?? 10_000, ttlMs: o.rules.cacheTtlMs, negativeTtlMs: o.rules.negativeTtlMs });
    this.map = new Map(Object.entries(o.rules.map ?? {}).map(([k, v]) => [k.startsWith('U') || k.startsWith('W') ? k : k.toLowerCase(), v.toLowerCase()]));
  }

  /** The facility account of a Slack user, or why there is none. */
  resolve(slackUserId: string): Promise<Identity> {
    return this.identities.resolve(slackUserId, () => this.lookUp(slackUserId));
  }

  /** Slack users known to hold this account (most recent last). */
  slackUsersOf(account: string): string[] {
    return this.identities.usersOf(account);
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
    if (explicit) return { ok: true, account: explicit };
    const profile = await this.o.lookup(slackUserId);
    const identity = this.fromProfile(profile);
    if (!identity.ok) this.o.log.info({ slackUser: slackUserId, reason: identity.reason }, 'Slack user not mapped to an account');
    return identity;
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
    return accountFromAddress(email, { whole: rules.rule === 'email', domains: rules.domains ?? [], what: 'Your Slack e-mail address' });
  }
}
