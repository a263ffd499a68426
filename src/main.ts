/**
 * The composition root: the only place that reads the environment and the command line and
 * builds real adapters. Everything else receives its dependencies.
 */
import { userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { lockDataDir } from './adapters/data-dir-lock.ts';
import { MeteredCloud } from './adapters/metrics/metered-cloud.ts';
import { PromMetrics, type PoolCounts } from './adapters/metrics/prom-metrics.ts';
import { SqliteHistory } from './adapters/sqlite/history.ts';
import { SqliteActivity } from './adapters/sqlite/activity.ts';
import { SqliteAlerts } from './adapters/sqlite/alerts.ts';
import { SqliteStore } from './adapters/sqlite/sqlite-store.ts';
import { SystemClock } from './adapters/system-clock.ts';
import { createApp } from './app.ts';
import type { OutboundProxy } from './adapters/http-proxy.ts';
import { buildActivity, buildCloud, buildDirectory, buildProvisioner, ROOT, StartupError, type BuiltDirectory } from './compose.ts';
import { buildSlack, buildTeams } from './compose-chat.ts';
// The chat adapters, the terminal chat and the proxy (and their libraries, the largest the bot
// has) are loaded only when they are used: a bot without Slack starts without reading Bolt.
import { teamsRequestedInEnv } from './chat/teams/teams-auth.ts';
import { ConfigError, loadConfig, type AppConfig } from './config/load-config.ts';
import { ACCOUNT_NAME_RULE, accountNameProblem, isAccountName } from './core/account-name.ts';
import { HttpServer } from './http/http-server.ts';
import { readyzHandler } from './http/readiness.ts';
import { HistoryPruner } from './scheduler/history-pruner.ts';
import type { Cloud } from './ports/cloud.ts';
import type { Provisioner } from './ports/provisioner.ts';


const HELP = `Usage: npm start [-- options]

Runs the DAaaS bot with every chat platform that is configured. Without one, you chat with it
in this terminal.

Options:
  --user NAME   chat in the terminal as the facility account NAME, such as jane.doe
                (default: your login name, an admin by default)
  --shell       chat in the terminal too, next to the configured platforms
  --no-shell    run as a service without the terminal chat
  -h, --help    show this text

Environment:
  DAAAS_CONFIG     configuration file (default: config/default.yaml)
  DAAAS_DATA_DIR   where state is kept (default: ./var)
  DAAAS_HOST       HTTP address (default: 127.0.0.1)
  DAAAS_PORT       HTTP port (default: 3000; 0 picks a free one)
  DAAAS_ADMINS     extra admin accounts, comma-separated
  DAAAS_LOG_LEVEL  fatal, error, warn, info (default), debug, trace or silent
  OS_CLOUD, OS_*   the OpenStack cloud, when cloud.driver is openstack (clouds.yaml or an openrc)
  DAAAS_LDAP_BIND_PASSWORD
                   the password of access.directory.bindDn (the facility directory)
  SLACK_BOT_TOKEN  enables Slack (xoxb-…); with SLACK_APP_TOKEN (xapp-…) over Socket Mode,
                   else over HTTP at POST /slack/events, verified with SLACK_SIGNING_SECRET
  SLACK_API_URL    the Slack Web API base (default Slack's own; GovSlack and tests change it)
  clientId, clientSecret, tenantId
                   enable Teams at POST /api/messages: the bot's single-tenant app registration
                   (the Agents SDK's names; MicrosoftAppId/MicrosoftAppPassword/MicrosoftAppTenantId
                   and Connections__ServiceConnection__Settings__* work too)
  TEAMS_ALLOW_ANONYMOUS=1
                   Teams without credentials, for local trials; only with DAAAS_HOST on loopback
  HTTPS_PROXY, HTTP_PROXY, NO_PROXY (or lower-case)
                   the outbound proxy for Slack, Teams, Entra and OpenStack; NO_PROXY lists the
                   hosts reached directly (host, .domain, host:port, or *), such as the cloud

With input from a pipe or a file (npm start < script.txt), the bot answers each line, then waits
up to 60 s for the home set-ups the script's claims started (and the messages about them) before
it stops.

Exit status: 0 after a clean stop; 1 when start-up is refused (said in one sentence on stderr:
the configuration, the data directory, the store, a platform); 2 for an unknown option.
`;

/** How long the bot waits at the end of piped input for the work the input started. */
const INPUT_WORK_LIMIT_MS = 60_000;

async function main(): Promise<number> {
  let args;
  try {
    args = parseArgs({
      options: { user: { type: 'string' }, shell: { type: 'boolean' }, 'no-shell': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
      allowPositionals: false,
    }).values;
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(HELP);
    return 0;
  }
  // Refused before anything is taken: the same rule as every other account name the bot accepts.
  if (args.user !== undefined && !isAccountName(args.user)) {
    process.stderr.write(`The bot did not start: --user ${JSON.stringify(args.user)} is not an account name: ${accountNameProblem(args.user)}.\nA${ACCOUNT_NAME_RULE.slice(1)}.\n`);
    return 1;
  }

  // Everything taken during start-up is given back, in reverse, when start-up is refused:
  // no lock, pid file or open store is left behind, and the refusal is a line or two, no trace.
  const undo: (() => void | Promise<void>)[] = [];
  const refuse = async (error: unknown, log?: pino.Logger): Promise<number> => {
    for (const step of undo.reverse()) await Promise.resolve(step()).catch(() => {});
    // The whole error, with its causes, goes to the log; the operator reads the sentence.
    log?.error({ err: error }, 'start-up refused');
    const said = error instanceof Error ? error.message : String(error);
    process.stderr.write(error instanceof ConfigError ? `The bot did not start. ${said}\n` : `The bot did not start: ${said}\n`);
    return 1;
  };

  const configPath = process.env.DAAAS_CONFIG ? resolve(process.env.DAAAS_CONFIG) : join(ROOT, 'config', 'default.yaml');
  let config: AppConfig;
  try {
    config = loadConfig(configPath, process.env);
  } catch (error) {
    return refuse(error);
  }

  const slackConfigured = Boolean(process.env.SLACK_BOT_TOKEN);
  const teamsConfigured = config.teams.enabled || teamsRequestedInEnv(process.env);
  const shell = !args['no-shell'] && (Boolean(args.shell) || !(slackConfigured || teamsConfigured));
  const dataDir = resolve(config.dataDir);
  try {
    undo.push(lockDataDir(dataDir));
  } catch (error) {
    return refuse(error);
  }
  // In the terminal chat the logs would bury the conversation, so they go to a file there.
  const log = pino(
    { level: config.logLevel, base: { service: 'daaas' }, redact: ['*.token', '*.password', '*.secret', '*.clientSecret', '*.botToken', '*.appToken', '*.signingSecret', '*.authorization', '*["x-auth-token"]'] },
    shell ? pino.destination({ dest: join(dataDir, 'daaas.log'), mkdir: true, sync: true }) : pino.destination({ dest: 1, sync: true }),
  );

  const clock = new SystemClock();
  let cloud: Cloud;
  let provisioner: Provisioner;
  let directory: BuiltDirectory | undefined;
  let activity: Awaited<ReturnType<typeof buildActivity>>;
  let store: SqliteStore;
  let proxy: OutboundProxy | undefined;
  try {
    // Read once, before any client is built: every outbound call honours it.
    proxy = await buildOutboundProxy(process.env, log);
    store = new SqliteStore(join(dataDir, 'daaas.db'));
    const opened = store;
    undo.push(() => opened.close());
    cloud = await buildCloud(config, dataDir, clock, log, proxy);
    provisioner = await buildProvisioner(config, dataDir, clock, log);
    directory = await buildDirectory(config, process.env, clock, log);
    activity = await buildActivity(config, dataDir, clock, log);
  } catch (error) {
    return refuse(error, log);
  }
  if (directory) {
    // Closed after the app stops (undo runs last in, first out).
    const ldap = directory.ldap;
    undo.push(() => ldap.close());
  }
  const account = args.user ?? safeLoginName();
  const metrics = new PromMetrics(() => poolCounts(store), { processMetrics: true });
  const app = createApp({
    config,
    store,
    cloud: new MeteredCloud(cloud, metrics, clock),
    provisioner,
    clock,
    log,
    metrics,
    localAccounts: args.user !== undefined ? new Set() : new Set([account]),
    ...(directory ? { directory: directory.directory } : {}),
    activity: { ...activity, store: new SqliteActivity(store.db) },
    alerts: new SqliteAlerts(store),
  });
  undo.push(() => app.stop());

  const http = new HttpServer(log.child({ component: 'http' }));
  undo.push(() => http.close());
  // Chat adapters mount their endpoints before the server listens, and connect once it does.
  const chats: { name: string; adapter: { start(): Promise<void>; stop(): Promise<void> }; connected: boolean }[] = [];
  undo.push(async () => {
    for (const chat of chats) await chat.adapter.stop();
  });
  // Signals are handled from here on, so one that comes during start-up still stops the bot in order.
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      for (const step of undo.splice(0).reverse()) await step();
      log.info({}, 'stopped');
    })());
  process.once('SIGINT', () => void stop().then(() => process.exit(0)));
  process.once('SIGTERM', () => void stop().then(() => process.exit(0)));

  http.mount('GET', '/metrics', async (_req, res) => {
    res.writeHead(200, { 'content-type': metrics.contentType });
    res.end(await metrics.render());
  });
  http.mount(
    'GET',
    '/readyz',
    readyzHandler({
      storeWritable: () => store.checkWritable(),
      cloud: () => app.reconciler.status,
      chats: () => chats.map(({ name, connected }) => ({ name, connected })),
      now: () => clock.now(),
      // The cron heartbeat looks at the cloud every minute at the least.
      cloudFreshMs: 180_000,
      log: log.child({ component: 'readyz' }),
    }),
  );
  try {
    if (slackConfigured) chats.push({ name: 'slack', adapter: await buildSlack(config, app, http, store, clock, log, proxy, process.env), connected: false });
    if (teamsConfigured) chats.push({ name: 'teams', adapter: await buildTeams(config, app, http, store, clock, log, proxy, process.env), connected: false });
    const address = await http.listen(config.server.host, config.server.port).catch((error: unknown) => {
      // A host that does not resolve or is not this machine's is DAAAS_HOST's fault, not the port's.
      const code = (error as { code?: string }).code ?? '';
      const fix = ['ENOTFOUND', 'EAI_AGAIN', 'EADDRNOTAVAIL'].includes(code) ? 'Set DAAAS_HOST to an address of this machine (127.0.0.1, 0.0.0.0 or one of its own).' : 'Set DAAAS_PORT to a free port.';
      throw new StartupError(`cannot listen on ${config.server.host}:${config.server.port} (${(error as Error).message}). ${fix}`);
    });
    log.info({ host: address.address, port: address.port, config: config.source, dataDir }, 'listening');
    for (const chat of chats) {
      await chat.adapter.start();
      chat.connected = true;
    }
  } catch (error) {
    return refuse(error, log);
  }


  // Old history is forgotten on its own timer, in small batches, beside the ticks.
  const pruner = new HistoryPruner({ store: new SqliteHistory(store), clock, log: log.child({ component: 'history' }), settings: config.retention });
  undo.push(() => pruner.stop());
  pruner.start();

  if (!shell) {
    app.loop.start();
    log.info({ pools: config.pools.map((p) => p.name) }, 'running as a service; stop with SIGTERM');
    return new Promise<number>(() => {});
  }

  const { SHELL_PLATFORM, ShellAdapter, waitForInputWork } = await import('./chat/shell/shell-adapter.ts');
  const interactive = Boolean(process.stdin.isTTY);
  // In a terminal, tables fit its width (read at each answer: the window may be resized).
  const adapter = new ShellAdapter({
    input: process.stdin,
    output: process.stdout,
    account,
    interactive,
    clock,
    dispatch: app.dispatch,
    columns: () => (process.stdout.isTTY ? process.stdout.columns : undefined),
    // An admin here may act as others (`as bob claim excitations`) and sees their direct messages.
    isAdmin: async (who) => (await app.principalOf(who, SHELL_PLATFORM)).isAdmin,
  });
  // Registered before the first tick: a teardown or reminder due at start-up must find its way.
  app.notifier.register(SHELL_PLATFORM, adapter);
  app.notifier.watch((to, message) => adapter.mirror(to, message));
  if (interactive) {
    process.stdout.write(
      `DAaaS bot — you are ${account}. ${config.pools.length} pool${config.pools.length === 1 ? '' : 's'}; warm VMs are being prepared.\n` +
        `Type "help" for the commands, "exit" or Ctrl-D to leave. Logs: ${join(dataDir, 'daaas.log')}\n` +
        `Admins can try the bot as someone else: as bob claim <pool>\n\n`,
    );
  }
  app.loop.start();
  await adapter.run();
  // A script piped in (npm start < script.txt): the home set-ups its claims started, and the
  // messages saying they are ready, finish before the bot stops, up to a limit.
  if (!interactive) {
    await waitForInputWork({
      pending: () => ({
        setups: store.activeLeases().filter((lease) => lease.platform === SHELL_PLATFORM && lease.homeReadyAt === null).length,
        messages: (store.nextMessageDueAt() ?? Infinity) <= clock.now() ? 1 : 0,
      }),
      clock,
      limitMs: INPUT_WORK_LIMIT_MS,
      say: (text) => process.stdout.write(text),
    });
  }
  await stop();
  return 0;
}

/**
 * The outbound proxy HTTPS_PROXY / HTTP_PROXY / NO_PROXY set (lower-case forms too), read once,
 * here; undefined when none is set. It becomes the global fetch's default too, for the clients
 * that take no agent (the Agents SDK's connector and Entra token requests).
 */
async function buildOutboundProxy(env: NodeJS.ProcessEnv, log: pino.Logger): Promise<OutboundProxy | undefined> {
  // No proxy variable at all (the usual case): the proxy module and its agents are not loaded.
  if (!['http_proxy', 'https_proxy', 'HTTP_PROXY', 'HTTPS_PROXY'].some((name) => env[name]?.trim())) return undefined;
  const { outboundProxyFromEnv } = await import('./adapters/http-proxy.ts');
  let proxy: OutboundProxy | undefined;
  try {
    proxy = outboundProxyFromEnv(env);
  } catch (error) {
    throw new StartupError((error as Error).message);
  }
  if (!proxy) return undefined;
  proxy.installGlobal();
  log.info(proxy.describe(), 'outbound calls go through the proxy, except to NO_PROXY hosts');
  return proxy;
}

/** VMs per pool and state, read when /metrics is scraped. */
function poolCounts(store: SqliteStore): PoolCounts[] {
  const counts = new Map<string, number>();
  for (const vm of store.listVms()) counts.set(`${vm.pool}\u0000${vm.state}`, (counts.get(`${vm.pool}\u0000${vm.state}`) ?? 0) + 1);
  return [...counts].map(([key, count]) => {
    const [pool = '', state = ''] = key.split('\u0000');
    return { pool, state, count };
  });
}

/** The login name, if it is an account name by the bot's rule; `local` otherwise. */
function safeLoginName(): string {
  try {
    const name = userInfo().username;
    return isAccountName(name) ? name : 'local';
  } catch {
    return 'local';
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`The bot stopped on an unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
