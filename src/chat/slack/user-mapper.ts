import type { Clock } from '../../ports/clock.ts';
import type { Logger } from '../../ports/logger.ts';
import { reply, text, type Reply } from '../reply.ts';
import { accountFromAddress, mappedAccount, PlatformUserMapper, type Identity } from '../identity.ts';

/**
 * How Slack users become facility accounts. The explicit map is checked first (by Slack user
 * id or by e-mail address); then the rule turns the user's Slack e-mail address into an account.
 * Guests, bots, deactivated users and users of other workspaces become accounts only through
 * their Slack user id in the map: their e-mail addresses are not the facility's to vouch for.
 */
export interface SlackIdentityRules {
  /**
   * `email-local-part`: jane.doe@facility.example → jane.doe; `map-only`: only users in `map`
   * are known. (A whole address is never an account: it is not an account name.)
   */
  rule: 'email-local-part' | 'map-only';
  /**
   * Only addresses at these domains (or their subdomains) are mapped; empty or absent: any. The
   * bot's configuration requires them with `email-local-part` whenever Slack is in use.
   */
  domains?: readonly string[];
  /** Slack user id (U…/W…, exactly as Slack writes it) or e-mail address (any case) → facility account. */
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
  /** A bot user or a workflow bot. */
  isBot?: boolean;
  /** A multi-channel guest (`is_restricted`). */
  restricted?: boolean;
  /** A single-channel guest (`is_ultra_restricted`). */
  ultraRestricted?: boolean;
  /** The user's workspace (`team_id`). */
  teamId?: string;
  /** The user's Enterprise Grid organisation (`enterprise_user.enterprise_id`), if any. */
  enterpriseId?: string;
}

/** The workspace the bot is installed in, as auth.test reports it. */
export interface SlackWorkspace {
  teamId: string;
  /** The Enterprise Grid organisation, if the workspace belongs to one: its users are the bot's too. */
  enterpriseId?: string;
}

export type { Identity };

export interface SlackUserMapperOptions {
  rules: SlackIdentityRules;
  /** users.info; resolves undefined when Slack does not know the user. Throws on transient failures. */
  lookup: (slackUserId: string) => Promise<SlackProfile | undefined>;
  /** The installing workspace; undefined until the bot has asked Slack (then nobody maps by address). */
  workspace: () => SlackWorkspace | undefined;
  clock: Clock;
  log: Logger;
  maxEntries?: number;
}

/** Slack user ids are upper case and case-sensitive; every other key (an address) is not. */
const SLACK_USER_ID = /^[UW][A-Z0-9]+$/;

export function mapKey(key: string): string {
  const k = key.trim();
  return SLACK_USER_ID.test(k) ? k : k.toLowerCase();
}

/** Maps Slack users to facility accounts, caching the answers, and remembers the way back. */
export class SlackUserMapper extends PlatformUserMapper {
  constructor(private readonly options: SlackUserMapperOptions) {
    super(options.rules, options, mapKey);
  }

  /** The facility account of a Slack user, or why there is none. */
  resolve(slackUserId: string): Promise<Identity> {
    return this.identities.resolve(slackUserId, () => this.lookUp(slackUserId));
  }

  /** Slack users known to hold this account (most recent last): whose Home to refresh. */
  slackUsersOf(account: string): string[] {
    return this.usersOf(account);
  }

  /** The answer for someone who cannot be mapped: what went wrong and whom to ask. */
  unmappedReply(slackUserId: string, reason: string): Reply {
    return reply(
      'error',
      'Your Slack account is not linked to a facility account, so the bot cannot act for you.',
      text(`${reason}\nAsk ${this.options.rules.contact} to link your Slack user ${slackUserId} to your facility account.`),
    );
  }

  private async lookUp(slackUserId: string): Promise<Identity> {
    const explicit = this.map.get(slackUserId);
    if (explicit !== undefined) return mappedAccount(explicit);
    const profile = await this.options.lookup(slackUserId);
    const identity = this.fromProfile(profile);
    if (!identity.ok) this.options.log.info({ slackUser: slackUserId, reason: identity.reason }, 'Slack user not mapped to an account');
    return identity;
  }

  private fromProfile(profile: SlackProfile | undefined): Identity {
    if (!profile) return { ok: false, reason: 'Slack does not know your user.' };
    if (profile.deleted) return { ok: false, reason: 'Your Slack account is deactivated.' };
    if (profile.isBot) return { ok: false, reason: 'Bots and apps cannot act for a facility account.' };
    if (profile.restricted || profile.ultraRestricted) return { ok: false, reason: 'You are a guest in this Slack workspace; guests are linked to facility accounts only by hand.' };
    const workspace = this.options.workspace();
    // Not remembered (thrown, not answered): the bot learns its workspace when it starts.
    if (!workspace) throw new Error('the bot does not know its Slack workspace yet');
    if (!inWorkspace(profile, workspace)) return { ok: false, reason: 'Your Slack account belongs to another workspace than the one the bot is installed in; such users are linked to facility accounts only by hand.' };
    const email = profile.email?.trim().toLowerCase();
    if (email) {
      const mapped = this.map.get(email);
      if (mapped !== undefined) return mappedAccount(mapped);
    }
    const { rules } = this.options;
    if (rules.rule === 'map-only') return { ok: false, reason: 'Your Slack account is not in the bot’s list of users.' };
    if (!email) return { ok: false, reason: 'Slack did not share an e-mail address for you with the bot.' };
    return accountFromAddress(email, { domains: rules.domains ?? [], what: 'Your Slack e-mail address' });
  }
}

/**
 * A user of the installing workspace, or of its Enterprise Grid organisation (whose users may
 * report the organisation as their team). Users of other workspaces in shared channels are not.
 */
function inWorkspace(profile: SlackProfile, workspace: SlackWorkspace): boolean {
  if (profile.teamId !== undefined && profile.teamId === workspace.teamId) return true;
  const org = workspace.enterpriseId;
  return org !== undefined && (profile.enterpriseId === org || profile.teamId === org);
}
