/** The back ends' keys: the cloud (simulated or OpenStack), the Ansible provisioner and the facility directory. */
import { z } from 'zod';
import { ACCOUNT_NAME_PATTERN, ACCOUNT_NAME_RULE } from '../core/account-name.ts';
import { byteSize, count, duration, fraction } from './schema-values.ts';

export const simulatedCloud = z.strictObject({
  bootTime: duration.default(5_000),
  bootFailureRate: fraction.default(0),
  apiFailureRate: fraction.default(0),
  latency: z.union([z.literal(0), duration]).default(20),
  quota: z.strictObject({ instances: count(0), cores: count(0) }).default({ instances: 100, cores: 1_000 }),
  flavors: z.record(z.string().min(1), z.strictObject({ vcpus: count(1), gpus: count(0).default(0) })),
  images: z.array(z.string().min(1)).min(1),
});

export const openstackCloud = z.strictObject({
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

export const ansibleProvisioner = z.strictObject({
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
  /** Run logs kept (in the data directory's ansible-logs/): the newest per VM, and all of them under a size. */
  logs: z.strictObject({ keepPerVm: count(1).default(10), maxTotal: byteSize.default(200 * 2 ** 20) }).prefault({}),
  timeouts: z.strictObject({ provision: duration.default(900_000), claim: duration.default(120_000), release: duration.default(120_000) }).prefault({}),
  /** Pool → facility role; by default the role named like the pool (excitations-gpu → excitations). */
  facilities: z.record(z.string(), z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, 'a role name')).default({}),
  extraVars: z.record(z.string(), varValue).default({}),
});

const ldapAttribute = z.string().regex(/^[A-Za-z][A-Za-z0-9-]{0,63}$/, 'an LDAP attribute name');
/** One parenthesised LDAP filter (checked for balanced parentheses when the directory is built). */
const ldapFilter = z.string().regex(/^\(.*\)$/, 'an LDAP filter in parentheses, e.g. (objectClass=posixAccount)').max(2_000);

/** The facility directory: who may use the bot, their groups, and the ids their files have. */
export const directory = z
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

