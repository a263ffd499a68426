import cron from 'node-cron';
import { z } from 'zod';
import { ACCOUNT_NAME_PATTERN, ACCOUNT_NAME_RULE, isAccountName, notAnAccountName } from '../core/account-name.ts';
import { parseDurationMs } from '../core/duration.ts';

/** "48h", "10m", "90s", "2d", "1h30m" → milliseconds. */
const duration = z
  .string({ error: 'expected a duration such as 90s, 10m, 48h or 2d' })
  .transform((text, ctx) => {
    const ms = parseDurationMs(text);
    if (ms === undefined || ms <= 0) {
      ctx.addIssue({ code: 'custom', message: `"${text}" is not a duration: write e.g. 90s, 10m, 48h or 2d` });
      return z.NEVER;
    }
    return ms;
  });

const NAME = /^[a-z][a-z0-9-]{0,30}[a-z0-9]$/;
const NAME_RULE = 'use 2–32 lower-case letters, digits and dashes, starting with a letter';
const name = z.string().regex(NAME, NAME_RULE);
/** How pool groups and admins name a group of the facility directory (see core/access.ts). */
const DIRECTORY_PREFIX = 'ldap:';
const DIRECTORY_GROUP = /^ldap:[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$/;
/** A group of access.groups, or of the facility directory: `ldap:<group>`. */
const groupRef = z.string().refine((g) => (g.startsWith(DIRECTORY_PREFIX) ? DIRECTORY_GROUP.test(g) : NAME.test(g)), {
  error: (issue) =>
    String(issue.input).startsWith(DIRECTORY_PREFIX) ? 'a directory group is written ldap:<group name> (letters, digits, space, ".", "_", "-")' : NAME_RULE,
});
const DEFAULT_LEASE_MS = 48 * 3_600_000;
const DEFAULT_REMINDERS_MS = [24 * 3_600_000, 3_600_000, 600_000];
/** A facility account, by the bot's one rule (core/account-name.ts). */
const account = z.string().refine(isAccountName, {
  error: (issue) => (issue.input === '*' ? '"*" is not an account name: name admins one by one ("*" means every account only in group lists)' : notAnAccountName(String(issue.input))),
});
/** A group member: an account, or `*` for every account. */
const member = z.string().refine((v) => v === '*' || isAccountName(v), { error: (issue) => notAnAccountName(String(issue.input)) });
/** A mail domain as people write it: facility.example (its subdomains are included). */
const MAIL_DOMAIN = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/i;
const mailDomain = z.string().refine((d) => MAIL_DOMAIN.test(d), { error: (issue) => `${JSON.stringify(issue.input)} is not a mail domain: write it like facility.example (subdomains are included)` });
/**
 * The identity rules a platform offers. The whole-address rules (`email`, `upn`) were removed:
 * an address is not an account name, so the accounts they gave could never be set up on a VM.
 */
const identityRule = <const R extends readonly [string, ...string[]]>(rules: R, instead: string) =>
  z.enum(rules, {
    error: (issue) =>
      issue.input === 'email' || issue.input === 'upn'
        ? `"${String(issue.input)}" would make whole addresses accounts, and an address is not an account name: use ${instead}`
        : `must be one of ${rules.join(', ')}`,
  });
const count = (min: number) => z.number().int(`must be a whole number`).min(min).max(100_000);
const fraction = z.number().min(0).max(1);

const poolFields = {
  description: z.string().max(200),
  image: z.string().min(1),
  flavor: z.string().min(1),
  gpu: z.boolean(),
  networks: z.array(z.string().min(1)),
  size: count(0),
  max: count(1),
  lease: duration,
  remindBefore: z.array(duration).max(10),
  extensionStep: duration,
  maxExtensions: count(0),
  maxLeasesPerUser: count(1),
  groups: z.array(groupRef).min(1),
  connect: z.string().min(1).max(500),
  owner: z.strictObject({ name: z.string().min(1), contact: z.string().min(1) }),
};

const pool = z.strictObject({
  ...poolFields,
  description: poolFields.description.default(''),
  gpu: poolFields.gpu.default(false),
  networks: poolFields.networks.optional(),
  lease: duration.optional(),
  remindBefore: poolFields.remindBefore.optional(),
  extensionStep: duration.optional(),
  maxExtensions: poolFields.maxExtensions.optional(),
  maxLeasesPerUser: poolFields.maxLeasesPerUser.optional(),
  connect: poolFields.connect.optional(),
});

const defaults = z.strictObject({
  lease: duration.default(DEFAULT_LEASE_MS),
  remindBefore: poolFields.remindBefore.default(DEFAULT_REMINDERS_MS),
  extensionStep: duration.default(24 * 3_600_000),
  maxExtensions: count(0).default(2),
  maxLeasesPerUser: count(1).default(1),
  networks: poolFields.networks.default([]),
  connect: poolFields.connect.default('ssh {account}@{address}'),
});

const simulatedCloud = z.strictObject({
  bootTime: duration.default(5_000),
  bootFailureRate: fraction.default(0),
  apiFailureRate: fraction.default(0),
  latency: z.union([z.literal(0), duration]).default(20),
  quota: z.strictObject({ instances: count(0), cores: count(0) }).default({ instances: 100, cores: 1_000 }),
  flavors: z.record(z.string().min(1), z.strictObject({ vcpus: count(1), gpus: count(0).default(0) })),
  images: z.array(z.string().min(1)).min(1),
});

const openstackCloud = z.strictObject({
  /** A clouds.yaml entry; without it OS_CLOUD or the OS_* variables say which cloud. */
  cloud: z.string().min(1).optional(),
  pageSize: z.number().int('must be a whole number').min(1).max(1_000).default(200),
  timeout: duration.default(30_000),
  imageRefresh: duration.default(300_000),
  keyName: z.string().min(1).optional(),
  securityGroups: z.array(z.string().min(1)).default([]),
  userData: z.string().max(65_535).optional(),
});

/** Variables handed to every play: plain values only (they are passed as literals, never templated). */
type VarValue = string | number | boolean | null | VarValue[] | { [key: string]: VarValue };
const varValue: z.ZodType<VarValue> = z.lazy(() => z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(varValue), z.record(z.string(), varValue)]));

const ansibleProvisioner = z.strictObject({
  /** The directory with ansible.cfg and the playbooks, relative to the project. */
  dir: z.string().min(1).default('ansible'),
  command: z.string().min(1).default('ansible-playbook'),
  /** `address`: plays reach each VM over SSH; `local`: they run on this machine, in sandboxRoot. */
  target: z.enum(['address', 'local']).default('address'),
  sandboxRoot: z.string().regex(/^\/[A-Za-z0-9._/-]*$/, 'an absolute path of letters, digits, ".", "_", "-" and "/"').optional(),
  ssh: z
    .strictObject({
      user: z.string().regex(ACCOUNT_NAME_PATTERN, `the account the plays log in with: ${ACCOUNT_NAME_RULE}`),
      port: z.number().int().min(1).max(65_535).optional(),
      privateKeyFile: z.string().min(1).optional(),
      /** How long to wait for a VM's SSH to answer, per connection. */
      connectTimeout: duration.default(30_000),
      /** A bastion the connections go through (ssh -W); its key is pinned in knownHostsFile. */
      jumpHost: z
        .strictObject({
          host: z.string().regex(/^[A-Za-z0-9.:-]{1,253}$/, 'a host name or address'),
          user: z.string().regex(ACCOUNT_NAME_PATTERN, `the account on the bastion: ${ACCOUNT_NAME_RULE}`).optional(),
          port: z.number().int().min(1).max(65_535).optional(),
          knownHostsFile: z.string().regex(/^\/[A-Za-z0-9._/-]*$/, "an absolute path to a known_hosts file holding the bastion's key"),
        })
        .optional(),
    })
    .optional(),
  /**
   * Check each VM's SSH host key against the one the bot gave it at boot (in the user data).
   * false accepts any key: only for a site whose VMs cannot take user data, and said at start.
   */
  hostKeyChecking: z.boolean().default(true),
  maxConcurrent: count(1).default(4),
  timeouts: z.strictObject({ provision: duration.default(900_000), claim: duration.default(120_000), release: duration.default(120_000) }).prefault({}),
  /** Pool → facility role; by default the role named like the pool (excitations-gpu → excitations). */
  facilities: z.record(z.string(), z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, 'a role name')).default({}),
  extraVars: z.record(z.string(), varValue).default({}),
});

const ldapAttribute = z.string().regex(/^[A-Za-z][A-Za-z0-9-]{0,63}$/, 'an LDAP attribute name');
/** One parenthesised LDAP filter (checked for balanced parentheses when the directory is built). */
const ldapFilter = z.string().regex(/^\(.*\)$/, 'an LDAP filter in parentheses, e.g. (objectClass=posixAccount)').max(2_000);

/** The facility directory: who may use the bot, their groups, and the ids their files have. */
const directory = z
  .strictObject({
    driver: z.literal('ldap'),
    /** ldap:// (upgraded with StartTLS before anything is sent) or ldaps://. */
    url: z.string().regex(/^ldaps?:\/\/[A-Za-z0-9.:[\]-]+\/?$/, 'an ldap:// (StartTLS is used) or ldaps:// address, e.g. ldaps://ldap.facility.example'),
    /** PEM file of the CA that signed the directory's certificate; the system's CAs otherwise. */
    caFile: z.string().min(1).optional(),
    /** The bot's own entry; its password comes from DAAAS_LDAP_BIND_PASSWORD. Anonymous without it. */
    bindDn: z.string().min(1).max(1_024).optional(),
    userBase: z.string().min(1).max(1_024),
    groupBase: z.string().min(1).max(1_024),
    preset: z.enum(['openldap', 'active-directory']).default('openldap'),
    /** Changes to the preset's attribute names; '' turns a membership attribute off. */
    attributes: z
      .strictObject({
        account: ldapAttribute,
        uidNumber: ldapAttribute,
        gidNumber: ldapAttribute,
        displayName: ldapAttribute,
        mail: ldapAttribute,
        homeDirectory: ldapAttribute,
        groupName: ldapAttribute,
        memberUid: z.union([z.literal(''), ldapAttribute]),
        member: z.union([z.literal(''), ldapAttribute]),
        memberOf: z.union([z.literal(''), ldapAttribute]),
      })
      .partial()
      .default({}),
    userFilter: ldapFilter.optional(),
    groupFilter: ldapFilter.optional(),
    /** Accounts matching it are refused as disabled, e.g. (pwdAccountLockedTime=*). */
    disabledFilter: ldapFilter.optional(),
    /** Levels of groups within groupOfNames groups followed (OpenLDAP). */
    nestedDepth: z.number().int('must be a whole number').min(0).max(20).default(5),
    /** Whom someone the directory refuses should ask. */
    contact: z.string().min(1).max(200).default('the administrators of this bot'),
    ttl: duration.default(300_000),
    staleFor: duration.default(3_600_000),
    timeout: duration.default(5_000),
    poolSize: z.number().int('must be a whole number').min(1).max(64).default(4),
  })
  .refine((d) => d.staleFor >= d.ttl, { message: 'staleFor must be at least ttl (answers are used stale only after they are due again)', path: ['staleFor'] });

/** An admin: an account, or a directory group (`ldap:<group>`) whose members are admins. */
const accountOrDirectoryGroup = z.string().superRefine((value, ctx) => {
  const parsed = (value.startsWith(DIRECTORY_PREFIX) ? groupRef : account).safeParse(value);
  if (!parsed.success) for (const issue of parsed.error.issues) ctx.addIssue({ code: 'custom', message: issue.message });
});

const slack = z.strictObject({
  /** The slash command, as created in the Slack app (see slack/manifest.yml). */
  command: z.string().regex(/^\/[a-z0-9_-]{1,31}$/, 'a slash command such as /daaas').default('/daaas'),
  identity: z
    .strictObject({
      /** How a Slack user's e-mail becomes a facility account. */
      rule: identityRule(['email-local-part', 'map-only'], 'email-local-part (with domains) or map-only').default('email-local-part'),
      /** Only addresses at these domains (or subdomains) are mapped; needed with email-local-part while Slack is in use. */
      domains: z.array(mailDomain).default([]),
      /** Slack user id (as Slack writes it) or e-mail address (any case) → account, checked first. */
      map: z.record(z.string(), account).default({}),
      /** Whom a user without a mapping should ask. */
      contact: z.string().min(1).max(200).default('the administrators of this bot'),
      cacheTtl: duration.default(3_600_000),
      negativeTtl: duration.default(60_000),
    })
    .prefault({}),
});

/** A service host pattern: host.example, or *.example for any subdomain. */
const SERVICE_HOST = /^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/i;

const teams = z.strictObject({
  /** Start Teams even without credentials in the environment (they are then required). */
  enabled: z.boolean().default(false),
  identity: z
    .strictObject({
      /** How a Teams user's UPN or e-mail becomes a facility account. */
      rule: identityRule(['upn-local-part', 'email-local-part', 'map-only'], 'upn-local-part or email-local-part (with domains), or map-only').default('upn-local-part'),
      /** Needed with an address rule while Teams is in use. */
      domains: z.array(mailDomain).default([]),
      /** Entra object id, Teams user id (29:…, as written), UPN or e-mail address (any case) → account, checked first. */
      map: z.record(z.string(), account).default({}),
      contact: z.string().min(1).max(200).default('the administrators of this bot'),
      /** Guests from other directories are refused unless mapped; true maps them by the rule too. */
      allowGuests: z.boolean().default(false),
      cacheTtl: duration.default(3_600_000),
      negativeTtl: duration.default(60_000),
    })
    .prefault({}),
  /** Tenants whose users may use the bot; empty: the app registration's own. */
  tenants: z.array(z.string().min(1)).default([]),
  /** The Bot Framework cloud of the bot's registration: `public`, or `gov` (tokens from api.botframework.us). */
  cloud: z.enum(['public', 'gov']).default('public'),
  /**
   * Hosts of the Bot Connector service URLs the bot accepts activities from and sends to, e.g.
   * smba.trafficmanager.net or *.botframework.com (any subdomain); empty: the cloud's own.
   */
  serviceUrls: z.array(z.string().regex(SERVICE_HOST, 'a host such as smba.trafficmanager.net, or *.botframework.com for every subdomain (no scheme or path)')).default([]),
});

export const configSchema = z
  .strictObject({
    instance: name.default('daaas'),
    access: z
      .strictObject({
        admins: z.array(accountOrDirectoryGroup).default([]),
        localUserIsAdmin: z.boolean().default(false),
        /** How long, claim to expiry, `admin extend` may make a lease. */
        adminMaxLease: duration.default(7 * 86_400_000),
        directory: directory.optional(),
        groups: z.record(z.string(), z.array(member)).default({}),
      })
      .prefault({}),
    defaults: defaults.prefault({}),
    scheduler: z
      .strictObject({
        schedule: z.string().default('* * * * *'),
        maxConcurrentBoots: count(1).default(10),
        readinessTimeout: duration.default(600_000),
        failedRetention: duration.default(300_000),
        backoffInitial: duration.default(30_000),
        backoffMax: duration.default(1_800_000),
        poll: duration.default(2_000),
      })
      .prefault({}),
    cloud: z.discriminatedUnion(
      'driver',
      [
        z.strictObject({ driver: z.literal('simulated'), simulated: simulatedCloud }),
        z.strictObject({ driver: z.literal('openstack'), openstack: openstackCloud.prefault({}) }),
      ],
      { error: (issue) => (issue.code === 'invalid_union' ? 'must be "simulated" (the embedded default) or "openstack"' : undefined) },
    ),
    provisioner: z
      .discriminatedUnion(
        'driver',
        [
          z.strictObject({
            driver: z.literal('simulated'),
            simulated: z
              .strictObject({ provisionTime: duration.default(4_000), personaliseTime: z.union([z.literal(0), duration]).default(2_000), failureRate: fraction.default(0) })
              .prefault({}),
          }),
          z.strictObject({ driver: z.literal('ansible'), ansible: ansibleProvisioner.prefault({}) }),
        ],
        { error: (issue) => (issue.code === 'invalid_union' ? 'must be "simulated" (the embedded default) or "ansible"' : undefined) },
      )
      .prefault({ driver: 'simulated' }),
    slack: slack.prefault({}),
    teams: teams.prefault({}),
    /** How long ended leases, their reminder records and deleted VMs are kept before they are forgotten. */
    retention: duration.default(90 * 86_400_000),
    /** How long the audit trail is kept: who did what, longer than the rest of the history. */
    auditRetention: duration.default(400 * 86_400_000),
    pools: z.record(z.string(), pool).refine((pools) => Object.keys(pools).length > 0, 'at least one pool is needed'),
  });

export type RawConfig = z.output<typeof configSchema>;

type Loose = Record<string, unknown>;
const mapping = (value: unknown): Loose | undefined =>
  typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Loose) : undefined;
/** A valid positive duration, the fallback when absent, undefined when invalid (reported elsewhere). */
function durationOr(value: unknown, fallback: number | undefined): number | undefined {
  if (value === undefined) return fallback;
  const ms = typeof value === 'string' ? parseDurationMs(value) : undefined;
  return ms !== undefined && ms > 0 ? ms : undefined;
}

/**
 * The rules that span several keys (size within max, reminders within the lease, groups and
 * flavours that exist, valid names). Run on the raw document, not the parsed one, so that they
 * are reported together with every other problem instead of only once those are fixed.
 */
export function crossCheck(data: Loose): string[] {
  const problems: string[] = [];
  const groups = mapping(mapping(data.access)?.groups) ?? {};
  const hasDirectory = mapping(mapping(data.access)?.directory) !== undefined;
  const admins = mapping(data.access)?.admins;
  for (const admin of Array.isArray(admins) ? admins : []) {
    if (typeof admin === 'string' && admin.startsWith(DIRECTORY_PREFIX) && !hasDirectory) problems.push(`access.admins: "${admin}" is a directory group, but access.directory is not configured`);
  }
  for (const group of Object.keys(groups)) if (!NAME.test(group)) problems.push(`access.groups.${group}: not a valid group name: ${NAME_RULE}`);
  const defaults = mapping(data.defaults) ?? {};
  const sim = mapping(mapping(data.cloud)?.simulated);
  const flavors = mapping(sim?.flavors);
  const images = Array.isArray(sim?.images) ? (sim.images as unknown[]) : undefined;

  for (const [poolName, raw] of Object.entries(mapping(data.pools) ?? {})) {
    const at = `pools.${poolName}`;
    if (!NAME.test(poolName)) problems.push(`${at}: not a valid pool name: ${NAME_RULE}`);
    const p = mapping(raw);
    if (!p) continue;
    if (typeof p.size === 'number' && typeof p.max === 'number' && p.size > p.max) problems.push(`${at}.size: size ${p.size} is larger than max ${p.max}`);
    const leaseMs = durationOr(p.lease, durationOr(defaults.lease, DEFAULT_LEASE_MS));
    const reminders = p.remindBefore ?? defaults.remindBefore;
    if (leaseMs !== undefined && Array.isArray(reminders) && reminders.some((r) => (durationOr(r, undefined) ?? 0) >= leaseMs)) {
      problems.push(`${at}.remindBefore: every reminder must come before the lease ends (shorter than the lease)`);
    }
    for (const group of Array.isArray(p.groups) ? p.groups : []) {
      if (typeof group === 'string' && group.startsWith(DIRECTORY_PREFIX)) {
        if (!hasDirectory) problems.push(`${at}.groups: "${group}" is a directory group, but access.directory is not configured`);
        continue;
      }
      if (typeof group === 'string' && !(group in groups)) problems.push(`${at}.groups: group "${group}" is not defined under access.groups`);
    }
    if (typeof p.flavor === 'string' && flavors && !(p.flavor in flavors)) problems.push(`${at}.flavor: flavor "${p.flavor}" is not one of the simulated cloud's flavors`);
    if (typeof p.image === 'string' && images && !images.includes(p.image)) problems.push(`${at}.image: image "${p.image}" is not one of the simulated cloud's images`);
  }

  const ansible = mapping(mapping(data.provisioner)?.ansible);
  if (mapping(data.provisioner)?.driver === 'ansible') {
    const target = ansible?.target ?? 'address';
    if (target === 'local' && !ansible?.sandboxRoot) problems.push('provisioner.ansible.sandboxRoot: needed with target "local": the plays then run on this machine, under that directory');
    if (target === 'address' && !mapping(ansible?.ssh)?.user) problems.push('provisioner.ansible.ssh.user: needed with target "address": the account the plays log in to VMs with');
  }

  const schedule = mapping(data.scheduler)?.schedule;
  if (typeof schedule === 'string' && !cron.validate(schedule)) {
    problems.push(`scheduler.schedule: "${schedule}" is not a cron expression (e.g. "* * * * *" for every minute)`);
  }
  return problems;
}

const SLACK_USER_ID = /^[UW][A-Z0-9]+$/;
const TEAMS_USER_ID = /^\d+:\S+$/;
const OBJECT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ADDRESS = /^[^@\s]+@[^@\s]+$/;

/**
 * Who may become an account through chat. A platform in use with an address rule needs
 * `domains`: without them any address would do — a guest's, or a connected workspace's
 * `alice@…` would become the facility's `alice`. Map keys must be something a user can be
 * known by, or they would never match. Run on the raw document, like `crossCheck`.
 */
export function identityCheck(data: Loose, inUse: { slack: boolean; slackWhy: string; teams: boolean; teamsWhy: string }): string[] {
  const problems: string[] = [];
  const platforms = [
    { key: 'slack', name: 'Slack', inUse: inUse.slack, why: inUse.slackWhy, defaultRule: 'email-local-part', mapKey: (k: string) => SLACK_USER_ID.test(k) || ADDRESS.test(k.trim()), keys: 'a Slack user id (U… or W…, as Slack writes it) or an e-mail address' },
    { key: 'teams', name: 'Teams', inUse: inUse.teams, why: inUse.teamsWhy, defaultRule: 'upn-local-part', mapKey: (k: string) => TEAMS_USER_ID.test(k.trim()) || OBJECT_ID.test(k.trim()) || ADDRESS.test(k.trim()), keys: 'an Entra object id, a Teams user id (29:…), a UPN or an e-mail address' },
  ];
  for (const p of platforms) {
    const identity = mapping(mapping(data[p.key])?.identity);
    for (const key of Object.keys(mapping(identity?.map) ?? {})) if (!p.mapKey(key)) problems.push(`${p.key}.identity.map.${key}: a key is ${p.keys}`);
    const rule = identity?.rule ?? p.defaultRule;
    const domains = identity?.domains;
    if (p.inUse && rule !== 'map-only' && typeof rule === 'string' && rule.endsWith('-local-part') && (!Array.isArray(domains) || domains.length === 0)) {
      problems.push(
        `${p.key}.identity.domains: needed with rule ${rule} while ${p.name} is in use (${p.why}): list the facility’s e-mail domains, e.g. [facility.example], so that only addresses there become accounts — or set ${p.key}.identity.rule: map-only and list each user under ${p.key}.identity.map`,
      );
    }
  }
  return problems;
}
