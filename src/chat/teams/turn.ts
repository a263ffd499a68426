/**
 * What one incoming Teams activity means to the bot: who sent it, from where, whether it is a
 * personal chat, and the command typed in it (mentions and markup removed).
 */
import type { Activity } from '@microsoft/agents-activity';
import type { ConnectorClient, TurnContext } from '@microsoft/agents-hosting';
import type { Reply } from '../reply.ts';
import type { TeamsConversationReference } from './conversation-store.ts';
import { userKeyOf, type TeamsUser } from './user-mapper.ts';

/** What one incoming activity needs for answering it later, after the SDK's turn has ended. */
export interface Turn {
  activity: Activity;
  client: ConnectorClient;
  reference: TeamsConversationReference;
  user: TeamsUser;
  userKey: string;
  tenant: string;
  personal: boolean;
  /** The conversation whose members the user is looked up in (the team, for channels). */
  rosterId: string;
}

/** The parts of an activity the bot needs; undefined (ignored) when they are missing. */
export function turnOf(context: TurnContext, client: ConnectorClient): Turn | undefined {
  const activity = context.activity;
  const from = activity.from;
  const recipient = activity.recipient;
  const conversation = activity.conversation;
  if (!from?.id || !recipient?.id || !conversation?.id || !activity.serviceUrl) return undefined;
  const channelData = (activity.channelData ?? {}) as { tenant?: { id?: unknown }; team?: { id?: unknown } };
  const tenant = String(conversation.tenantId ?? channelData.tenant?.id ?? '');
  const user: TeamsUser = { id: from.id, ...(from.aadObjectId ? { aadObjectId: from.aadObjectId } : {}), ...(from.name ? { name: from.name } : {}) };
  const personal = conversation.conversationType === 'personal' || (!conversation.conversationType && !conversation.isGroup);
  return {
    activity,
    client,
    user,
    userKey: userKeyOf(user),
    tenant,
    personal,
    rosterId: typeof channelData.team?.id === 'string' ? channelData.team.id : conversation.id,
    reference: {
      serviceUrl: activity.serviceUrl,
      channelId: activity.channelId ?? 'msteams',
      conversation: {
        id: conversation.id,
        ...(conversation.conversationType ? { conversationType: conversation.conversationType } : {}),
        ...(tenant ? { tenantId: tenant } : {}),
        ...(conversation.isGroup !== undefined ? { isGroup: conversation.isGroup } : {}),
      },
      user,
      agent: { id: recipient.id, ...(recipient.name ? { name: recipient.name } : {}) },
      ...(activity.locale ? { locale: activity.locale } : {}),
    },
  };
}

/**
 * The command in a message: mentions of the bot and other markup removed, entities decoded, an
 * optional leading `/daaas` dropped. Outside personal chats the bot answers only when mentioned.
 */
export function commandText(activity: Activity, personal: boolean): { text: string; addressed: boolean } {
  const botId = activity.recipient?.id;
  const mentions = (activity.entities ?? []).filter((e) => e.type?.toLowerCase() === 'mention') as unknown as { mentioned?: { id?: string }; text?: string }[];
  const ours = mentions.filter((m) => m.mentioned?.id === botId);
  let typed = activity.text ?? '';
  for (const mention of ours) if (mention.text) typed = typed.split(mention.text).join(' ');
  typed = typed
    .replace(/<at[^>]*>[^<]*<\/at>/gi, ' ')
    .replace(/<[^>]+>/g, ' ')
    .replace(/&nbsp;|&#160;/gi, ' ')
    .replace(/&lt;/gi, '<')
    .replace(/&gt;/gi, '>')
    .replace(/&quot;/gi, '"')
    .replace(/&#39;|&apos;/gi, "'")
    .replace(/&amp;/gi, '&')
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/^\/daaas(\s+|$)/i, '')
    .trim();
  return { text: typed, addressed: personal || ours.length > 0 };
}

/** A reply as one short paragraph: what an invoke message response shows. */
export function plainText(answer: Reply): string {
  const texts = answer.blocks.flatMap((b) => (b.type === 'text' ? [b.text] : []));
  return [answer.title, ...texts].join(' ').replace(/\s+/g, ' ').trim();
}
