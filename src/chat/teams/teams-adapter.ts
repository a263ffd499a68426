import { CloudAdapter, type AuthConfiguration } from '@microsoft/agents-hosting';
import { errorMessage } from '../../core/error-message.ts';
import type { HttpServer } from '../../http/http-server.ts';
import type { Clock } from '../../ports/clock.ts';
import type { DeliveryLog } from '../../ports/delivery-log.ts';
import type { Logger } from '../../ports/logger.ts';
import type { Notifier, Recipient } from '../../ports/notifier.ts';
import type { Invocation } from '../invocation.ts';
import type { Reply } from '../reply.ts';
import { BotConnectorAuth, BotConnectorKeys } from './bot-connector-auth.ts';
import type { ConversationReferenceStore } from './conversation-store.ts';
import { TeamsOutboundQueue, type TeamsLimits } from './outbound-queue.ts';
import { TeamsPersonalChat } from './personal-chat.ts';
import { agentRequestHandler } from './request-handler.ts';
import { CLOUDS, ServiceUrlPolicy, type TeamsCloud } from './service-urls.ts';
import { isLoopbackHost, teamsAuthFromEnv, type TeamsAuth } from './teams-auth.ts';
import { TEAMS_PLATFORM, TeamsInbound } from './teams-inbound.ts';
import { TeamsUserLookup } from './user-lookup.ts';
import { TeamsUserMapper, type TeamsIdentityRules } from './user-mapper.ts';

export { TEAMS_PLATFORM };
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
  /** Deliveries already handled, to recognise Teams sending one again (the SQLite store in production). Default: in memory. */
  deliveries?: DeliveryLog;
  /** How long a message is remembered to recognise Teams sending it again. Default 1 h. */
  repeatWindowMs?: number;
  /** Ask Entra for a token in start(), so bad credentials stop the bot at once. Default true. */
  verifyCredentials?: boolean;
  /**
   * The fetch for the Bot Framework's signing keys: through the outbound proxy when one is set.
   * The Agents SDK itself (connector, Entra tokens) calls the global fetch, whose default
   * dispatcher the composition root points at the proxy.
   */
  fetch?: typeof globalThis.fetch;
}

/**
 * Microsoft Teams as a chat platform, on the Microsoft 365 Agents SDK: the wiring. The SDK and
 * its credentials, who may call `POST /api/messages` (bot-connector-auth.ts, service-urls.ts),
 * and the bot's HTTP server; turns go to the inbound transport (teams-inbound.ts), messages the
 * bot sends on its own to the personal chat (personal-chat.ts).
 */
export class TeamsAdapter implements Notifier {
  /** The credentials from the environment, checked against the bound host; see teams-auth.ts. */
  static readonly authFromEnv = teamsAuthFromEnv;

  readonly adapter: CloudAdapter;
  private readonly log: Logger;
  private readonly queue: TeamsOutboundQueue;
  private readonly mapper: TeamsUserMapper;
  private readonly cloud: TeamsCloud;
  /** Where replies, look-ups and reminders may go; a request naming anything else is refused. */
  private readonly serviceUrls: ServiceUrlPolicy;
  private readonly personalChat: TeamsPersonalChat;
  private readonly inbound: TeamsInbound;
  private stopped = false;

  constructor(private readonly options: TeamsAdapterOptions) {
    this.log = options.log.child({ component: 'teams' });
    if (options.auth.mode === 'anonymous' && !isLoopbackHost(options.host)) {
      throw new Error(`Teams anonymous mode is honoured only on a loopback address, and the bot listens on ${options.host || '(all addresses)'}: it would accept any request and post replies to any serviceUrl.`);
    }
    if (options.auth.mode === 'production' && !(options.auth.clientId && options.auth.clientSecret && options.auth.tenantId)) {
      throw new Error('Teams needs the app id, secret and tenant (clientId, clientSecret, tenantId).');
    }
    const tenants = options.tenants ?? (options.auth.mode === 'production' ? [options.auth.tenantId] : undefined);
    this.cloud = options.cloud ?? 'public';
    const endpoints = CLOUDS[this.cloud];
    // Anonymous mode talks to loopback service URLs only; production to the Bot Connector's hosts.
    this.serviceUrls = new ServiceUrlPolicy(options.auth.mode === 'production' ? (options.serviceUrls?.length ? options.serviceUrls : endpoints.serviceHosts) : undefined);

    const outbound = options.outbound ?? {};
    this.queue = new TeamsOutboundQueue({
      clock: outbound.clock ?? options.clock,
      log: this.log,
      ...(outbound.limits ? { limits: outbound.limits } : {}),
      ...(outbound.concurrency ? { concurrency: outbound.concurrency } : {}),
      ...(outbound.maxAttempts ? { maxAttempts: outbound.maxAttempts } : {}),
      ...(outbound.backoff ? { backoff: outbound.backoff } : {}),
      ...(outbound.random ? { random: outbound.random } : {}),
    });
    this.mapper = new TeamsUserMapper({ rules: options.identity, clock: options.clock, log: this.log });

    // Production checks the serviceUrl of each activity against its signed token's claim.
    this.adapter = new CloudAdapter(authConfiguration(options.auth, this.cloud), undefined, undefined, { validateServiceUrl: options.auth.mode === 'production' });
    // The SDK's default answers a failed turn with "please fix the source code" messages to the user.
    this.adapter.onTurnError = async (_context, error) => {
      this.log.error({ err: error }, 'Teams turn failed');
    };
    this.personalChat = new TeamsPersonalChat({
      adapter: this.adapter,
      auth: options.auth,
      references: options.references,
      queue: this.queue,
      serviceUrls: this.serviceUrls,
      userKeysOf: (account) => this.mapper.userKeysOf(account),
      clock: options.clock,
      log: this.log,
    });
    this.inbound = new TeamsInbound({
      dispatch: options.dispatch,
      users: new TeamsUserLookup({
        rules: options.identity,
        mapper: this.mapper,
        tenants: tenants && new Set(tenants.map((t) => t.toLowerCase())),
        references: options.references,
        queue: this.queue,
        serviceUrls: this.serviceUrls,
        clock: options.clock,
        log: this.log,
      }),
      references: options.references,
      queue: this.queue,
      serviceUrls: this.serviceUrls,
      connectorClientKey: this.adapter.ConnectorClientKey,
      sendPersonally: (account, userKey, answer) => this.notify({ platform: TEAMS_PLATFORM, user: account, conversation: userKey }, answer),
      ...(options.deliveries ? { deliveries: options.deliveries } : {}),
      ...(options.repeatWindowMs ? { repeatWindowMs: options.repeatWindowMs } : {}),
      clock: options.clock,
      log: this.log,
    });
    // The SDK's own JWT check accepts Entra tokens without a serviceurl claim: production checks tokens itself.
    const auth =
      options.auth.mode === 'production'
        ? new BotConnectorAuth({
            appId: options.auth.clientId,
            issuer: endpoints.issuer,
            serviceUrls: this.serviceUrls,
            keys: new BotConnectorKeys({ openIdMetadataUrl: options.openIdMetadataUrl ?? endpoints.openIdMetadataUrl, clock: options.clock, log: this.log, ...(options.fetch ? { fetch: options.fetch } : {}) }),
            clock: options.clock,
          })
        : undefined;
    options.http.mount(
      'POST',
      TEAMS_MESSAGES_PATH,
      agentRequestHandler({
        adapter: this.adapter,
        logic: (context) => this.inbound.onTurn(context),
        log: this.log,
        accepting: () => !this.stopped,
        ...(auth ? { authenticate: (request) => auth.authenticate(request.headers.authorization, request.body ?? {}) } : {}),
        // Replies and member look-ups go to the activity's serviceUrl: only to the allowed ones.
        refuse: (activity) => {
          const refusal = this.serviceUrls.refusal(typeof activity.serviceUrl === 'string' ? activity.serviceUrl : undefined);
          return refusal && (options.auth.mode === 'anonymous' ? 'in anonymous mode the serviceUrl must be a loopback address' : refusal);
        },
      }),
    );
  }

  get mode(): TeamsAuth['mode'] {
    return this.options.auth.mode;
  }

  /** Checks the credentials with Entra (a token for the Bot Connector), then accepts requests. */
  async start(): Promise<void> {
    const { auth } = this.options;
    if (auth.mode === 'production' && this.options.verifyCredentials !== false) {
      try {
        await this.adapter.connectionManager.getDefaultConnection().getAccessToken(CLOUDS[this.cloud].scope);
      } catch (error) {
        throw new Error(`Teams: could not get a token from Entra for app ${auth.clientId} in tenant ${auth.tenantId} (from ${auth.source}). Check clientId, clientSecret and tenantId, and that the bot can reach Entra: ${errorMessage(error)}`, { cause: error });
      }
    }
    this.log.info({ mode: auth.mode, path: TEAMS_MESSAGES_PATH }, auth.mode === 'anonymous' ? 'Teams adapter listening WITHOUT authentication (local trial on loopback)' : 'Teams adapter listening');
  }

  /** Refuses new requests (503: Teams sends them again), lets work under way finish for a few seconds, then stops sending. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.queue.stopAfter(() => this.inbound.idle());
  }

  /** Resolves when every acknowledged message has been answered and nothing is waiting to be sent. */
  async idle(): Promise<void> {
    await this.inbound.idle();
    await this.queue.idle();
  }

  /** Reminders and teardown notices: a card in the user's personal chat (see personal-chat.ts). */
  notify(to: Recipient, messageToSend: Reply): Promise<void> {
    return this.personalChat.send(to, messageToSend);
  }
}

/** The SDK's configuration for one connection, built from our checked credentials, not from process.env. */
function authConfiguration(auth: TeamsAuth, cloud: TeamsCloud): AuthConfiguration {
  const authority = cloud === 'gov' ? { authorityEndpoint: 'https://login.microsoftonline.us' } : {};
  const settings: AuthConfiguration = auth.mode === 'production' ? { clientId: auth.clientId, clientSecret: auth.clientSecret, tenantId: auth.tenantId, ...authority } : {};
  return { ...settings, connections: new Map([[CONNECTION, settings]]), connectionsMap: [{ serviceUrl: '*', connection: CONNECTION }] };
}
