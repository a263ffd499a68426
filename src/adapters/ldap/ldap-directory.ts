/**
 * The Directory port on LDAP: an account, its groups and whether it may be used, found with the
 * searches of the configured mapping (mapping.ts) over pooled connections (connection-pool.ts,
 * ldapts-connection.ts). The adapter's public API: what other modules need is exported here.
 */
import type { Clock } from '../../ports/clock.ts';
import type { AccountLookup, Directory, DirectoryAccount } from '../../ports/directory.ts';
import { silentLogger, type Logger } from '../../ports/logger.ts';
import { ConnectionPool } from './connection-pool.ts';
import { and, attributeName, configuredFilter, equals, escapeValue, firstRdnValue, or } from './filter.ts';
import { connectLdapts, firstValue as first, type LdapConnection } from './ldapts-connection.ts';
import { accountDisabled, expiryAttributes, IN_CHAIN, PRESETS, type Mapping, type Preset } from './mapping.ts';

export { connectLdapts, type LdapConnection, type LdapEntry, type LdapSearch } from './ldapts-connection.ts';
export { accountDisabled, IN_CHAIN, PRESETS, type Mapping, type Preset } from './mapping.ts';

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

  constructor(private readonly options: LdapDirectoryOptions) {
    this.mapping = { ...PRESETS[options.preset], ...options.mapping };
    const m = this.mapping;
    configuredFilter(m.userFilter);
    configuredFilter(m.groupFilter);
    for (const attr of [m.account, m.uidNumber, m.gidNumber, ...m.displayName, m.mail, m.homeDirectory, m.groupName, m.memberUid, m.member, m.memberOf]) if (attr) attributeName(attr);
    this.disabledFilter = options.disabledFilter === undefined ? undefined : configuredFilter(options.disabledFilter);
    this.log = options.log ?? silentLogger;
    const url = new URL(options.url);
    if (url.protocol !== 'ldap:' && url.protocol !== 'ldaps:') throw new Error(`${options.url} is not an ldap:// or ldaps:// address`);
    this.pool = new ConnectionPool(options.connect ?? (() => connectLdapts(options)), options.poolSize, options.timeoutMs, options.url);
  }

  async lookUp(account: string): Promise<AccountLookup> {
    const m = this.mapping;
    const attributes = [m.account, m.uidNumber, m.gidNumber, ...m.displayName, m.mail, m.homeDirectory, ...(m.memberOf ? [m.memberOf] : []), ...expiryAttributes(m.expiry)];
    return this.pool.use(async (c) => {
      const found = await c.search({ base: this.options.userBase, scope: 'sub', filter: this.userFilter(account), attributes, sizeLimit: 2 });
      if (found.length === 0) return { exists: false, account };
      const entry = found[0]!;
      let disabledReason = found.length > 1 ? 'the directory has more than one entry for it' : accountDisabled(m.expiry, entry, this.options.clock.now());
      if (!disabledReason && this.disabledFilter) {
        const matched = await c.search({ base: this.options.userBase, scope: 'sub', filter: and(this.userFilter(account), this.disabledFilter), attributes: ['1.1'], sizeLimit: 2 });
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
      const groups = await c.search({ base: this.options.groupBase, scope: 'sub', filter: and(m.groupFilter, equals(m.groupName, group)), attributes: ['1.1'], sizeLimit: 2 });
      if (groups.length !== 1) return false;
      const filter = and(this.userFilter(account), `(${attributeName(`${m.memberOf}:${IN_CHAIN}`)}:=${escapeValue(groups[0]!.dn)})`);
      return (await c.search({ base: this.options.userBase, scope: 'sub', filter, attributes: ['1.1'], sizeLimit: 1 })).length === 1;
    });
  }

  /** For `config check`: binds and searches the user base once. */
  async check(): Promise<{ ms: number }> {
    const started = this.options.clock.elapsedMs();
    await this.pool.use((c) => c.search({ base: this.options.userBase, scope: 'base', filter: '(objectClass=*)', attributes: ['1.1'], sizeLimit: 1 }));
    return { ms: this.options.clock.elapsedMs() - started };
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
    for (let depth = 0; depth <= (this.options.nestedDepth ?? 5); depth++) {
      const found = (await c.search({ base: this.options.groupBase, scope: 'sub', filter, attributes: [m.groupName], sizeLimit: 1_000 })).filter((g) => !seen.has(g.dn.toLowerCase()));
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

