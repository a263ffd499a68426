import type { Clock } from '../../ports/clock.ts';
import type { Logger } from '../../ports/logger.ts';
import type { Identified } from '../inbound.ts';
import { reply, text } from '../reply.ts';
import type { ConversationReferenceStore } from './conversation-store.ts';
import { connectorStatus, type TeamsOutboundQueue } from './outbound-queue.ts';
import { isPersonal } from './personal-chat.ts';
import type { ServiceUrlPolicy } from './service-urls.ts';
import type { Turn } from './turn.ts';
import { TeamsUserMapper, type TeamsIdentityRules, type TeamsMember } from './user-mapper.ts';

/** How stale the stored "last talked to the bot" may get before an unchanged reference is written again. */
const REMEMBERED_FOR_MS = 3_600_000;

export interface TeamsUserLookupOptions {
  rules: TeamsIdentityRules;
  /** Maps the bot's own tenant's users (shared with proactive delivery, which finds users by account). */
  mapper: TeamsUserMapper;
  /** Tenants whose users may use the bot; undefined: any. Lower case. */
  tenants: ReadonlySet<string> | undefined;
  /** Where users can be reached later: their conversation is stored once they are identified. */
  references: ConversationReferenceStore;
  /** Member look-ups go through the outbound queue. */
  queue: TeamsOutboundQueue;
  serviceUrls: ServiceUrlPolicy;
  clock: Clock;
  log: Logger;
}

/**
 * Who a Teams user is: the user look-up the inbound pipeline identifies Teams users with. Users
 * of other tenants are refused; members of another organisation's directory are mapped only by
 * the explicit map, and only with `allowGuests`. An identified user's conversation is remembered
 * for reminders. Throws when the connector does not answer.
 */
export class TeamsUserLookup {
  /** Foreign-tenant members with `allowGuests`: only the explicit map, never the rule. */
  private readonly guestMapper: TeamsUserMapper;

  constructor(private readonly options: TeamsUserLookupOptions) {
    this.guestMapper = new TeamsUserMapper({ rules: { ...options.rules, rule: 'map-only' }, clock: options.clock, log: options.log });
  }

  async identify(turn: Turn): Promise<Identified> {
    const { tenants, mapper, log } = this.options;
    if (tenants && !tenants.has(turn.tenant.toLowerCase())) {
      log.warn({ tenant: turn.tenant, teamsUser: turn.user.id }, 'Teams request from another tenant refused');
      return { ok: false, reply: reply('error', 'This bot serves only its own organisation’s Teams.', text('Nothing was done. Ask the DAaaS team if you think you should have access.')) };
    }
    let identity;
    try {
      identity = await mapper.resolve(turn.user, () => this.lookUpMember(turn));
    } catch (error) {
      if (!(error instanceof ForeignMember)) throw error;
      const foreign = await this.foreignIdentity(turn, error.member);
      if (!foreign.ok) return foreign;
      identity = foreign;
    }
    if (!identity.ok) return { ok: false, reply: mapper.unmappedReply(turn.user, identity.reason) };
    await this.remember(turn, identity.account);
    return identity;
  }

  /** The member as the connector knows them; a member of another tenant's directory is thrown as ForeignMember. */
  private async lookUpMember(turn: Turn): Promise<TeamsMember | undefined> {
    let member: TeamsMember;
    try {
      member = (await this.options.queue.push({
        kind: 'member lookup',
        tenant: turn.tenant,
        urgent: true,
        run: () => turn.client.getConversationMember(encodeURIComponent(turn.user.id), encodeURIComponent(turn.rosterId)),
      })) as TeamsMember;
    } catch (error) {
      if (connectorStatus(error) === 404) return undefined;
      throw error;
    }
    const { tenants } = this.options;
    if (tenants && member?.tenantId && !tenants.has(member.tenantId.toLowerCase())) throw new ForeignMember(member);
    return member;
  }

  /**
   * A member of another organisation's directory (in a shared channel, say): never mapped by the
   * address rule (their address says nothing about facility accounts); with `allowGuests`, by the
   * explicit map only. Not cached as a refusal: the look-up is asked again on their next message.
   */
  private async foreignIdentity(turn: Turn, member: TeamsMember): Promise<Identified> {
    const { rules } = this.options;
    this.options.log.warn({ memberTenant: member.tenantId, teamsUser: turn.user.id, aadObjectId: turn.user.aadObjectId, allowGuests: Boolean(rules.allowGuests) }, 'Teams member from another tenant');
    if (!rules.allowGuests) {
      return { ok: false, reply: reply('error', 'This bot serves only its own organisation’s Teams.', text(`You are signed in from another organisation’s directory, so nothing was done. Ask ${rules.contact} if you think you should have access.`)) };
    }
    const identity = await this.guestMapper.resolve(turn.user, async () => member);
    if (identity.ok) return identity;
    return { ok: false, reply: this.options.mapper.unmappedReply(turn.user, 'You are signed in from another organisation’s directory; such users are linked to facility accounts only by hand.') };
  }

  /**
   * Stores where the user can be reached. A personal chat is preferred: a channel never replaces
   * it, unless the personal chat was found unreachable (then the channel is the way to open a new one).
   */
  private async remember(turn: Turn, account: string): Promise<void> {
    const { references, serviceUrls } = this.options;
    try {
      const existing = await references.get(turn.userKey);
      const keepPersonal = !turn.personal && existing && isPersonal(existing.reference) && !existing.unreachable && serviceUrls.allows(existing.reference.serviceUrl);
      const reference = keepPersonal ? existing.reference : turn.reference;
      const now = this.options.clock.now();
      // Nothing changed (and noted within the hour): not written again. In the SQLite store every
      // write is a commit to disk, which would otherwise come with every message a user sends.
      if (existing && !existing.unreachable && existing.account === account && now - existing.updatedAt < REMEMBERED_FOR_MS && JSON.stringify(existing.reference) === JSON.stringify(reference)) return;
      await references.put(turn.userKey, { reference, account, updatedAt: now });
    } catch (error) {
      this.options.log.error({ err: error, teamsUser: turn.user.id }, 'could not store the Teams conversation reference; reminders may not reach this user');
    }
  }
}

/** The connector's member look-up found a user of another tenant's directory. */
class ForeignMember extends Error {
  constructor(readonly member: TeamsMember) {
    super(`Teams member of tenant ${member.tenantId}`);
  }
}
