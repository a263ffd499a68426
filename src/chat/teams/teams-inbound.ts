import { randomUUID } from 'node:crypto';
import { Activity } from '@microsoft/agents-activity';
import type { ConnectorClient, TurnContext } from '@microsoft/agents-hosting';
import type { Clock } from '../../ports/clock.ts';
import type { DeliveryLog } from '../../ports/delivery-log.ts';
import type { Logger } from '../../ports/logger.ts';
import { InboundPipeline } from '../inbound.ts';
import type { Invocation } from '../invocation.ts';
import type { Reply } from '../reply.ts';
import type { ConversationReferenceStore } from './conversation-store.ts';
import { connectorErrorCode, connectorStatus, type TeamsOutboundQueue } from './outbound-queue.ts';
import { messageTo, placeOf } from './personal-chat.ts';
import { ADAPTIVE_CARD, decodeActionData, renderCard, type RenderedCard } from './render-card.ts';
import type { ServiceUrlPolicy } from './service-urls.ts';
import { commandText, plainText, turnOf, type Turn } from './turn.ts';
import type { TeamsUserLookup } from './user-lookup.ts';

export const TEAMS_PLATFORM = 'teams';
/** A repeated invoke comes within seconds of the first; its answer is kept this long. */
const INVOKE_WINDOW_MS = 600_000;

export interface TeamsInboundOptions {
  dispatch: (invocation: Invocation) => Promise<Reply>;
  users: TeamsUserLookup;
  references: ConversationReferenceStore;
  queue: TeamsOutboundQueue;
  serviceUrls: ServiceUrlPolicy;
  /** The turn state key of the SDK's connector client. */
  connectorClientKey: symbol | string;
  /** A card in the user's personal chat (proactive delivery). */
  sendPersonally: (account: string, userKey: string, answer: Reply) => Promise<void>;
  deliveries?: DeliveryLog;
  repeatWindowMs?: number;
  clock: Clock;
  log: Logger;
}

type InvokeBody = { statusCode: number; type: string; value: unknown };

/**
 * Teams' transport on the inbound pipeline. Personal chats take commands as typed (`claim
 * excitations`, optional leading `/daaas`); channels and group chats when the bot is @mentioned.
 * Typed text and `Action.Submit` are answered after the HTTP request is acknowledged, in order
 * per conversation; `Action.Execute` in the same HTTP response with the updated card.
 */
export class TeamsInbound {
  private readonly pipeline: InboundPipeline<Turn, RenderedCard>;
  /** Work after a message was acknowledged, chained per conversation so answers keep their order. */
  private readonly chains = new Map<string, Promise<void>>();
  private readonly background = new Set<Promise<void>>();

  constructor(private readonly options: TeamsInboundOptions) {
    this.pipeline = new InboundPipeline({
      platform: TEAMS_PLATFORM,
      platformName: 'Teams',
      dispatch: options.dispatch,
      lookUp: (turn) => options.users.identify(turn),
      render: renderCard,
      howToClaim: 'You can claim a VM of your own with: claim <pool> (see the pools with: pools).',
      describe: { user: (turn) => ({ teamsUser: turn.user.id }), lookUpFailure: (error) => ({ status: connectorStatus(error) }) },
      ...(options.deliveries ? { deliveries: options.deliveries } : {}),
      ...(options.repeatWindowMs ? { repeatWindowMs: options.repeatWindowMs } : {}),
      clock: options.clock,
      log: options.log,
    });
  }

  /** Resolves when every acknowledged message has been answered. */
  async idle(): Promise<void> {
    while (this.background.size > 0) await Promise.allSettled([...this.background]);
  }

  async onTurn(context: TurnContext): Promise<void> {
    const activity = context.activity;
    // Replies and member look-ups go to the activity's serviceUrl: only to the allowed ones.
    if (!activity.serviceUrl || !this.options.serviceUrls.allows(activity.serviceUrl)) return;
    const turn = turnOf(context, context.turnState.get<ConnectorClient>(this.options.connectorClientKey));
    if (!turn) return;
    switch (activity.type) {
      case 'message':
        // Teams delivers a message again when it thinks it went unanswered; the repeat is dropped.
        if (activity.id && !(await this.pipeline.firstDelivery(`teams:message:${turn.reference.conversation.id}\u0000${activity.id}`, { activityId: activity.id }))) return;
        if (!activity.text?.trim() && activity.value !== undefined) return this.onSubmit(turn);
        return this.onMessage(turn);
      case 'invoke':
        if (activity.name === 'adaptiveCard/action') await this.onExecute(context, turn);
        return;
      case 'installationUpdate':
        return this.onInstallation(turn);
      default:
        return;
    }
  }

  /** Typed text: answered after the HTTP request is acknowledged, so a slow cloud never makes Teams retry. */
  private onMessage(turn: Turn): void {
    const { text: typed, addressed } = commandText(turn.activity, turn.personal);
    if (!addressed) return;
    const command = typed === '' ? 'help' : typed;
    this.later(turn, async () => {
      const outcome = await this.pipeline.handle({ user: turn, conversation: turn.userKey, text: command, place: placeOf(turn.reference) });
      if (outcome.kind === 'refused') return this.replyTo(turn, outcome.rendered);
      await this.answer(turn, command, outcome.reply, outcome.account, outcome.rendered);
    });
  }

  /** A button on a client without Universal Actions: Action.Submit arrives as a message with `value`. */
  private onSubmit(turn: Turn): void {
    const data = decodeActionData(turn.activity.value);
    if (!data) return;
    this.later(turn, async () => {
      const outcome = await this.pipeline.handle({ user: turn, conversation: turn.userKey, text: data.command, ...(data.owner !== undefined ? { owner: data.owner } : {}) });
      if (outcome.kind === 'refused') return this.replyTo(turn, outcome.rendered);
      await this.answer(turn, data.command, outcome.reply, outcome.account, outcome.rendered);
    });
  }

  /**
   * Action.Execute: answered in the same HTTP response. The card is replaced with the updated
   * one only for its owner's own successful actions; anyone else, and any refusal, gets a short
   * message and the card stays as it was. Teams may deliver an invoke again if the first answer
   * was slow: the same answer, not a second extension.
   */
  private async onExecute(context: TurnContext, turn: Turn): Promise<void> {
    const key = `teams:invoke:${turn.reference.conversation.id}\u0000${turn.activity.id ?? randomUUID()}`;
    const body =
      (await this.pipeline.answerOnce(key, INVOKE_WINDOW_MS, () => this.executeBody(turn))) ??
      messageBody('This button press was received before the bot restarted, and its answer was lost. Type status to see where things stand.');
    await context.sendActivity(Activity.fromObject({ type: 'invokeResponse', value: { status: 200, body } }));
  }

  private async executeBody(turn: Turn): Promise<InvokeBody> {
    const action = (turn.activity.value as { action?: { type?: unknown; verb?: unknown; data?: unknown } } | undefined)?.action;
    const data = action?.type === 'Action.Execute' ? decodeActionData({ verb: action.verb, data: action.data }) : undefined;
    if (!data) return messageBody('That button is not one this bot knows (perhaps from an old card). Type help to see what it can do.');
    const outcome = await this.pipeline.handle({ user: turn, conversation: turn.userKey, text: data.command, ...(data.owner !== undefined ? { owner: data.owner } : {}) });
    if (outcome.kind === 'refused' || outcome.notYours || outcome.reply.tone === 'error') return messageBody(plainText(outcome.reply));
    const { account, reply: answer } = outcome;
    if (!turn.personal) {
      // An updated card would show the VM's details to the whole channel: they go to the personal chat.
      this.later(turn, () => this.sendPersonally(turn, answer, account).then(() => {}));
      return messageBody(`${answer.title}. The details are in your personal chat with the bot.`);
    }
    return { statusCode: 200, type: ADAPTIVE_CARD, value: outcome.rendered.card };
  }

  /** Installed in a personal scope: say hello (and remember the chat); removed: stop sending. */
  private onInstallation(turn: Turn): void {
    if (!turn.personal) return;
    const action = String(turn.activity.action ?? '').toLowerCase();
    if (action.startsWith('remove')) {
      void (async () => this.options.references.markUnreachable(turn.userKey, 'removed the app', this.options.clock.now()))().catch((e: unknown) => this.options.log.error({ err: e }, 'could not record an unreachable Teams user'));
      this.options.log.info({ teamsUser: turn.user.id, aadObjectId: turn.user.aadObjectId }, 'Teams user removed the app; their reminders stop until they add it again');
      return;
    }
    if (!action.startsWith('add')) return;
    this.later(turn, async () => {
      const outcome = await this.pipeline.handle({ user: turn, conversation: turn.userKey, text: 'help' });
      await this.replyTo(turn, outcome.rendered);
    });
  }

  /**
   * A command's answer. In a channel or group chat only refusals and help are answered in the
   * thread: anything else may show a VM's address, account or connection details, so it goes to
   * the user's personal chat and the thread gets one short line.
   */
  private async answer(turn: Turn, command: string, answer: Reply, account: string, rendered: RenderedCard): Promise<void> {
    if (turn.personal || answer.tone === 'error' || /^help\b/i.test(command.trim())) return this.replyTo(turn, rendered);
    const who = turn.user.name?.trim() || 'You';
    const sent = await this.sendPersonally(turn, answer, account);
    const line = sent ? `${who}: I sent you the details in our personal chat.` : `${who}: I could not reach you in a personal chat. Open a chat with the bot and ask there.`;
    await this.post(turn, messageTo(turn.reference, line, turn.activity.id));
  }

  /** The answer as a card in the user's personal chat (opened if need be); false if it could not be delivered. */
  private async sendPersonally(turn: Turn, answer: Reply, account: string): Promise<boolean> {
    try {
      await this.options.sendPersonally(account, turn.userKey, answer);
      return true;
    } catch (error) {
      this.options.log.warn({ err: error, account, teamsUser: turn.user.id }, 'could not answer a channel message in the personal chat');
      return false;
    }
  }

  /** Answers with a card in the conversation (in the thread, in channels). */
  private replyTo(turn: Turn, rendered: RenderedCard): Promise<void> {
    return this.post(turn, messageTo(turn.reference, rendered, turn.activity.id));
  }

  /** Posts in the turn's conversation, as a reply to its activity; failures are logged, not thrown. */
  private async post(turn: Turn, activity: Activity): Promise<void> {
    const conversationId = turn.reference.conversation.id;
    try {
      await this.options.queue.push({
        kind: 'reply',
        conversation: conversationId,
        tenant: turn.tenant,
        urgent: true,
        run: () =>
          turn.activity.id
            ? turn.client.replyToActivity(encodeURIComponent(conversationId), turn.activity.id, activity)
            : turn.client.sendToConversation(encodeURIComponent(conversationId), activity),
      });
    } catch (error) {
      this.options.log.warn({ err: error, status: connectorStatus(error), code: connectorErrorCode(error), conversation: conversationId }, 'could not answer in Teams');
    }
  }

  private later(turn: Turn, work: () => Promise<void>): void {
    const key = turn.reference.conversation.id;
    const next = (this.chains.get(key) ?? Promise.resolve()).then(work).catch((error: unknown) => this.options.log.error({ err: error }, 'Teams message handling failed'));
    this.chains.set(key, next);
    this.background.add(next);
    void next.finally(() => {
      this.background.delete(next);
      if (this.chains.get(key) === next) this.chains.delete(key);
    });
  }
}

function messageBody(value: string): InvokeBody {
  return { statusCode: 200, type: 'application/vnd.microsoft.activity.message', value };
}
