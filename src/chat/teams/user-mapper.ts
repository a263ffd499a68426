import type { Clock } from '../../ports/clock.ts';
import type { Logger } from '../../ports/logger.ts';
import { reply, text, type Reply } from '../reply.ts';
import { accountFromAddress, mappedAccount, PlatformUserMapper, type Identity } from '../identity.ts';

/**
 * How Teams users become facility accounts. The explicit map is checked first (by Entra object
 * id, Teams user id or UPN/e-mail address); then the rule turns the user's UPN or e-mail address,
 * as the Bot Connector reports it, into an account.
 */
export interface TeamsIdentityRules {
  /**
   * `upn-local-part` (default): jane.doe@facility.example → jane.doe, from the UPN (the e-mail
   * address when there is no UPN); `email-local-part`: the same from the e-mail address first;
   * `map-only`: only users in `map` are known. (A whole address is never an account: it is not
   * an account name.)
   */
  rule?: 'upn-local-part' | 'email-local-part' | 'map-only';
  /**
   * Only addresses at these domains (or their subdomains) are mapped; empty or absent: any. The
   * bot's configuration requires them with an address rule whenever Teams is in use.
   */
  domains?: readonly string[];
  /** Entra object id, Teams user id (29:…, exactly as written), UPN or e-mail address (any case) → facility account. */
  map?: Readonly<Record<string, string>>;
  /** Who to ask when someone cannot be mapped, e.g. "the DAaaS team (daaas@facility.example)". */
  contact: string;
  /** Guests from other directories are refused unless mapped explicitly; true maps them by the rule too. */
  allowGuests?: boolean;
  /** How long a mapping is trusted before the connector is asked again. Default 1 h. */
  cacheTtlMs?: number;
  /** How long a failed mapping is remembered, so a fix by an admin shows soon. Default 1 min. */
  negativeTtlMs?: number;
}

/** The user as an activity names them. */
export interface TeamsUser {
  /** `29:…`: the user in this bot's conversations. */
  id: string;
  /** The Entra object id. */
  aadObjectId?: string;
  name?: string;
}

/** What the connector's member look-up (GET /v3/conversations/{id}/members/{userId}) says. */
export interface TeamsMember {
  id?: string;
  aadObjectId?: string;
  userPrincipalName?: string;
  email?: string;
  name?: string;
  /** `user`, `guest`, … */
  userRole?: string;
  tenantId?: string;
}

export type { Identity };

export interface TeamsUserMapperOptions {
  rules: TeamsIdentityRules;
  clock: Clock;
  log: Logger;
  maxEntries?: number;
}

/** The key a Teams user is known by: the Entra object id, stable across conversations. */
export function userKeyOf(user: TeamsUser): string {
  return user.aadObjectId ? user.aadObjectId.toLowerCase() : user.id;
}

/** Maps Teams users to facility accounts, caching the answers, and remembers the way back. */
export class TeamsUserMapper extends PlatformUserMapper {
  constructor(private readonly options: TeamsUserMapperOptions) {
    super(options.rules, options, mapKey);
  }

  /**
   * The facility account of a Teams user, or why there is none. `lookup` asks the connector for
   * the member's UPN and e-mail; it resolves undefined when the connector does not know the user
   * and throws on transient failures (which are not cached).
   */
  resolve(user: TeamsUser, lookup: () => Promise<TeamsMember | undefined>): Promise<Identity> {
    return this.identities.resolve(userKeyOf(user), () => this.lookUp(user, lookup));
  }

  /** User keys known to hold this account (most recent last). */
  userKeysOf(account: string): string[] {
    return this.usersOf(account);
  }

  /** The answer for someone who cannot be mapped: what went wrong and whom to ask. */
  unmappedReply(user: TeamsUser, reason: string): Reply {
    const who = user.aadObjectId ? `Entra object id ${user.aadObjectId}` : `Teams user ${user.id}`;
    return reply(
      'error',
      'Your Teams account is not linked to a facility account, so the bot cannot act for you.',
      text(`${reason}\nAsk ${this.options.rules.contact} to link your account (${who}) to your facility account.`),
    );
  }

  private async lookUp(user: TeamsUser, lookup: () => Promise<TeamsMember | undefined>): Promise<Identity> {
    const explicit = (user.aadObjectId !== undefined ? this.map.get(mapKey(user.aadObjectId)) : undefined) ?? this.map.get(mapKey(user.id));
    if (explicit !== undefined) return mappedAccount(explicit);
    const member = await lookup();
    const identity = this.fromMember(member);
    if (!identity.ok) this.options.log.info({ teamsUser: user.id, aadObjectId: user.aadObjectId, reason: identity.reason }, 'Teams user not mapped to an account');
    return identity;
  }

  private fromMember(member: TeamsMember | undefined): Identity {
    if (!member) return { ok: false, reason: 'Teams does not know your user in this conversation.' };
    const upn = member.userPrincipalName?.trim().toLowerCase() || undefined;
    const email = member.email?.trim().toLowerCase() || undefined;
    for (const address of [upn, email]) {
      const mapped = address ? this.map.get(address) : undefined;
      if (mapped !== undefined) return mappedAccount(mapped);
    }
    if (member.aadObjectId) {
      const mapped = this.map.get(mapKey(member.aadObjectId));
      if (mapped !== undefined) return mappedAccount(mapped);
    }
    const rules = this.options.rules;
    const rule = rules.rule ?? 'upn-local-part';
    if (rule === 'map-only') return { ok: false, reason: 'Your Teams account is not in the bot’s list of users.' };
    const guest = member.userRole?.toLowerCase() === 'guest' || (upn?.includes('#ext#') ?? false);
    if (guest && !rules.allowGuests) return { ok: false, reason: 'You are a guest in this organisation’s Teams; guests are linked to facility accounts only by hand.' };
    const address = rule.startsWith('email') ? (email ?? upn) : (upn ?? email);
    if (!address) return { ok: false, reason: 'Teams did not share your user principal name or e-mail address with the bot.' };
    return accountFromAddress(address, { domains: rules.domains ?? [], what: 'Your Teams address' });
  }

}

/** Teams user ids (29:…) are case-sensitive; object ids and addresses are not. */
export function mapKey(key: string): string {
  const k = key.trim();
  return /^\d+:/.test(k) ? k : k.toLowerCase();
}
