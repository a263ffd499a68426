import { App, SocketModeReceiver, type AnyMiddlewareArgs, type BlockAction, type RespondArguments, type RespondFn } from '@slack/bolt';
import type { Dispatcher } from 'undici';
import type { Principal } from '../../core/model.ts';
import type { DaaasService } from '../../core/service.ts';
import type { HttpServer } from '../../http/http-server.ts';
import type { Clock } from '../../ports/clock.ts';
import type { DeliveryLog } from '../../ports/delivery-log.ts';
import type { Logger } from '../../ports/logger.ts';
import { UndeliverableError, type Notifier, type Recipient } from '../../ports/notifier.ts';
import { InboundPipeline, type Identified } from '../inbound.ts';
import type { Invocation } from '../invocation.ts';
import type { Reply } from '../reply.ts';
import { boltLogger } from './bolt-logger.ts';
import { SlackHomeTab } from './home-tab.ts';
import { SlackOutboundQueue, slackErrorCode, slackNotAnswering, slackRetryAfterMs, type RateLimit } from './outbound-queue.ts';
import { COMMAND_ACTION, decodeButtonValue, LINK_ACTION, renderBlocks, type SlackMessage } from './render-blocks.ts';
import { SlackHttpReceiver } from './slack-receiver.ts';
import { SlackUserMapper, type SlackIdentityRules, type SlackProfile, type SlackWorkspace } from './user-mapper.ts';

export const SLACK_PLATFORM = 'slack';
export const SLACK_EVENTS_PATH = '/slack/events';

export interface SlackAdapterOptions {
  /** Bot token (`xoxb-…`): SLACK_BOT_TOKEN. */
  botToken: string;
  /** App-level token (`xapp-…`, connections:write): SLACK_APP_TOKEN. When set, Socket Mode is used. */
  appToken?: string;
  /** Signing secret: SLACK_SIGNING_SECRET. Needed in HTTP mode. */
  signingSecret?: string;
  /** Web API base, e.g. GovSlack's or a test server's: SLACK_API_URL. Default Slack's own. */
  slackApiUrl?: string;
  /** The bot's HTTP server; HTTP mode mounts `POST /slack/events` on it. */
  http?: HttpServer;
  /** Default `/daaas`. */
  command?: string;
  /** The dispatcher: text in, neutral reply out. */
  dispatch: (invocation: Invocation) => Promise<Reply>;
  /** How Slack users map to facility accounts. */
  identity: SlackIdentityRules;
  /** What App Home shows: the core service and who an account is. Without it, Home shows only help. */
  home?: { service: DaaasService; principal: (account: string) => Principal | Promise<Principal> };
  clock: Clock;
  log: Logger;
  /** Outbound rate limiting: overrides of Slack's limits per method, and the clock it runs on. */
  outbound?: { clock?: Clock; limits?: Readonly<Record<string, RateLimit | null>>; concurrency?: number; maxAttempts?: number };
  /** Web API call timeout. Default 10 s. */
  timeoutMs?: number;
  /** Deliveries already handled, to recognise Slack sending one again (the SQLite store in production). Default: in memory. */
  deliveries?: DeliveryLog;
  /** How long a delivery is remembered to recognise Slack sending it again. Default 1 h. */
  repeatWindowMs?: number;
  /** Subscribes to lease changes on any platform, by a command or by the scheduler (expiry, home ready): each republishes the user's Home tab once. */
  leaseChanges?: (listener: (account: string) => void) => void;
  /** Outbound proxy (HTTPS_PROXY/NO_PROXY): the Web API's fetch and Socket Mode's WebSocket dispatcher. Default: direct. */
  proxy?: { fetch: typeof globalThis.fetch; dispatcher: Dispatcher };
}

/**
 * Slack as a chat platform, on Bolt: `/daaas <text>` and the buttons on its cards run commands
 * through the inbound pipeline (inbound.ts) as the Slack user's facility account; answers go back through the
 * response_url (ephemeral), reminders as direct messages, and App Home shows the user's VMs and
 * the pools they may claim from. Socket Mode with an app token (no inbound URL: right behind a
 * firewall), otherwise HTTP on the bot's own server.
 */
export class SlackAdapter implements Notifier {
  readonly mode: 'socket' | 'http';
  readonly bolt: App;
  private readonly log: Logger;
  private readonly queue: SlackOutboundQueue;
  private readonly mapper: SlackUserMapper;
  private readonly inbound: InboundPipeline<string, SlackMessage>;
  private readonly home: SlackHomeTab;
  private readonly receiver: SlackHttpReceiver | undefined;
  private started = false;
  /** Commands and clicks acknowledged and still being answered: stop() lets them finish. */
  private readonly answering = new Set<Promise<void>>();
  /** The installing workspace, from auth.test at start: only its users map by address. */
  private workspace: SlackWorkspace | undefined;

  constructor(private readonly options: SlackAdapterOptions) {
    this.log = options.log.child({ component: 'slack' });
    this.mode = options.appToken ? 'socket' : 'http';
    if (!options.botToken) throw new Error('Slack needs a bot token (SLACK_BOT_TOKEN).');
    if (this.mode === 'http' && !options.signingSecret) throw new Error('Slack in HTTP mode needs a signing secret (SLACK_SIGNING_SECRET), or set an app token (SLACK_APP_TOKEN) for Socket Mode.');
    if (this.mode === 'http' && !options.http) throw new Error('Slack in HTTP mode needs the bot’s HTTP server to mount its endpoint on.');

    this.queue = new SlackOutboundQueue({
      clock: options.outbound?.clock ?? options.clock,
      log: this.log,
      retryAfterMs: slackRetryAfterMs,
      ...(options.outbound?.limits ? { limits: options.outbound.limits } : {}),
      ...(options.outbound?.concurrency ? { concurrency: options.outbound.concurrency } : {}),
      ...(options.outbound?.maxAttempts ? { maxAttempts: options.outbound.maxAttempts } : {}),
    });
    this.mapper = new SlackUserMapper({ rules: options.identity, clock: options.clock, log: this.log, lookup: (id) => this.lookUpUser(id), workspace: () => this.workspace });
    this.inbound = new InboundPipeline({
      platform: SLACK_PLATFORM,
      platformName: 'Slack',
      dispatch: options.dispatch,
      lookUp: (slackUserId) => this.identityOf(slackUserId),
      render: renderBlocks,
      howToClaim: 'You can claim a VM of your own with /daaas claim <pool>; see the pools with /daaas pools.',
      describe: { user: (slackUser) => ({ slackUser }), lookUpFailure: (error) => ({ slackError: slackErrorCode(error) }) },
      ...(options.deliveries ? { deliveries: options.deliveries } : {}),
      ...(options.repeatWindowMs ? { repeatWindowMs: options.repeatWindowMs } : {}),
      clock: options.clock,
      log: this.log,
    });
    this.home = new SlackHomeTab({
      ...(options.home ? { home: options.home } : {}),
      identify: (slackUserId) => this.inbound.identify(slackUserId),
      slackUsersOf: (account) => this.mapper.slackUsersOf(account),
      publish: (slackUserId, view, urgent) => this.queue.push({ method: 'views.publish', urgent, run: () => this.bolt.client.views.publish({ user_id: slackUserId, view }) }).then(() => {}),
      clock: options.clock,
      log: this.log,
    });
    options.leaseChanges?.((account) => void this.refreshHomeOf(account));

    const logger = boltLogger(this.log);
    const slackApiUrl = options.slackApiUrl ? { slackApiUrl: options.slackApiUrl.endsWith('/') ? options.slackApiUrl : `${options.slackApiUrl}/` } : {};
    this.receiver = this.mode === 'http' ? new SlackHttpReceiver({ signingSecret: options.signingSecret!, clock: options.clock, log: this.log, boltLogger: logger }) : undefined;
    // Through the proxy when one is set: every Web API call, and Socket Mode's connection.
    const fetch = options.proxy ? { fetch: options.proxy.fetch } : {};
    this.bolt = new App({
      token: options.botToken,
      logger,
      // auth.test runs in start(), where a bad token can be reported, not in the constructor.
      deferInitialization: true,
      convoStore: false,
      // The outbound queue handles 429s and decides what may be retried; the client must not
      // retry behind its back (a retried post after a lost answer would be a duplicate).
      clientOptions: { ...slackApiUrl, ...fetch, rejectRateLimitedCalls: true, retryConfig: { retries: 0 }, timeout: options.timeoutMs ?? 10_000 },
      // Bolt passes no dispatcher to its own Socket Mode receiver, so the bot builds it.
      receiver:
        this.receiver ??
        new SocketModeReceiver({
          appToken: options.appToken!,
          logger,
          installerOptions: { clientOptions: { ...slackApiUrl, ...fetch } },
          ...(options.proxy ? { dispatcher: options.proxy.dispatcher } : {}),
        }),
    });
    this.bolt.error(async (error) => {
      this.log.error({ err: error }, 'Slack listener failed');
    });
    this.bolt.use(async (args) => this.ignoreRepeats(args));
    this.listen();
    if (this.receiver) options.http!.mount('POST', SLACK_EVENTS_PATH, this.receiver.handler);
  }

  /** Checks the bot token with Slack (auth.test), then listens: Socket Mode connects, HTTP mode accepts. */
  async start(): Promise<void> {
    let installedIn: { team_id?: string; enterprise_id?: string };
    try {
      await this.bolt.init();
      // Bolt keeps only the bot's ids from its auth.test; the workspace is asked for here.
      installedIn = await this.bolt.client.auth.test();
    } catch (error) {
      const code = slackErrorCode(error);
      if (code === undefined) throw new Error(slackNotAnswering(error), { cause: error });
      throw new Error(`Slack did not accept the bot token (SLACK_BOT_TOKEN): ${code}`, { cause: error });
    }
    // An organisation-wide Enterprise Grid install reports the organisation, not a workspace.
    const teamId = installedIn.team_id || installedIn.enterprise_id;
    if (!teamId) throw new Error('Slack did not say which workspace the bot is installed in (auth.test gave no team_id), so it cannot tell its users from others');
    this.workspace = { teamId, ...(installedIn.enterprise_id ? { enterpriseId: installedIn.enterprise_id } : {}) };
    await this.bolt.start();
    this.started = true;
    this.log.info({ mode: this.mode }, 'Slack adapter listening');
  }

  /**
   * Stops receiving, then lets what was acknowledged be answered (up to 5 s: Slack has stopped
   * waiting for a slower answer anyway) before the outbound queue stops.
   */
  async stop(): Promise<void> {
    if (this.started) await this.bolt.stop();
    this.started = false;
    await this.queue.stopAfter(async () => {
      while (this.answering.size > 0) await Promise.allSettled([...this.answering]);
    });
  }

  /** Runs a listener's answer, tracked so that stop() waits for it. */
  private async answer(work: () => Promise<void>): Promise<void> {
    const running = work();
    this.answering.add(running);
    try {
      await running;
    } finally {
      this.answering.delete(running);
    }
  }

  /** Reminder and teardown messages: a direct message (chat.postMessage to the user id). */
  async notify(to: Recipient, message: Reply): Promise<void> {
    const channel = this.slackUserOf(to);
    if (!channel) throw new UndeliverableError(`no Slack user is known for ${to.user}, so they cannot be told: ${message.title}`);
    const rendered = renderBlocks(message, { now: this.options.clock.now(), owner: to.user });
    try {
      await this.queue.push({
        method: 'chat.postMessage',
        channel,
        run: () => this.bolt.client.chat.postMessage({ channel, text: rendered.text, blocks: rendered.blocks }),
      });
    } catch (error) {
      const code = slackErrorCode(error);
      this.log.warn({ err: error, slackError: code, user: to.user, channel }, 'Slack did not deliver a direct message');
      // Slack's own refusal ({ok: false}, rate limits aside) does not change by sending again.
      const Failure = code !== undefined && slackRetryAfterMs(error) === undefined ? UndeliverableError : Error;
      throw new Failure(`Slack did not deliver the message to ${to.user}${code ? `: ${code}` : ''}`, { cause: error });
    }
    // No Home refresh here: the change a message announces has refreshed it already (leaseChanges).
  }

  /** Republishes the Home tab of the Slack users holding `account`, once; never throws. */
  refreshHomeOf(account: string): Promise<void> {
    return this.home.refreshHomeOf(account);
  }

  private listen(): void {
    this.bolt.command(this.options.command ?? '/daaas', async ({ ack, command, respond }) => {
      // Acknowledged before anything else: Slack gives 3 s, the cloud may take longer.
      await ack();
      await this.answer(async () => {
        const outcome = await this.inbound.handle({ user: command.user_id, conversation: command.user_id, text: command.text ?? '' });
        await this.respond(respond, { response_type: 'ephemeral', ...outcome.rendered });
      });
    });

    this.bolt.action({ type: 'block_actions', action_id: new RegExp(`^${COMMAND_ACTION}:`) }, async ({ ack, body, action, respond }) => {
      await ack();
      const value = action.type === 'button' ? decodeButtonValue(action.value) : undefined;
      if (!value) return;
      await this.answer(() => this.answerClick(value, body, respond));
    });

    // Link buttons (Connect) open their URL in the browser; Slack still tells the app.
    this.bolt.action(new RegExp(`^${LINK_ACTION}:`), async ({ ack }) => {
      await ack();
    });

    this.bolt.event('app_home_opened', async ({ event }) => {
      if (event.tab !== 'home') return;
      await this.answer(() => this.home.publish(event.user));
    });
  }

  /** A click on a command button: in App Home, or on a card (the owner's updated in place). */
  private async answerClick(value: { command: string; owner?: string }, body: BlockAction, respond: RespondFn | undefined): Promise<void> {
    const clicker = body.user.id;
    const message = { user: clicker, conversation: clicker, text: value.command, ...(value.owner !== undefined ? { owner: value.owner } : {}) };
    if (body.container?.type === 'view' || body.view?.type === 'home') {
      // A button in App Home: the outcome shows at the top of the refreshed Home tab.
      await this.home.answerInHome(clicker, async () => (await this.inbound.handle(message)).reply);
      return;
    }
    const outcome = await this.inbound.handle(message);
    if (outcome.kind === 'answered' && !outcome.stranger && outcome.reply.tone !== 'error') {
      // The owner's own card is updated in place.
      await this.respond(respond, { replace_original: true, ...outcome.rendered });
    } else {
      // Only the clicker sees this; the card stays as it was for its owner.
      await this.respond(respond, { response_type: 'ephemeral', replace_original: false, ...outcome.rendered });
    }
  }

  /** The user look-up the inbound pipeline identifies Slack users with. */
  private async identityOf(slackUserId: string): Promise<Identified> {
    const identity = await this.mapper.resolve(slackUserId);
    return identity.ok ? identity : { ok: false, reply: this.mapper.unmappedReply(slackUserId, identity.reason) };
  }

  private async lookUpUser(slackUserId: string): Promise<SlackProfile | undefined> {
    try {
      const answer = await this.queue.push({ method: 'users.info', urgent: true, run: () => this.bolt.client.users.info({ user: slackUserId }) });
      const user = answer.user;
      if (!user) return undefined;
      // is_app_user is not a bot marker: it says the user authorised the calling app.
      const enterpriseId = user.enterprise_user?.enterprise_id;
      return {
        ...(user.profile?.email ? { email: user.profile.email } : {}),
        ...(user.deleted ? { deleted: true } : {}),
        ...(user.is_bot || user.is_workflow_bot ? { isBot: true } : {}),
        ...(user.is_restricted ? { restricted: true } : {}),
        ...(user.is_ultra_restricted ? { ultraRestricted: true } : {}),
        ...(user.team_id ? { teamId: user.team_id } : {}),
        ...(enterpriseId ? { enterpriseId } : {}),
      };
    } catch (error) {
      if (slackErrorCode(error) === 'user_not_found') return undefined;
      throw error;
    }
  }

  private async respond(respond: RespondFn | undefined, message: RespondArguments): Promise<void> {
    if (!respond) return;
    try {
      await this.queue.push({ method: 'response_url', urgent: true, run: () => respond(message) });
    } catch (error) {
      this.log.warn({ err: error }, 'could not answer through the response_url');
    }
  }

  /** Slack delivers an event again when it thinks it went unanswered; a repeat is acknowledged and dropped. */
  private async ignoreRepeats(args: AnyMiddlewareArgs & { next: () => Promise<void>; context: { retryNum?: number } }): Promise<void> {
    const key = deliveryKey(args.body as Record<string, unknown>);
    if (key && !(await this.inbound.firstDelivery(`slack:${key}`, { retryNum: args.context.retryNum }))) {
      if ('ack' in args && typeof args.ack === 'function') await (args.ack as () => Promise<void>)();
      return;
    }
    await args.next();
  }

  /** A Slack user id, or a channel id (`C…`, `G…`: the channel alerts go to), used as it is. */
  private slackUserOf(to: Recipient): string | undefined {
    if (/^[UWCG][A-Z0-9]{2,}$/.test(to.conversation)) return to.conversation;
    return this.mapper.slackUsersOf(to.user).at(-1);
  }
}

/** What identifies one delivery: the event id, or the trigger of a command or click. */
function deliveryKey(body: Record<string, unknown>): string | undefined {
  if (typeof body.event_id === 'string') return `event:${body.event_id}`;
  if (typeof body.trigger_id === 'string') return `trigger:${body.trigger_id}`;
  const actions = body.actions;
  const user = body.user as { id?: unknown } | undefined;
  if (Array.isArray(actions) && typeof (actions[0] as { action_ts?: unknown } | undefined)?.action_ts === 'string' && typeof user?.id === 'string') {
    return `action:${user.id}:${(actions[0] as { action_ts: string }).action_ts}`;
  }
  return undefined;
}
