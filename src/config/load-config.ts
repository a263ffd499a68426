import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import YAML from 'yaml';
import { teamsRequestedInEnv } from '../chat/teams/teams-auth.ts';
import type { AccessRules } from '../core/access.ts';
import { isAccountName, notAnAccountName } from '../core/account-name.ts';
import type { CircuitSettings } from '../core/circuit.ts';
import type { PoolSpec } from '../core/model.ts';
import { scheduleProblems } from './schedule-check.ts';
import { poolActivity } from './schema-activity.ts';
import { configSchema, crossCheck, identityCheck, type RawConfig } from './schema.ts';

export interface AppConfig {
  source: string;
  /** Marks this deployment's servers in the cloud. */
  instance: string;
  access: AccessRules & { localUserIsAdmin: boolean; directory?: DirectoryConfig };
  pools: PoolSpec[];
  scheduler: {
    schedule: string;
    maxConcurrentBoots: number;
    readinessTimeoutMs: number;
    failedRetentionMs: number;
    backoffInitialMs: number;
    backoffMaxMs: number;
    pollMs: number;
    /** scheduler.resyncEvery: a full walk of the cloud at least this often. */
    resyncEveryMs: number;
    /** The IANA zone pools' size schedules are read in. */
    timeZone: string;
    /** The circuit breaker of failing pools (scheduler.failureLimit, scheduler.circuitRetry). */
    circuit: CircuitSettings;
  };
  /** When the people who run the service are told, and where (`alerts:`). */
  alerts: { repeatMs: number; emptyForMs: number; slackChannel: string | null; directToAdmins: boolean };
  cloud: RawConfig['cloud'];
  provisioner: RawConfig['provisioner'];
  slack: RawConfig['slack'];
  teams: RawConfig['teams'];
  server: { host: string; port: number };
  dataDir: string;
  logLevel: string;
  /** How long history (ended leases, reminder records, deleted VMs) and the audit trail are kept. */
  retention: { historyMs: number; auditMs: number };
  /** How claimed VMs are looked at: every, jitter, concurrency, timeout, paths, the simulated probe's file. */
  activity: { everyMs: number; jitter: number; concurrency: number; timeoutMs: number; paths: string[]; simulatedFile?: string };
}

/** `access.directory`: the facility directory (its bind password comes from DAAAS_LDAP_BIND_PASSWORD). */
export type DirectoryConfig = NonNullable<RawConfig['access']['directory']>;

/** Start-up refuses a bad configuration, listing every problem at once. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`${source} is not a valid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

export type Env = Readonly<Record<string, string | undefined>>;

export function loadConfig(path: string, env: Env): AppConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(path, [`cannot be read: ${(error as Error).message}`]);
  }
  return parseConfig(text, path, env);
}

/** A DNS host name: dot-separated labels of letters, digits and inner hyphens. */
const HOST_NAME = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/i;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Validates YAML text plus the environment variables operators expect to override it. */
export function parseConfig(text: string, source: string, env: Env): AppConfig {
  if (text.trim() === '') throw new ConfigError(source, ['the file is empty: start from config/default.yaml']);
  const doc = YAML.parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) throw new ConfigError(source, [yamlProblem(doc.errors[0]!, text, doc.errors.length - 1)]);
  const data: unknown = doc.toJS();
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new ConfigError(source, ['the top level must be a mapping (keys such as pools:, access:)']);
  }

  const problems: string[] = [];
  const parsed = configSchema.safeParse(data);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) problems.push(...issueInWords(issue as unknown as Issue, data as Record<string, unknown>).split('\n'));
  }
  problems.push(...crossCheck(data as Record<string, unknown>));
  problems.push(...scheduleProblems(data as Record<string, unknown>));
  problems.push(...identityCheck(data as Record<string, unknown>, platformsInUse(data as Record<string, unknown>, env)));
  const server = serverFromEnv(env, problems);
  const logLevel = env.DAAAS_LOG_LEVEL || 'info';
  if (!LOG_LEVELS.includes(logLevel)) problems.push(`DAAAS_LOG_LEVEL: "${logLevel}" is not one of ${LOG_LEVELS.join(', ')}`);
  directoryFromEnv(data as Record<string, unknown>, env, problems);
  const extraAdmins = (env.DAAAS_ADMINS ?? '').split(',').map((a) => a.trim()).filter(Boolean);
  for (const admin of extraAdmins) if (!isAccountName(admin)) problems.push(`DAAAS_ADMINS: ${notAnAccountName(admin)}`);
  if (!parsed.success || problems.length > 0) throw new ConfigError(source, problems);

  const raw = parsed.data;
  return {
    source,
    instance: raw.instance,
    access: { ...raw.access, admins: [...raw.access.admins, ...extraAdmins] },
    pools: Object.entries(raw.pools).map(([name, p]) => toPoolSpec(name, p, raw.defaults)),
    scheduler: {
      schedule: raw.scheduler.schedule,
      maxConcurrentBoots: raw.scheduler.maxConcurrentBoots,
      readinessTimeoutMs: raw.scheduler.readinessTimeout,
      failedRetentionMs: raw.scheduler.failedRetention,
      backoffInitialMs: raw.scheduler.backoffInitial,
      backoffMaxMs: raw.scheduler.backoffMax,
      pollMs: raw.scheduler.poll,
      resyncEveryMs: raw.scheduler.resyncEvery,
      timeZone: raw.scheduler.timezone,
      circuit: { failureLimit: raw.scheduler.failureLimit, circuitRetryMs: raw.scheduler.circuitRetry },
    },
    alerts: { repeatMs: raw.alerts.repeat, emptyForMs: raw.alerts.emptyFor, slackChannel: raw.alerts.slackChannel ?? null, directToAdmins: raw.alerts.directToAdmins },
    cloud: raw.cloud,
    provisioner: raw.provisioner,
    slack: raw.slack,
    teams: raw.teams,
    server,
    dataDir: env.DAAAS_DATA_DIR || './var',
    logLevel,
    retention: { historyMs: raw.retention, auditMs: raw.auditRetention },
    activity: {
      everyMs: raw.activity.every,
      jitter: raw.activity.jitter,
      concurrency: raw.activity.concurrency,
      timeoutMs: raw.activity.timeout,
      paths: raw.activity.paths,
      ...(raw.activity.simulatedFile !== undefined ? { simulatedFile: raw.activity.simulatedFile } : {}),
    },
  };
}

/** The directory's bind password is a secret: it comes from the environment, never the YAML. */
function directoryFromEnv(data: Record<string, unknown>, env: Env, problems: string[]): void {
  const access = data.access as Record<string, unknown> | undefined;
  const directory = access && typeof access === 'object' ? (access.directory as Record<string, unknown> | undefined) : undefined;
  const bindDn = directory && typeof directory === 'object' ? directory.bindDn : undefined;
  if (typeof bindDn === 'string' && !env.DAAAS_LDAP_BIND_PASSWORD) {
    problems.push('access.directory.bindDn: the bind password comes from the environment variable DAAAS_LDAP_BIND_PASSWORD, which is not set');
  }
  if (directory && typeof directory === 'object' && 'password' in directory) {
    problems.push('access.directory.password: never put the password in the file: set DAAAS_LDAP_BIND_PASSWORD');
  }
}

/**
 * Which chat platforms this start will run, decided as main.ts decides it: Slack with a bot
 * token, Teams when enabled in the file or asked for by its variables. The embedded default
 * (the terminal only) needs no identity settings.
 */
function platformsInUse(data: Record<string, unknown>, env: Env): { slack: boolean; slackWhy: string; teams: boolean; teamsWhy: string } {
  const teams = data.teams;
  const teamsEnabled = typeof teams === 'object' && teams !== null && (teams as Record<string, unknown>).enabled === true;
  return {
    slack: Boolean(env.SLACK_BOT_TOKEN),
    slackWhy: 'SLACK_BOT_TOKEN is set',
    teams: teamsEnabled || teamsRequestedInEnv(env),
    teamsWhy: teamsEnabled ? 'teams.enabled is true' : 'Teams credentials or TEAMS_ALLOW_ANONYMOUS are set',
  };
}

/**
 * A YAML syntax error, once: the first one, with its line as written. One stray line makes the
 * parser report a cascade of follow-on errors that only hide the cause.
 */
function yamlProblem(error: YAML.YAMLError, text: string, more: number): string {
  const [line, column] = [error.linePos?.[0]?.line, error.linePos?.[0]?.col];
  const what = error.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
  const written = line ? text.split('\n')[line - 1]?.trim() : undefined;
  const where = line ? `line ${line}${column ? `, column ${column}` : ''}` : 'the file';
  const follow = more > 0 ? ` (fix it first: the parser's ${more} other complaint${more === 1 ? '' : 's'} follow from it)` : '';
  return `YAML error at ${where}${written ? ` ("${written.length > 60 ? `${written.slice(0, 57)}...` : written}")` : ''}: ${what}${follow}`;
}

/** The fields of a zod issue this module puts into words. */
interface Issue {
  code: string;
  path: PropertyKey[];
  message: string;
  origin?: string;
  minimum?: number | bigint;
  maximum?: number | bigint;
  inclusive?: boolean;
  expected?: string;
  input?: unknown;
  values?: unknown[];
  keys?: string[];
}

/** The blocks of settings that belong to one driver, by where they sit. */
const DRIVER_BLOCKS: Record<string, string[]> = { cloud: ['simulated', 'openstack'], provisioner: ['simulated', 'ansible'] };

const kind = (value: unknown): string => (value === null ? 'null' : Array.isArray(value) ? 'a list' : typeof value === 'object' ? 'a mapping' : typeof value === 'string' ? `the text "${value.length > 30 ? `${value.slice(0, 27)}...` : value}"` : `${typeof value} ${String(value)}`);

/**
 * A schema problem as the other messages say it ("pools.x.size: must be 0 or more"), not in the
 * validation library's words. Messages the schema sets itself are kept as they are. Several
 * problems in one issue come back one a line.
 */
function issueInWords(issue: Issue, data: Record<string, unknown>): string {
  const path = issue.path.map(String).join('.');
  const at = (message: string, where = path) => `${where || '(top level)'}: ${message}`;
  switch (issue.code) {
    case 'too_small':
    case 'too_big': {
      if (!/^Too (small|big):/.test(issue.message)) break;
      const small = issue.code === 'too_small';
      const bound = Number(small ? issue.minimum : issue.maximum);
      if (issue.origin === 'string') return at(small ? (bound <= 1 ? 'must not be empty' : `must be at least ${bound} characters`) : `must be at most ${bound} characters`);
      if (issue.origin === 'array' || issue.origin === 'set') return at(small ? `must list at least ${bound} ${bound === 1 ? 'entry' : 'entries'}` : `must list at most ${bound} entries`);
      if (issue.inclusive === false) return at(small ? `must be more than ${bound}` : `must be less than ${bound}`);
      return at(small ? `must be ${bound} or more` : `must be ${bound} or less`);
    }
    case 'invalid_type': {
      if (!/^Invalid input:/.test(issue.message)) break;
      const value = issue.path.reduce<unknown>((node, key) => (node !== null && typeof node === 'object' ? (node as Record<PropertyKey, unknown>)[key] : undefined), data);
      const expected = { number: 'a number', string: 'text', boolean: 'true or false', array: 'a list', object: 'a mapping', record: 'a mapping' }[issue.expected ?? ''] ?? issue.expected;
      return value === undefined ? at(`missing: it must be ${expected}`) : at(`must be ${expected}, not ${kind(value)}`);
    }
    case 'invalid_value':
      if (!/^Invalid (option|input):/.test(issue.message) || !issue.values) break;
      return at(`must be ${issue.values.map((v) => JSON.stringify(v)).join(', ').replace(/, ([^,]*)$/, ' or $1')}`);
    case 'unrecognized_keys': {
      const keys = issue.keys ?? [];
      const section = DRIVER_BLOCKS[path];
      const driver = (data[path] as Record<string, unknown> | undefined)?.driver;
      const misplaced = section ? keys.filter((k) => section.includes(k) && k !== driver) : [];
      const lines = misplaced.map((k) => at(`this block belongs to driver: ${k}, and ${path}.driver is ${JSON.stringify(driver)}: remove the block, or set ${path}.driver: ${k}`, `${path}.${k}`));
      const unknown = keys.filter((k) => !misplaced.includes(k));
      if (unknown.length) lines.push(at(`${unknown.length === 1 ? 'unknown key' : 'unknown keys'} ${unknown.map((k) => `"${k}"`).join(', ')}`));
      return lines.join('\n');
    }
  }
  return at(issue.message);
}

function serverFromEnv(env: Env, problems: string[]): AppConfig['server'] {
  const host = env.DAAAS_HOST || '127.0.0.1';
  if (!isIP(host) && (/^[\d.]+$/.test(host) || !HOST_NAME.test(host))) problems.push(`DAAAS_HOST: "${host}" is not an IP address or a host name (the address to listen on, e.g. 127.0.0.1, 0.0.0.0 or ::)`);
  const portText = env.DAAAS_PORT || '3000';
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65_535) problems.push(`DAAAS_PORT: "${portText}" is not a port number (0–65535; 0 picks a free one)`);
  return { host, port };
}

function toPoolSpec(name: string, p: RawConfig['pools'][string], d: RawConfig['defaults']): PoolSpec {
  return {
    name,
    description: p.description,
    image: p.image,
    flavor: p.flavor,
    gpu: p.gpu,
    networks: p.networks ?? d.networks,
    size: p.size,
    max: p.max,
    leaseMs: p.lease ?? d.lease,
    remindBeforeMs: [...(p.remindBefore ?? d.remindBefore)].sort((a, b) => b - a),
    extensionStepMs: p.extensionStep ?? d.extensionStep,
    maxExtensions: p.maxExtensions ?? d.maxExtensions,
    maxLeasesPerUser: p.maxLeasesPerUser ?? d.maxLeasesPerUser,
    groups: p.groups,
    connect: p.connect ?? d.connect,
    owner: p.owner,
    ...(p.schedule ? { schedule: p.schedule.map((w) => ({ cron: w.cron, forMs: w.for, size: w.size, ...(w.name !== undefined ? { name: w.name } : {}) })) } : {}),
    ...(p.leadTime !== undefined ? { leadTimeMs: p.leadTime } : {}),
    queue: p.queue ?? d.queue,
    holdForMs: p.holdFor ?? d.holdFor,
    autoAssign: p.autoAssign ?? d.autoAssign,
    extendWhileQueued: p.extendWhileQueued ?? d.extendWhileQueued,
    ...poolActivity(p, d),
  };
}
