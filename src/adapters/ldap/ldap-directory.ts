import { isIP } from 'node:net';
import { Client, type Entry } from 'ldapts';
import type { Clock } from '../../ports/clock.ts';
import { DirectoryUnavailableError, type AccountLookup, type Directory, type DirectoryAccount } from '../../ports/directory.ts';
import { silentLogger, type Logger } from '../../ports/logger.ts';
import { and, attributeName, configuredFilter, equals, escapeValue, firstRdnValue, or } from './filter.ts';

export type Preset = 'openldap' | 'active-directory';

/** Where each piece of information is in the directory, and which entries are people and groups. */
export interface Mapping {
  /** Entries that are accounts. */
  userFilter: string;
  /** Entries that are groups. */
  groupFilter: string;
  /** The attribute holding the account name (`uid`, `sAMAccountName`). */
  account: string;
  uidNumber: string;
  gidNumber: string;
  /** Tried in order; the first present is the display name. */
  displayName: string[];
  mail: string;
  homeDirectory: string;
  /** A group's name (`cn`). */
  groupName: string;
  /** Group attribute listing account names (posixGroup), or '' for none. */
  memberUid: string;
  /** Group attribute listing member DNs (groupOfNames), or '' for none. */
  member: string;
  /** Account attribute listing its groups' DNs (Active Directory), or '' for none. */
  memberOf: string;
  /** How the directory marks an account disabled or expired. */
  expiry: 'shadow' | 'active-directory';
}

export const PRESETS: Record<Preset, Mapping> = {
  // posixAccount people; posixGroup (memberUid) and groupOfNames (member) groups alike.
  openldap: {
    userFilter: '(objectClass=posixAccount)',
    groupFilter: '(|(objectClass=posixGroup)(objectClass=groupOfNames))',
    account: 'uid',
    uidNumber: 'uidNumber',
    gidNumber: 'gidNumber',
    displayName: ['displayName', 'cn'],
    mail: 'mail',
    homeDirectory: 'homeDirectory',
    groupName: 'cn',
    memberUid: 'memberUid',
    member: 'member',
    memberOf: '',
    expiry: 'shadow',
  },
  // Users with the RFC 2307 attributes AD keeps for Unix (uidNumber, gidNumber, unixHomeDirectory).
  'active-directory': {
    userFilter: '(&(objectCategory=person)(objectClass=user))',
    groupFilter: '(objectClass=group)',
    account: 'sAMAccountName',
    uidNumber: 'uidNumber',
    gidNumber: 'gidNumber',
    displayName: ['displayName', 'cn'],
    mail: 'mail',
    homeDirectory: 'unixHomeDirectory',
    groupName: 'cn',
    memberUid: '',
    member: '',
    memberOf: 'memberOf',
    expiry: 'active-directory',
  },
};

/** Active Directory's LDAP_MATCHING_RULE_IN_CHAIN: follows nested group memberships. */
export const IN_CHAIN = '1.2.840.113556.1.4.1941';
/** userAccountControl's ACCOUNTDISABLE bit. */
const UAC_DISABLED = 0x2;
const DAY_MS = 86_400_000;
/** accountExpires counts 100 ns steps from 1601-01-01; 0 and 2^63-1 mean never. */
const FILETIME_EPOCH_OFFSET_MS = 11_644_473_600_000n;
const NEVER = 9_223_372_036_854_775_807n;

export interface LdapSearch {
  base: string;
  scope: 'base' | 'one' | 'sub';
  filter: string;
  attributes: string[];
  sizeLimit?: number;
}

/** An entry with its attribute names in lower case and every value a string. */
export interface LdapEntry {
  dn: string;
  attributes: Record<string, string[]>;
}

/** One bound connection to the directory. */
export interface LdapConnection {
  search(request: LdapSearch): Promise<LdapEntry[]>;
  /** Still connected, so it can be used again. */
  readonly usable: boolean;
  close(): Promise<void>;
}

export interface LdapDirectoryOptions {
  /** `ldap://host[:port]` (StartTLS is always used) or `ldaps://host[:port]`. */
  url: string;
  /** PEM of the CA(s) that signed the directory's certificate; the system's CAs when absent. */
  ca?: string;
  /** Without it the bot searches anonymously. */
  bindDn?: string;
  bindPassword?: string;
  userBase: string;
  groupBase: string;
  preset: Preset;
  /** Changes to the preset's mapping. */
  mapping?: Partial<Mapping>;
  /** Accounts matching this filter are refused as disabled (e.g. `(pwdAccountLockedTime=*)`). */
  disabledFilter?: string;
  /** Levels of groups within groups followed where the directory does not resolve them itself. */
  nestedDepth?: number;
  /** For connecting, StartTLS, binding and each search. */
  timeoutMs: number;
  /** Connections kept open at most; more requests wait for one. */
  poolSize: number;
  clock: Clock;
  log?: Logger;
  /** Opens a bound connection; the default speaks LDAP with ldapts (tests put a fake here). */
  connect?: () => Promise<LdapConnection>;
}

/**
 * The Directory port on LDAP. Accounts are found by their name under `userBase`, groups under
 * `groupBase`; with OpenLDAP a posixGroup lists account names (`memberUid`) and a groupOfNames
 * member DNs (`member`, followed into groups within groups); with Active Directory an account
 * lists its groups (`memberOf`) and nested membership is asked with the in-chain matching rule.
 * Every value from outside goes into filters escaped (RFC 4515).
 */
export class LdapDirectory implements Directory {
  readonly mapping: Mapping;
  private readonly pool: ConnectionPool;
  private readonly disabledFilter: string | undefined;
  private readonly log: Logger;

  constructor(private readonly o: LdapDirectoryOptions) {
    this.mapping = { ...PRESETS[o.preset], ...o.mapping };
    const m = this.mapping;
    configuredFilter(m.userFilter);
    configuredFilter(m.groupFilter);
    for (const attr of [m.account, m.uidNumber, m.gidNumber, ...m.displayName, m.mail, m.homeDirectory, m.groupName, m.memberUid, m.member, m.memberOf]) if (attr) attributeName(attr);
    this.disabledFilter = o.disabledFilter === undefined ? undefined : configuredFilter(o.disabledFilter);
    this.log = o.log ?? silentLogger;
    const url = new URL(o.url);
    if (url.protocol !== 'ldap:' && url.protocol !== 'ldaps:') throw new Error(`${o.url} is not an ldap:// or ldaps:// address`);
    this.pool = new ConnectionPool(o.connect ?? (() => connectLdapts(o)), o.poolSize, o.timeoutMs, o.url);
  }

  async lookUp(account: string): Promise<AccountLookup> {
    const m = this.mapping;
    const attributes = [m.account, m.uidNumber, m.gidNumber, ...m.displayName, m.mail, m.homeDirectory, ...(m.memberOf ? [m.memberOf] : []), ...expiryAttributes(m.expiry)];
    return this.pool.use(async (c) => {
      const found = await c.search({ base: this.o.userBase, scope: 'sub', filter: this.userFilter(account), attributes, sizeLimit: 2 });
      if (found.length === 0) return { exists: false, account };
      const entry = found[0]!;
      let disabledReason = found.length > 1 ? 'the directory has more than one entry for it' : accountDisabled(m.expiry, entry, this.o.clock.now());
      if (!disabledReason && this.disabledFilter) {
        const matched = await c.search({ base: this.o.userBase, scope: 'sub', filter: and(this.userFilter(account), this.disabledFilter), attributes: ['1.1'], sizeLimit: 2 });
        if (matched.length > 0) disabledReason = 'disabled';
      }
      const groups = m.memberOf ? (entry.attributes[m.memberOf.toLowerCase()] ?? []).map((dn) => firstRdnValue(dn)).filter((g): g is string => !!g) : await this.groupsOf(c, first(entry, m.account) ?? account, entry.dn);
      const result: DirectoryAccount = {
        account: first(entry, m.account) ?? account,
        dn: entry.dn,
        disabled: disabledReason !== null,
        disabledReason,
        uidNumber: idNumber(first(entry, m.uidNumber)),
        gidNumber: idNumber(first(entry, m.gidNumber)),
        displayName: m.displayName.map((a) => first(entry, a)).find((v) => v !== undefined) ?? null,
        mail: first(entry, m.mail) ?? null,
        homeDirectory: first(entry, m.homeDirectory) ?? null,
        groups: unique(groups),
        groupsComplete: !m.memberOf,
      };
      return { exists: true, ...result };
    });
  }

  async isMemberOf(account: string, group: string): Promise<boolean> {
    const m = this.mapping;
    if (!m.memberOf) {
      const found = await this.lookUp(account);
      return found.exists && found.groups.some((g) => g.toLowerCase() === group.toLowerCase());
    }
    // Active Directory resolves nesting itself: find the group's DN, then ask for the account
    // only if it is in that group at any depth.
    return this.pool.use(async (c) => {
      const groups = await c.search({ base: this.o.groupBase, scope: 'sub', filter: and(m.groupFilter, equals(m.groupName, group)), attributes: ['1.1'], sizeLimit: 2 });
      if (groups.length !== 1) return false;
      const filter = and(this.userFilter(account), `(${attributeName(`${m.memberOf}:${IN_CHAIN}`)}:=${escapeValue(groups[0]!.dn)})`);
      return (await c.search({ base: this.o.userBase, scope: 'sub', filter, attributes: ['1.1'], sizeLimit: 1 })).length === 1;
    });
  }

  /** For `config check`: binds and searches the user base once. */
  async check(): Promise<{ ms: number }> {
    const started = this.o.clock.elapsedMs();
    await this.pool.use((c) => c.search({ base: this.o.userBase, scope: 'base', filter: '(objectClass=*)', attributes: ['1.1'], sizeLimit: 1 }));
    return { ms: this.o.clock.elapsedMs() - started };
  }

  async close(): Promise<void> {
    await this.pool.close();
  }

  private userFilter(account: string): string {
    return and(this.mapping.userFilter, equals(this.mapping.account, account));
  }

  /** posixGroup (by account name) and groupOfNames (by DN) memberships, then groups that hold those groups. */
  private async groupsOf(c: LdapConnection, account: string, dn: string): Promise<string[]> {
    const m = this.mapping;
    const names: string[] = [];
    const seen = new Set<string>();
    let members = [dn];
    const memberships = or(...(m.memberUid ? [equals(m.memberUid, account)] : []), ...(m.member ? [equals(m.member, dn)] : []));
    if (!memberships) return [];
    let filter = and(m.groupFilter, memberships);
    for (let depth = 0; depth <= (this.o.nestedDepth ?? 5); depth++) {
      const found = (await c.search({ base: this.o.groupBase, scope: 'sub', filter, attributes: [m.groupName], sizeLimit: 1_000 })).filter((g) => !seen.has(g.dn.toLowerCase()));
      if (found.length === 0) break;
      for (const g of found) {
        seen.add(g.dn.toLowerCase());
        const name = first(g, m.groupName);
        if (name) names.push(name);
      }
      members = found.map((g) => g.dn);
      if (!m.member) break;
      filter = and(m.groupFilter, or(...members.map((d) => equals(m.member, d))));
    }
    return names;
  }
}

function expiryAttributes(expiry: Mapping['expiry']): string[] {
  return expiry === 'shadow' ? ['shadowExpire'] : ['userAccountControl', 'accountExpires'];
}

/** Why the account may not be used, or null: disabled (AD) or past its expiry date. */
export function accountDisabled(expiry: Mapping['expiry'], entry: LdapEntry, nowMs: number): string | null {
  if (expiry === 'shadow') {
    // shadowExpire: days since 1970-01-01 on which the account expires; absent or -1: never.
    const days = Number(first(entry, 'shadowExpire'));
    if (first(entry, 'shadowExpire') === undefined || !Number.isInteger(days) || days < 0) return null;
    return days * DAY_MS <= nowMs ? `expired on ${new Date(days * DAY_MS).toISOString().slice(0, 10)}` : null;
  }
  const uac = Number(first(entry, 'userAccountControl') ?? '0');
  if (Number.isInteger(uac) && (uac & UAC_DISABLED) !== 0) return 'disabled';
  const expires = first(entry, 'accountExpires');
  if (expires !== undefined && /^\d+$/.test(expires)) {
    const filetime = BigInt(expires);
    if (filetime !== 0n && filetime < NEVER) {
      const ms = Number(filetime / 10_000n - FILETIME_EPOCH_OFFSET_MS);
      if (ms <= nowMs) return `expired on ${new Date(ms).toISOString().slice(0, 10)}`;
    }
  }
  return null;
}

function first(entry: LdapEntry, attribute: string): string | undefined {
  return entry.attributes[attribute.toLowerCase()]?.[0];
}

function idNumber(text: string | undefined): number | null {
  if (text === undefined || !/^\d{1,10}$/.test(text)) return null;
  const n = Number(text);
  return n >= 0 && n <= 4_294_967_294 ? n : null;
}

function unique(names: string[]): string[] {
  const seen = new Set<string>();
  return names.filter((n) => {
    const key = n.toLowerCase();
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/**
 * A bounded set of bound connections: at most `size` open, requests beyond that wait their turn
 * (up to the timeout). A connection that failed or timed out is closed, never reused; a request
 * that failed on a reused connection (the server may have closed it while idle) is tried once
 * more on a new one.
 */
class ConnectionPool {
  private readonly idle: LdapConnection[] = [];
  private open = 0;
  private readonly waiting: ((c: LdapConnection | null) => void)[] = [];
  private closed = false;

  constructor(
    private readonly connect: () => Promise<LdapConnection>,
    private readonly size: number,
    private readonly timeoutMs: number,
    private readonly url: string,
  ) {}

  async use<T>(fn: (c: LdapConnection) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const { connection, reused } = await this.acquire();
      try {
        const result = await withTimeout(fn(connection), this.timeoutMs, () => `the facility directory at ${this.url} did not answer within ${this.timeoutMs} ms`);
        this.release(connection);
        return result;
      } catch (error) {
        this.discard(connection);
        if (reused && attempt === 0 && !(error instanceof TimeoutError)) continue;
        throw unavailable(error, this.url);
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const resolve of this.waiting.splice(0)) resolve(null);
    await Promise.all(this.idle.splice(0).map((c) => c.close().catch(() => {})));
  }

  private async acquire(): Promise<{ connection: LdapConnection; reused: boolean }> {
    if (this.closed) throw new DirectoryUnavailableError('the directory client is closed');
    while (this.idle.length > 0) {
      const c = this.idle.pop()!;
      if (c.usable) return { connection: c, reused: true };
      this.discard(c);
    }
    if (this.open < this.size) {
      this.open++;
      try {
        return { connection: await withTimeout(this.connect(), this.timeoutMs, () => `connecting to the facility directory at ${this.url} took longer than ${this.timeoutMs} ms`), reused: false };
      } catch (error) {
        this.open--;
        this.wakeOne();
        throw unavailable(error, this.url);
      }
    }
    // Every connection is busy: wait for one, but not for ever.
    const connection = await withTimeout(
      new Promise<LdapConnection | null>((resolve) => this.waiting.push(resolve)),
      this.timeoutMs,
      () => `all ${this.size} connections to the facility directory stayed busy for ${this.timeoutMs} ms`,
    ).catch((error: unknown) => {
      throw unavailable(error, this.url);
    });
    if (!connection) return this.acquire();
    return { connection, reused: true };
  }

  private release(c: LdapConnection): void {
    const next = this.waiting.shift();
    if (next) next(c);
    else if (this.closed) this.discard(c);
    else this.idle.push(c);
  }

  private discard(c: LdapConnection): void {
    this.open--;
    void c.close().catch(() => {});
    this.wakeOne();
  }

  /** A waiter whose connection was discarded opens a new one instead. */
  private wakeOne(): void {
    const next = this.waiting.shift();
    if (next) next(null);
  }
}

class TimeoutError extends Error {}

function withTimeout<T>(promise: Promise<T>, ms: number, message: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(message())), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function unavailable(error: unknown, url: string): DirectoryUnavailableError {
  if (error instanceof DirectoryUnavailableError) return error;
  if (error instanceof TimeoutError) return new DirectoryUnavailableError(error.message, { cause: error });
  // ldapts names the LDAP result in the error's class (InvalidCredentialsError) and its message is often only the code.
  const text = error instanceof Error ? (/^\s*(Code: 0x[0-9a-f]+)?\s*$/i.test(error.message) ? `${error.constructor.name}${error.message.trim() ? ` (${error.message.trim()})` : ''}` : error.message) : String(error);
  return new DirectoryUnavailableError(`the facility directory at ${url} cannot be used: ${text}`, { cause: error });
}

/** A bound ldapts client: TLS from the first byte (ldaps) or after StartTLS (ldap), the CA checked either way. */
export async function connectLdapts(o: LdapDirectoryOptions): Promise<LdapConnection> {
  const url = new URL(o.url);
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const tlsOptions = { ...(o.ca ? { ca: o.ca } : {}), host, ...(isIP(host) ? {} : { servername: host }), rejectUnauthorized: true };
  const client = new Client({ url: o.url, timeout: o.timeoutMs, connectTimeout: o.timeoutMs, ...(url.protocol === 'ldaps:' ? { tlsOptions } : {}) });
  try {
    // Credentials never travel in clear: ldap:// is upgraded before the bind.
    if (url.protocol === 'ldap:') await client.startTLS(tlsOptions);
    if (o.bindDn) await client.bind(o.bindDn, o.bindPassword ?? '');
  } catch (error) {
    void client.unbind().catch(() => {});
    throw error;
  }
  (o.log ?? silentLogger).debug({ url: o.url }, 'connected to the facility directory');
  return {
    get usable() {
      return client.isConnected;
    },
    async search(request) {
      const { searchEntries } = await client.search(request.base, {
        scope: request.scope,
        filter: request.filter,
        attributes: request.attributes,
        ...(request.sizeLimit ? { sizeLimit: request.sizeLimit } : {}),
      });
      return searchEntries.map(toEntry);
    },
    close: () => client.unbind(),
  };
}

function toEntry(entry: Entry): LdapEntry {
  const attributes: Record<string, string[]> = {};
  for (const [key, value] of Object.entries(entry)) {
    if (key === 'dn') continue;
    const values = Array.isArray(value) ? value : [value];
    attributes[key.toLowerCase()] = values.map((v) => (Buffer.isBuffer(v) ? v.toString('utf8') : String(v)));
  }
  return { dn: entry.dn, attributes };
}
