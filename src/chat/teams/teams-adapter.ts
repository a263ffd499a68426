import { randomUUID } from 'node:crypto';
import { Activity } from '@microsoft/agents-activity';
import { CloudAdapter, type AuthConfiguration, type ConnectorClient, type TurnContext } from '@microsoft/agents-hosting';
import type { HttpServer } from '../../http/http-server.ts';
import type { Clock } from '../../ports/clock.ts';
import type { Logger } from '../../ports/logger.ts';
import type { Notifier, Recipient } from '../../ports/notifier.ts';
import type { Invocation } from '../invocation.ts';
import { notYoursRefusal } from '../platform-text.ts';
import { reply, text, type Reply } from '../reply.ts';
import { TtlCache } from '../ttl-cache.ts';
import { BotConnectorAuth, BotConnectorKeys } from './bot-connector-auth.ts';
import type { ConversationReferenceStore, TeamsConversationReference } from './conversation-store.ts';
import { connectorErrorCode, connectorStatus, TeamsOutboundQueue, type TeamsLimits } from './outbound-queue.ts';
import { isPersonal, messageTo, TeamsPersonalChat } from './personal-chat.ts';
import { ADAPTIVE_CARD, decodeActionData, renderCard } from './render-card.ts';
import { agentRequestHandler } from './request-handler.ts';
import { CLOUDS, ServiceUrlPolicy, type TeamsCloud } from './service-urls.ts';
import { isLoopbackHost, teamsAuthFromEnv, type TeamsAuth } from './teams-auth.ts';
import { TeamsUserMapper, userKeyOf, type TeamsIdentityRules, type TeamsMember, type TeamsUser } from './user-mapper.ts';

export const TEAMS_PLATFORM = 'teams';
export const TEAMS_MESSAGES_PATH = '/api/messages';
const CONNECTION = 'ServiceConnection';

export interface TeamsAdapterOptions {
  /** From `TeamsAdapter.authFromEnv(env, host)`: app credentials, or anonymous local mode. */
  auth: TeamsAuth;
  /** The address the HTTP server is bound to (DAAAS_HOST): anonymous mode needs a loopback one. */
  host: string;
  /** The bot's HTTP server: `POST /api/messages` is mounted on it. */
  http: HttpServer;
  /** The dispatcher: text in, neutral reply out. */
  dispatch: (invocation: Invocation) => Promise<Reply>;
  /** How Teams users map to facility accounts. */
  identity: TeamsIdentityRules;
  /** Where users can be reached later (reminders): the SQLite store in production. */
  references: ConversationReferenceStore;
  clock: Clock;
  log: Logger;
  /** Tenants whose users may use the bot. Default: the app registration's tenant; any in anonymous mode. */
  tenants?: readonly string[];
  /** The Bot Framework cloud (token issuer, signing keys, service hosts). Default public. */
  cloud?: TeamsCloud;
  /** Host patterns of the service URLs the bot accepts and sends to in production. Default: the cloud's Bot Connector hosts. */
  serviceUrls?: readonly string[];
  /** Where the Bot Connector's signing keys are published (OpenID metadata). Default: the cloud's. */
  openIdMetadataUrl?: string;
  /** Outbound calls: rate limits, retries, and the clock their pauses run on. */
  outbound?: { clock?: Clock; limits?: TeamsLimits; concurrency?: number; maxAttempts?: number; backoff?: { initialMs?: number; maxMs?: number }; random?: () => number };
  /** How long a delivery is remembered to recognise Teams sending it again. Default 1 h, 10 000 deliveries. */
  dedupe?: { ttlMs?: number; maxEntries?: number };
  /** Ask Entra for a token in start(), so bad credentials stop the bot at once. Default true. */
  verifyCredentials?: boolean;
}

/** What one incoming activity needs for answering it later, after the SDK's turn has ended. */
interface Turn {
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

type InvokeBody = { statusCode: number; type: string; value: unknown };
type Identified = { ok: true; account: string } | { ok: false; reply: Reply };

/**
 * Microsoft Teams as a chat platform, on the Microsoft 365 Agents SDK. Personal chats take
 * commands as typed (`claim excitations`, optional leading `/daaas`); channels and group chats
 * when the bot is @mentioned. Answers are Adaptive Cards whose Extend and Release buttons are
 * `Action.Execute` (answered in the invoke response with the updated card), falling back to
 * `Action.Submit` on older clients. Reminders go to the user's personal chat through the
 * conversation reference stored when they last talked to the bot.
 */
export class TeamsAdapter implements Notifier {
  /** The credentials from the environment, checked against the bound host; see teams-auth.ts. */
  static readonly authFromEnv = teamsAuthFromEnv;

  readonly adapter: CloudAdapter;
  private readonly log: Logger;
  private readonly queue: TeamsOutboundQueue;
  private readonly mapper: TeamsUserMapper;
  private readonly deliveries: TtlCache<true>;
  private readonly invokes: TtlCache<Promise<InvokeBody>>;
  private readonly tenants: ReadonlySet<string> | undefined;
  private readonly cloud: TeamsCloud;
  /** Where replies, look-ups and reminders may go; a request naming anything else is refused. */
  private readonly serviceUrls: ServiceUrlPolicy;
  /** Foreign-tenant members with `allowGuests`: only the explicit map, never the rule. */
  private readonly guestMapper: TeamsUserMapper;
  private readonly personalChat: TeamsPersonalChat;
  /** Work after a message was acknowledged, chained per conversation so answers keep their order. */
  private readonly chains = new Map<string, Promise<void>>();
  private readonly background = new Set<Promise<void>>();
  private stopped = false;

  constructor(private readonly o: TeamsAdapterOptions) {
    this.log = o.log.child({ component: 'teams' });
    if (o.auth.mode === 'anonymous' && !isLoopbackHost(o.host)) {
      throw new Error(`Teams anonymous mode is honoured only on a loopback address, and the bot listens on ${o.host || '(all addresses)'}: it would accept any request and post replies to any serviceUrl.`);
    }
    if (o.auth.mode === 'production' && !(o.auth.clientId && o.auth.clientSecret && o.auth.tenantId)) {
      throw new Error('Teams needs the app id, secret and tenant (clientId, clientSecret, tenantId).');
    }
    const tenants = o.tenants ?? (o.auth.mode === 'production' ? [o.auth.tenantId] : undefined);
    this.tenants = tenants && new Set(tenants.map((t) => t.toLowerCase()));
    this.cloud = o.cloud ?? 'public';
    const endpoints = CLOUDS[this.cloud];
    // Anonymous mode talks to loopback service URLs only; production to the Bot Connector's hosts.
    this.serviceUrls = new ServiceUrlPolicy(o.auth.mode === 'production' ? (o.serviceUrls?.length ? o.serviceUrls : endpoints.serviceHosts) : undefined);

    const outbound = o.outbound ?? {};
    this.queue = new TeamsOutboundQueue({
      clock: outbound.clock ?? o.clock,
      log: this.log,
      ...(outbound.limits ? { limits: outbound.limits } : {}),
      ...(outbound.concurrency ? { concurrency: outbound.concurrency } : {}),
      ...(outbound.maxAttempts ? { maxAttempts: outbound.maxAttempts } : {}),
      ...(outbound.backoff ? { backoff: outbound.backoff } : {}),
      ...(outbound.random ? { random: outbound.random } : {}),
    });
    this.mapper = new TeamsUserMapper({ rules: o.identity, clock: o.clock, log: this.log });
    this.guestMapper = new TeamsUserMapper({ rules: { ...o.identity, rule: 'map-only' }, clock: o.clock, log: this.log });
    this.deliveries = new TtlCache({ clock: o.clock, maxEntries: o.dedupe?.maxEntries ?? 10_000 });
    // Answers (cards) are larger than delivery marks, and a repeated invoke comes within seconds.
    this.invokes = new TtlCache({ clock: o.clock, maxEntries: 1_000 });

    // Production checks the serviceUrl of each activity against its signed token's claim.
    this.adapter = new CloudAdapter(authConfiguration(o.auth, this.cloud), undefined, undefined, { validateServiceUrl: o.auth.mode === 'production' });
    // The SDK's default answers a failed turn with "please fix the source code" messages to the user.
    this.adapter.onTurnError = async (_context, error) => {
      this.log.error({ err: error }, 'Teams turn failed');
    };
    this.personalChat = new TeamsPersonalChat({
      adapter: this.adapter,
      auth: o.auth,
      references: o.references,
      queue: this.queue,
      serviceUrls: this.serviceUrls,
      userKeysOf: (account) => this.mapper.userKeysOf(account),
      clock: o.clock,
      log: this.log,
    });
    // The SDK's own JWT check accepts Entra tokens without a serviceurl claim: production checks tokens itself.
    const auth =
      o.auth.mode === 'production'
        ? new BotConnectorAuth({
            appId: o.auth.clientId,
            issuer: endpoints.issuer,
            serviceUrls: this.serviceUrls,
            keys: new BotConnectorKeys({ openIdMetadataUrl: o.openIdMetadataUrl ?? endpoints.openIdMetadataUrl, clock: o.clock, log: this.log }),
            clock: o.clock,
          })
        : undefined;
    o.http.mount(
      'POST',
      TEAMS_MESSAGES_PATH,
      agentRequestHandler({
        adapter: this.adapter,
        logic: (context) => this.onTurn(context),
        log: this.log,
        accepting: () => !this.stopped,
        ...(auth ? { authenticate: (request) => auth.authenticate(request.headers.authorization, request.body ?? {}) } : {}),
        // Replies and member look-ups go to the activity's serviceUrl: only to the allowed ones.
        refuse: (activity) => {
          const refusal = this.serviceUrls.refusal(typeof activity.serviceUrl === 'string' ? activity.serviceUrl : undefined);
          return refusal && (o.auth.mode === 'anonymous' ? 'in anonymous mode the serviceUrl must be a loopback address' : refusal);
        },
      }),
    );
  }

  get mode(): TeamsAuth['mode'] {
    return this.o.auth.mode;
  }

  /** Checks the credentials with Entra (a token for the Bot Connector), then accepts requests. */
  async start(): Promise<void> {
    const { auth } = this.o;
    if (auth.mode === 'production' && this.o.verifyCredentials !== false) {
      try {
        await this.adapter.connectionManager.getDefaultConnection().getAccessToken(CLOUDS[this.cloud].scope);
      } catch (error) {
        throw new Error(`Teams: could not get a token from Entra for app ${auth.clientId} in tenant ${auth.tenantId} (from ${auth.source}). Check clientId, clientSecret and tenantId, and that the bot can reach Entra: ${message(error)}`, { cause: error });
      }
    }
    this.log.info({ mode: auth.mode, path: TEAMS_MESSAGES_PATH }, auth.mode === 'anonymous' ? 'Teams adapter listening WITHOUT authentication (local trial on loopback)' : 'Teams adapter listening');
  }

  /** Refuses new requests (503: Teams sends them again), lets work under way finish for a few seconds, then stops sending. */
  async stop(): Promise<void> {
    this.stopped = true;
    const clock = this.o.outbound?.clock ?? this.o.clock;
    const timeout = new AbortController();
    await Promise.race([this.idle(), clock.sleep(5_000, timeout.signal).catch(() => {})]);
    timeout.abort();
    this.queue.stop();
  }

  /** Resolves when every acknowledged message has been answered and nothing is waiting to be sent. */
  async idle(): Promise<void> {
    while (this.background.size > 0) await Promise.allSettled([...this.background]);
    await this.queue.idle();
  }

  /** Reminders and teardown notices: a card in the user's personal chat (see personal-chat.ts). */
  notify(to: Recipient, messageToSend: Reply): Promise<void> {
    return this.personalChat.send(to, messageToSend);
  }

  // ---- incoming ----------------------------------------------------------------------------

  private async onTurn(context: TurnContext): Promise<void> {
    const turn = this.turnOf(context);
    if (!turn) return;
    const { activity } = turn;
    switch (activity.type) {
      case 'message':
        if (!this.firstDelivery(turn)) return;
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
    this.later(turn, async () => {
      const identity = await this.identify(turn);
      if (!identity.ok) return this.replyTo(turn, identity.reply);
      const command = typed === '' ? 'help' : typed;
      await this.answer(turn, command, await this.run(identity.account, turn, command), identity.account);
    });
  }

  /** A button on a client without Universal Actions: Action.Submit arrives as a message with `value`. */
  private onSubmit(turn: Turn): void {
    const data = decodeActionData(turn.activity.value);
    if (!data) return;
    this.later(turn, async () => {
      const identity = await this.identify(turn);
      if (!identity.ok) return this.replyTo(turn, identity.reply);
      const answer = await this.run(identity.account, turn, data.command);
      const stranger = data.owner !== undefined && data.owner !== identity.account;
      await this.answer(turn, data.command, stranger && answer.tone === 'error' ? politeRefusal(data.owner!, answer) : answer, identity.account);
    });
  }

  /**
   * Action.Execute: answered in the same HTTP response. The card is replaced with the updated
   * one only for its owner's own successful actions; anyone else, and any refusal, gets a short
   * message and the card stays as it was.
   */
  private async onExecute(context: TurnContext, turn: Turn): Promise<void> {
    // Teams may deliver an invoke again if the first answer was slow: the same answer, not a second extension.
    const key = `${turn.reference.conversation.id}\u0000${turn.activity.id ?? randomUUID()}`;
    let body = this.invokes.get(key);
    if (!body) {
      body = this.executeBody(turn);
      this.invokes.set(key, body, 600_000);
    }
    await context.sendActivity(Activity.fromObject({ type: 'invokeResponse', value: { status: 200, body: await body } }));
  }

  private async executeBody(turn: Turn): Promise<InvokeBody> {
    const action = (turn.activity.value as { action?: { type?: unknown; verb?: unknown; data?: unknown } } | undefined)?.action;
    const data = action?.type === 'Action.Execute' ? decodeActionData({ verb: action.verb, data: action.data }) : undefined;
    if (!data) return messageBody('That button is not one this bot knows (perhaps from an old card). Type help to see what it can do.');
    const identity = await this.identify(turn);
    if (!identity.ok) return messageBody(plainText(identity.reply));
    const answer = await this.run(identity.account, turn, data.command);
    const stranger = data.owner !== undefined && data.owner !== identity.account;
    if (stranger && answer.tone === 'error') return messageBody(plainText(politeRefusal(data.owner!, answer)));
    if (answer.tone === 'error') return messageBody(plainText(answer));
    if (!turn.personal) {
      // An updated card would show the VM's details to the whole channel: they go to the personal chat.
      this.later(turn, () => this.sendPersonally(turn, answer, identity.account).then(() => {}));
      return messageBody(`${answer.title}. The details are in your personal chat with the bot.`);
    }
    return { statusCode: 200, type: ADAPTIVE_CARD, value: renderCard(answer, { now: this.o.clock.now(), owner: identity.account }).card };
  }

  /** Installed in a personal scope: say hello (and remember the chat); removed: stop sending. */
  private onInstallation(turn: Turn): void {
    if (!turn.personal) return;
    const action = String(turn.activity.action ?? '').toLowerCase();
    if (action.startsWith('remove')) {
      void (async () => this.o.references.markUnreachable(turn.userKey, 'removed the app', this.o.clock.now()))().catch((e: unknown) => this.log.error({ err: e }, 'could not record an unreachable Teams user'));
      this.log.info({ teamsUser: turn.user.id, aadObjectId: turn.user.aadObjectId }, 'Teams user removed the app; their reminders stop until they add it again');
      return;
    }
    if (!action.startsWith('add')) return;
    this.later(turn, async () => {
      const identity = await this.identify(turn);
      if (!identity.ok) return this.replyTo(turn, identity.reply);
      await this.replyTo(turn, await this.run(identity.account, turn, 'help'), identity.account);
    });
  }

  /** The parts of an activity the bot needs; undefined (ignored) when they are missing. */
  private turnOf(context: TurnContext): Turn | undefined {
    const activity = context.activity;
    const from = activity.from;
    const recipient = activity.recipient;
    const conversation = activity.conversation;
    if (!from?.id || !recipient?.id || !conversation?.id || !activity.serviceUrl) return undefined;
    if (!this.serviceUrls.allows(activity.serviceUrl)) return undefined;
    const client = context.turnState.get<ConnectorClient>(this.adapter.ConnectorClientKey);
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

  /** Teams delivers a message again when it thinks it went unanswered; the repeat is dropped. */
  private firstDelivery(turn: Turn): boolean {
    if (!turn.activity.id) return true;
    const fresh = this.deliveries.add(`${turn.reference.conversation.id}\u0000${turn.activity.id}`, true, this.o.dedupe?.ttlMs ?? 3_600_000);
    if (!fresh) this.log.info({ activityId: turn.activity.id }, 'repeated Teams delivery ignored');
    return fresh;
  }

  /** The user's facility account (looked up and cached), and their conversation remembered for reminders. */
  private async identify(turn: Turn): Promise<Identified> {
    if (this.tenants && !this.tenants.has(turn.tenant.toLowerCase())) {
      this.log.warn({ tenant: turn.tenant, teamsUser: turn.user.id }, 'Teams request from another tenant refused');
      return { ok: false, reply: reply('error', 'This bot serves only its own organisation’s Teams.', text('Nothing was done. Ask the DAaaS team if you think you should have access.')) };
    }
    let identity;
    try {
      identity = await this.mapper.resolve(turn.user, () => this.lookUpMember(turn));
    } catch (error) {
      if (!(error instanceof ForeignMember)) {
        this.log.warn({ err: error, status: connectorStatus(error), teamsUser: turn.user.id }, 'could not look up a Teams user');
        return { ok: false, reply: reply('error', 'Sorry, Teams did not answer when the bot looked you up.', text('Nothing was changed. Please try again in a minute.')) };
      }
      const foreign = await this.foreignIdentity(turn, error.member);
      if (!foreign.ok) return foreign;
      identity = foreign;
    }
    if (!identity.ok) return { ok: false, reply: this.mapper.unmappedReply(turn.user, identity.reason) };
    await this.remember(turn, identity.account);
    return identity;
  }

  /** The member as the connector knows them; a member of another tenant's directory is thrown as ForeignMember. */
  private async lookUpMember(turn: Turn): Promise<TeamsMember | undefined> {
    let member: TeamsMember;
    try {
      member = (await this.queue.push({
        kind: 'member lookup',
        tenant: turn.tenant,
        urgent: true,
        run: () => turn.client.getConversationMember(encodeURIComponent(turn.user.id), encodeURIComponent(turn.rosterId)),
      })) as TeamsMember;
    } catch (error) {
      if (connectorStatus(error) === 404) return undefined;
      throw error;
    }
    if (this.tenants && member?.tenantId && !this.tenants.has(member.tenantId.toLowerCase())) throw new ForeignMember(member);
    return member;
  }

  /**
   * A member of another organisation's directory (in a shared channel, say): never mapped by the
   * address rule (their address says nothing about facility accounts); with `allowGuests`, by the
   * explicit map only. Not cached as a refusal: the look-up is asked again on their next message.
   */
  private async foreignIdentity(turn: Turn, member: TeamsMember): Promise<Identified> {
    this.log.warn({ memberTenant: member.tenantId, teamsUser: turn.user.id, aadObjectId: turn.user.aadObjectId, allowGuests: Boolean(this.o.identity.allowGuests) }, 'Teams member from another tenant');
    if (!this.o.identity.allowGuests) {
      return { ok: false, reply: reply('error', 'This bot serves only its own organisation’s Teams.', text(`You are signed in from another organisation’s directory, so nothing was done. Ask ${this.o.identity.contact} if you think you should have access.`)) };
    }
    const identity = await this.guestMapper.resolve(turn.user, async () => member);
    if (identity.ok) return identity;
    return { ok: false, reply: this.mapper.unmappedReply(turn.user, 'You are signed in from another organisation’s directory; such users are linked to facility accounts only by hand.') };
  }

  /**
   * Stores where the user can be reached. A personal chat is preferred: a channel never replaces
   * it, unless the personal chat was found unreachable (then the channel is the way to open a new one).
   */
  private async remember(turn: Turn, account: string): Promise<void> {
    try {
      const existing = await this.o.references.get(turn.userKey);
      const keepPersonal = !turn.personal && existing && isPersonal(existing.reference) && !existing.unreachable && this.serviceUrls.allows(existing.reference.serviceUrl);
      const reference = keepPersonal ? existing.reference : turn.reference;
      await this.o.references.put(turn.userKey, { reference, account, updatedAt: this.o.clock.now() });
    } catch (error) {
      this.log.error({ err: error, teamsUser: turn.user.id }, 'could not store the Teams conversation reference; reminders may not reach this user');
    }
  }

  /** Runs a command as the user's facility account; never throws. */
  private async run(account: string, turn: Turn, commandIn: string): Promise<Reply> {
    const requestId = randomUUID().slice(0, 8);
    try {
      return await this.o.dispatch({ platform: TEAMS_PLATFORM, account, conversation: turn.userKey, text: commandIn, requestId });
    } catch (error) {
      this.log.error({ err: error, requestId }, 'command failed');
      return reply('error', 'Sorry, something went wrong on our side.', text(`If it happens again, tell the admins and quote reference ${requestId}.`));
    }
  }

  /**
   * A command's answer. In a channel or group chat only refusals and help are answered in the
   * thread: anything else may show a VM's address, account or connection details, so it goes to
   * the user's personal chat and the thread gets one short line.
   */
  private async answer(turn: Turn, command: string, answer: Reply, account: string): Promise<void> {
    if (turn.personal || answer.tone === 'error' || /^help\b/i.test(command.trim())) return this.replyTo(turn, answer, account);
    const who = turn.user.name?.trim() || 'You';
    const sent = await this.sendPersonally(turn, answer, account);
    const line = sent ? `${who}: I sent you the details in our personal chat.` : `${who}: I could not reach you in a personal chat. Open a chat with the bot and ask there.`;
    await this.post(turn, messageTo(turn.reference, line, turn.activity.id));
  }

  /** The answer as a card in the user's personal chat (opened if need be); false if it could not be delivered. */
  private async sendPersonally(turn: Turn, answer: Reply, account: string): Promise<boolean> {
    try {
      await this.notify({ platform: TEAMS_PLATFORM, user: account, conversation: turn.userKey }, answer);
      return true;
    } catch (error) {
      this.log.warn({ err: error, account, teamsUser: turn.user.id }, 'could not answer a channel message in the personal chat');
      return false;
    }
  }

  /** Answers with a card in the conversation (in the thread, in channels). */
  private replyTo(turn: Turn, answer: Reply, owner?: string): Promise<void> {
    return this.post(turn, messageTo(turn.reference, renderCard(answer, { now: this.o.clock.now(), ...(owner ? { owner } : {}) }), turn.activity.id));
  }

  /** Posts in the turn's conversation, as a reply to its activity; failures are logged, not thrown. */
  private async post(turn: Turn, activity: Activity): Promise<void> {
    const conversationId = turn.reference.conversation.id;
    try {
      await this.queue.push({
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
      this.log.warn({ err: error, status: connectorStatus(error), code: connectorErrorCode(error), conversation: conversationId }, 'could not answer in Teams');
    }
  }

  private later(turn: Turn, work: () => Promise<void>): void {
    const key = turn.reference.conversation.id;
    const next = (this.chains.get(key) ?? Promise.resolve()).then(work).catch((error: unknown) => this.log.error({ err: error }, 'Teams message handling failed'));
    this.chains.set(key, next);
    this.background.add(next);
    void next.finally(() => {
      this.background.delete(next);
      if (this.chains.get(key) === next) this.chains.delete(key);
    });
  }
}

/** The connector's member look-up found a user of another tenant's directory. */
class ForeignMember extends Error {
  constructor(readonly member: TeamsMember) {
    super(`Teams member of tenant ${member.tenantId}`);
  }
}

/** The SDK's configuration for one connection, built from our checked credentials, not from process.env. */
function authConfiguration(auth: TeamsAuth, cloud: TeamsCloud): AuthConfiguration {
  const authority = cloud === 'gov' ? { authorityEndpoint: 'https://login.microsoftonline.us' } : {};
  const settings: AuthConfiguration = auth.mode === 'production' ? { clientId: auth.clientId, clientSecret: auth.clientSecret, tenantId: auth.tenantId, ...authority } : {};
  return { ...settings, connections: new Map([[CONNECTION, settings]]), connectionsMap: [{ serviceUrl: '*', connection: CONNECTION }] };
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



function messageBody(value: string): InvokeBody {
  return { statusCode: 200, type: 'application/vnd.microsoft.activity.message', value };
}

/** A reply as one short paragraph: what an invoke message response shows. */
function plainText(answer: Reply): string {
  const texts = answer.blocks.flatMap((b) => (b.type === 'text' ? [b.text] : []));
  return [answer.title, ...texts].join(' ').replace(/\s+/g, ' ').trim();
}

function politeRefusal(owner: string, refusal: Reply): Reply {
  return notYoursRefusal(owner, refusal, 'You can claim a VM of your own with: claim <pool> (see the pools with: pools).');
}




function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
