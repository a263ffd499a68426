/**
 * Builds the chat adapters the environment asks for (Slack, Teams) for the composition root,
 * main.ts, which reads the environment and hands it here. Each adapter and its SDK is loaded
 * only when it is used.
 */
import type { OutboundProxy } from './adapters/http-proxy.ts';
import { SqliteDeliveryLog } from './adapters/sqlite/delivery-log.ts';
import type { SqliteStore } from './adapters/sqlite/sqlite-store.ts';
import { SqliteTeamsConversations } from './adapters/sqlite/teams-conversations.ts';
import type { App } from './app.ts';
import type { SlackAdapter } from './chat/slack/slack-adapter.ts';
import type { TeamsAdapter } from './chat/teams/teams-adapter.ts';
import { StartupError } from './compose.ts';
import type { AppConfig } from './config/load-config.ts';
import type { HttpServer } from './http/http-server.ts';
import type { Clock } from './ports/clock.ts';
import type { Logger } from './ports/logger.ts';

/** Teams on the bot's HTTP server, its credentials from `env` (the Agents SDK's names); registered with the app's notifier. */
export async function buildTeams(config: AppConfig, app: App, http: HttpServer, store: SqliteStore, clock: Clock, log: Logger, proxy: OutboundProxy | undefined, env: NodeJS.ProcessEnv): Promise<TeamsAdapter> {
  const { TEAMS_PLATFORM, TeamsAdapter } = await import('./chat/teams/teams-adapter.ts');
  const auth = TeamsAdapter.authFromEnv(env, config.server.host);
  if (!auth.ok) throw new StartupError(auth.error);
  const { identity } = config.teams;
  const teams = new TeamsAdapter({
    auth: auth.auth,
    host: config.server.host,
    http,
    dispatch: (invocation) => app.dispatch(invocation),
    identity: {
      rule: identity.rule,
      domains: identity.domains,
      map: identity.map,
      contact: identity.contact,
      allowGuests: identity.allowGuests,
      cacheTtlMs: identity.cacheTtl,
      negativeTtlMs: identity.negativeTtl,
    },
    references: new SqliteTeamsConversations(store),
    // Teams' repeated messages and invokes are recognised across a restart.
    deliveries: new SqliteDeliveryLog(store),
    ...(config.teams.tenants.length ? { tenants: config.teams.tenants } : {}),
    cloud: config.teams.cloud,
    ...(config.teams.serviceUrls.length ? { serviceUrls: config.teams.serviceUrls } : {}),
    // The key set; the SDK's own calls take the global fetch, which buildOutboundProxy pointed at the proxy.
    ...(proxy ? { fetch: proxy.fetch } : {}),
    clock,
    log: log.child({ component: 'teams' }),
  });
  app.notifier.register(TEAMS_PLATFORM, teams);
  log.info({ mode: auth.auth.mode }, 'Teams enabled');
  return teams;
}

/** Slack (Socket Mode or HTTP), its tokens from `env`; registered with the app's notifier. */
export async function buildSlack(config: AppConfig, app: App, http: HttpServer, store: SqliteStore, clock: Clock, log: Logger, proxy: OutboundProxy | undefined, env: NodeJS.ProcessEnv): Promise<SlackAdapter> {
  const { SLACK_PLATFORM, SlackAdapter } = await import('./chat/slack/slack-adapter.ts');
  const { identity } = config.slack;
  const slack = new SlackAdapter({
    botToken: env.SLACK_BOT_TOKEN ?? '',
    ...(env.SLACK_APP_TOKEN ? { appToken: env.SLACK_APP_TOKEN } : {}),
    ...(env.SLACK_SIGNING_SECRET ? { signingSecret: env.SLACK_SIGNING_SECRET } : {}),
    ...(env.SLACK_API_URL ? { slackApiUrl: env.SLACK_API_URL } : {}),
    http,
    command: config.slack.command,
    dispatch: (invocation) => app.dispatch(invocation),
    identity: { rule: identity.rule, domains: identity.domains, map: identity.map, contact: identity.contact, cacheTtlMs: identity.cacheTtl, negativeTtlMs: identity.negativeTtl },
    home: { service: app.service, principal: (account) => app.principalOf(account, SLACK_PLATFORM) },
    // Whatever platform a lease changed on, the user's Slack Home shows it, once.
    leaseChanges: (listener) => app.onLeaseChange(listener),
    // Slack's retried events are recognised across a restart.
    deliveries: new SqliteDeliveryLog(store),
    ...(proxy ? { proxy } : {}),
    clock,
    log: log.child({ component: 'slack' }),
  });
  app.notifier.register(SLACK_PLATFORM, slack);
  log.info({ mode: slack.mode, command: config.slack.command }, 'Slack enabled');
  return slack;
}
