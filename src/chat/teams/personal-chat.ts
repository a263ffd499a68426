import { Activity, type ConversationParameters } from '@microsoft/agents-activity';
import type { CloudAdapter, ConnectorClient } from '@microsoft/agents-hosting';
import type { Clock } from '../../ports/clock.ts';
import type { Logger } from '../../ports/logger.ts';
import { UndeliverableError, type Recipient } from '../../ports/notifier.ts';
import type { Reply } from '../reply.ts';
import type { ConversationReferenceStore, StoredConversation, TeamsConversationReference } from './conversation-store.ts';
import { connectorErrorCode, connectorStatus, type TeamsOutboundQueue } from './outbound-queue.ts';
import { ADAPTIVE_CARD, renderCard, type RenderedCard } from './render-card.ts';
import type { ServiceUrlPolicy } from './service-urls.ts';
import type { TeamsAuth } from './teams-auth.ts';

export interface PersonalChatOptions {
  adapter: CloudAdapter;
  auth: TeamsAuth;
  references: ConversationReferenceStore;
  queue: TeamsOutboundQueue;
  /** Only references whose service URL this allows are used. */
  serviceUrls: ServiceUrlPolicy;
  /** The user keys known to hold an account (most recent last). */
  userKeysOf: (account: string) => string[];
  clock: Clock;
  log: Logger;
}

/**
 * What the bot sends a Teams user on its own (reminders, teardown notices, and the details of
 * answers asked for in a channel): a card in their personal chat with the bot.
 */
export class TeamsPersonalChat {
  constructor(private readonly options: PersonalChatOptions) {}

  /**
   * A card in the user's personal chat, through the reference stored when they last talked to
   * the bot (opening the personal chat first if they only ever talked in a channel). A user who
   * removed or blocked the app is marked unreachable and not tried again until they talk to the
   * bot again. A reference naming a service URL off the allow-list is never used. Each of these
   * is thrown as UndeliverableError: the outbox does not try that message again.
   */
  async send(to: Recipient, messageToSend: Reply): Promise<void> {
    const channel = placeReference(to.conversation);
    if (channel) return this.sendToPlace(channel, messageToSend);
    const found = await this.referenceFor(to);
    if ('refused' in found) {
      throw new UndeliverableError(`the Teams conversation stored for ${to.user} names a service URL the bot does not send to (${found.refused}); it is not used until they message the bot again (not sent: ${messageToSend.title})`);
    }
    if (!found.entry) throw new UndeliverableError(`no Teams conversation is known for ${to.user}: they have to message the bot in Teams once before it can reach them (not sent: ${messageToSend.title})`);
    const { key, entry } = found;
    if (entry.unreachable) {
      throw new UndeliverableError(`${to.user} removed or blocked the bot in Teams (${entry.unreachable.reason}); nothing is sent until they message it again (not sent: ${messageToSend.title})`);
    }
    const rendered = renderCard(messageToSend, { now: this.options.clock.now(), owner: to.user });
    try {
      await this.continueConversation(entry.reference, async (client) => {
        const reference = isPersonal(entry.reference) ? entry.reference : await this.openPersonalChat(client, key, entry);
        const activity = messageTo(reference, rendered);
        await this.options.queue.push({
          kind: 'proactive',
          conversation: reference.conversation.id,
          tenant: tenantOfReference(reference),
          run: () => client.sendToConversation(encodeURIComponent(reference.conversation.id), activity),
        });
      });
    } catch (error) {
      const status = connectorStatus(error);
      const code = connectorErrorCode(error);
      if (isGone(status, code)) {
        const reason = code ?? `HTTP ${status}`;
        await (async () => this.options.references.markUnreachable(key, reason, this.options.clock.now()))().catch((e: unknown) => this.options.log.error({ err: e }, 'could not record an unreachable Teams user'));
        this.options.log.warn(
          { account: to.user, teamsUser: entry.reference.user.id, aadObjectId: entry.reference.user.aadObjectId, status, code, forAdmins: true },
          'Teams user removed or blocked the bot: marked unreachable; their reminders stop until they message the bot again',
        );
        throw new UndeliverableError(`${to.user} cannot be reached in Teams (${reason}): they removed or blocked the bot`, { cause: error });
      }
      this.options.log.warn({ err: error, account: to.user, status, code }, 'Teams did not deliver a direct message');
      throw new Error(`Teams did not deliver the message to ${to.user}${status ? ` (HTTP ${status}${code ? ` ${code}` : ''})` : ''}`, { cause: error });
    }
  }

  /**
   * A new post in a conversation kept as a place (`admin alerts here` in a channel or group
   * chat): never through a service URL off the allow-list; a conversation the bot was removed
   * from is refused for good.
   */
  private async sendToPlace(reference: TeamsConversationReference, messageToSend: Reply): Promise<void> {
    const notAllowed = this.options.serviceUrls.refusal(reference.serviceUrl);
    if (notAllowed) throw new UndeliverableError(`the Teams conversation kept for alerts names a service URL the bot does not send to (${notAllowed}) (not sent: ${messageToSend.title})`);
    const rendered = renderCard(messageToSend, { now: this.options.clock.now() });
    try {
      await this.continueConversation(reference, async (client) => {
        await this.options.queue.push({
          kind: 'proactive',
          conversation: reference.conversation.id,
          tenant: tenantOfReference(reference),
          run: () => client.sendToConversation(encodeURIComponent(reference.conversation.id), messageTo(reference, rendered)),
        });
      });
    } catch (error) {
      const status = connectorStatus(error);
      const code = connectorErrorCode(error);
      if (isGone(status, code)) throw new UndeliverableError(`the Teams conversation kept for alerts does not take the bot's messages any more (${code ?? `HTTP ${status}`}): say admin alerts here where they should go`, { cause: error });
      this.options.log.warn({ err: error, conversation: reference.conversation.id, status, code }, 'Teams did not deliver a message to a conversation');
      throw new Error(`Teams did not deliver the message to the conversation kept for alerts${status ? ` (HTTP ${status}${code ? ` ${code}` : ''})` : ''}`, { cause: error });
    }
  }

  private async referenceFor(to: Recipient): Promise<{ key: string; entry: StoredConversation } | { key?: undefined; entry?: undefined } | { refused: string }> {
    // The lease's conversation is the user key it was claimed with; the user's other Teams identities are tried after.
    const keys = [to.conversation, ...this.options.userKeysOf(to.user).reverse()];
    let refused: string | undefined;
    for (const key of new Set(keys)) {
      const entry = await this.options.references.get(key);
      if (!entry) continue;
      // A reference names a Teams user; if that user now maps to someone else, it is not theirs to receive.
      if (entry.account !== to.user) {
        this.options.log.warn({ account: to.user, storedFor: entry.account }, 'Teams conversation reference belongs to another account; not used');
        continue;
      }
      // The bot's Bot Connector token goes with every call: never to a host off the allow-list.
      const notAllowed = this.options.serviceUrls.refusal(entry.reference.serviceUrl);
      if (notAllowed) {
        refused ??= notAllowed;
        this.options.log.warn({ account: to.user, reason: notAllowed, forAdmins: true }, 'stored Teams conversation reference names a service URL that is not allowed; not used');
        continue;
      }
      return { key, entry };
    }
    return refused ? { refused } : {};
  }

  private async continueConversation(reference: TeamsConversationReference, logic: (client: ConnectorClient) => Promise<void>): Promise<void> {
    const { auth } = this.options;
    // Anonymously there is no app id to act as: an identity without an audience gives an unauthenticated connector client.
    const identity: Parameters<CloudAdapter['continueConversation']>[0] = auth.mode === 'production' ? auth.clientId : {};
    let failure: { error: unknown } | undefined;
    // The SDK hands errors inside the turn to onTurnError; they are carried out here instead.
    await this.options.adapter.continueConversation(
      identity,
      { serviceUrl: reference.serviceUrl, channelId: reference.channelId, conversation: reference.conversation, user: reference.user, agent: reference.agent, ...(reference.locale ? { locale: reference.locale } : {}) },
      async (context) => {
        try {
          await logic(context.turnState.get<ConnectorClient>(this.options.adapter.ConnectorClientKey));
        } catch (error) {
          failure = { error };
        }
      },
    );
    if (failure) throw failure.error;
  }

  /** The user only talked to the bot in a channel: open (or find) their personal chat with it. */
  private async openPersonalChat(client: ConnectorClient, key: string, entry: StoredConversation): Promise<TeamsConversationReference> {
    const reference = entry.reference;
    const tenantId = tenantOfReference(reference);
    // The Bot Connector names the bot `bot`; the SDK's type calls it `agent`: both are sent.
    const parameters = {
      isGroup: false,
      agent: reference.agent,
      bot: reference.agent,
      members: [{ id: reference.user.id }],
      ...(tenantId ? { tenantId, channelData: { tenant: { id: tenantId } } } : {}),
    } as unknown as ConversationParameters;
    const created = await this.options.queue.push({ kind: 'open personal chat', tenant: tenantId, run: () => client.createConversation(parameters) });
    if (!created?.id) throw new Error('Teams did not open a personal chat with the user');
    const personal: TeamsConversationReference = {
      ...reference,
      conversation: { id: created.id, conversationType: 'personal', ...(tenantId ? { tenantId } : {}) },
    };
    await this.options.references.put(key, { reference: personal, account: entry.account, updatedAt: entry.updatedAt });
    return personal;
  }
}

/** A message to the conversation of `reference`: a card or a line of plain text. */
export function messageTo(reference: TeamsConversationReference, content: RenderedCard | string, replyToId?: string): Activity {
  return Activity.fromObject({
    type: 'message',
    serviceUrl: reference.serviceUrl,
    channelId: reference.channelId,
    conversation: reference.conversation,
    from: reference.agent,
    recipient: reference.user,
    ...(replyToId ? { replyToId } : {}),
    ...(typeof content === 'string' ? { text: content, textFormat: 'plain' } : { summary: content.summary, attachments: [{ contentType: ADAPTIVE_CARD, content: content.card }] }),
  });
}

/**
 * A conversation as a place messages can be posted to later (what `admin alerts here` keeps):
 * its reference as JSON, the thread of the message left out so that each post starts its own.
 */
export function placeOf(reference: TeamsConversationReference): string {
  const { serviceUrl, channelId, conversation, user, agent } = reference;
  const id = conversation.id.replace(/;messageid=\d+$/, '');
  return JSON.stringify({ serviceUrl, channelId, conversation: { ...conversation, id }, user, agent });
}

/** The reference of a place kept by placeOf, or undefined for a recipient that is a user. */
export function placeReference(conversation: string): TeamsConversationReference | undefined {
  if (!conversation.startsWith('{')) return undefined;
  try {
    const r = JSON.parse(conversation) as TeamsConversationReference;
    return typeof r.serviceUrl === 'string' && typeof r.conversation?.id === 'string' && typeof r.agent?.id === 'string' ? r : undefined;
  } catch {
    return undefined;
  }
}

export function isPersonal(reference: TeamsConversationReference): boolean {
  return reference.conversation.conversationType === 'personal';
}

function tenantOfReference(reference: TeamsConversationReference): string {
  return reference.conversation.tenantId ?? '';
}

/** Teams will not take messages for this user any more: they removed or blocked the app, or the chat is gone. */
function isGone(status: number | undefined, code: string | undefined): boolean {
  return status === 403 || (status === 404 && code === 'ConversationNotFound');
}
