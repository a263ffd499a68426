import { DirectoryUnavailableError, type Directory, type DirectoryAccount } from '../ports/directory.ts';
import { UserSetupError, type ClaimAccount } from '../ports/provisioner.ts';
import { UserError } from './errors.ts';
import type { PoolSpec, Principal } from './model.ts';

export interface AccessRules {
  /** Admin accounts, and directory groups (`ldap:<group>`) whose members are admins. */
  admins: readonly string[];
  /** group → member accounts; `*` stands for every account. */
  groups: Readonly<Record<string, readonly string[]>>;
  /** `access.adminMaxLease` (ms): how long, claim to expiry, admins may extend a lease to. */
  adminMaxLease?: number;
}

/**
 * How pool `groups` and `access.admins` name a group of the facility directory rather than one
 * listed in the configuration: `ldap:excitations-users`.
 */
export const DIRECTORY_GROUP_PREFIX = 'ldap:';

export const isDirectoryGroup = (name: string): boolean => name.startsWith(DIRECTORY_GROUP_PREFIX);

/** Who an account is to the bot from the configuration alone: admin or not, and its groups. */
export function principalFor(account: string, rules: AccessRules, forceAdmin = false): Principal {
  const groups = Object.entries(rules.groups)
    .filter(([, members]) => members.includes(account) || members.includes('*'))
    .map(([group]) => group);
  return { account, isAdmin: forceAdmin || rules.admins.includes(account), groups };
}

/** Admins may claim from every pool; everyone else through a group the pool names. */
export function mayClaim(principal: Principal, pool: PoolSpec): boolean {
  return principal.isAdmin || pool.groups.some((g) => principal.groups.includes(g));
}

/** A group as users read it: `ldap:excitations-users` → `directory group excitations-users`. */
export function describeGroup(name: string): string {
  return isDirectoryGroup(name) ? `directory group ${name.slice(DIRECTORY_GROUP_PREFIX.length)}` : name;
}

export interface AccessPolicyOptions {
  rules: AccessRules;
  pools: readonly PoolSpec[];
  /** The facility directory; without it the configuration alone decides, as it always did. */
  directory?: Directory;
  /** Whom someone the directory refuses should ask (the user office, the directory's admins). */
  contact?: string;
}

/**
 * Decides who an account is: from the configuration, and with a facility directory also from
 * it. With a directory an account must be there and usable (not disabled or expired) for any
 * command; its directory groups are those the configuration names (`ldap:…`) that it is in.
 * When the directory cannot answer, only the configuration's own lists count and the principal
 * is marked, so claims are refused: a failure never grants anything.
 */
export class AccessPolicy {
  /** Directory groups the configuration names, by their name in the directory. */
  private readonly referenced: string[];
  private readonly staticRules: AccessRules;

  constructor(private readonly options: AccessPolicyOptions) {
    const refs = [...options.rules.admins, ...options.pools.flatMap((p) => p.groups)].filter(isDirectoryGroup);
    this.referenced = [...new Set(refs)];
    this.staticRules = { admins: options.rules.admins.filter((a) => !isDirectoryGroup(a)), groups: options.rules.groups };
  }

  get directory(): Directory | undefined {
    return this.options.directory;
  }

  /** The principal for the configuration alone: what the bot knows without asking anyone. */
  staticPrincipal(account: string, forceAdmin = false): Principal {
    return principalFor(account, this.staticRules, forceAdmin);
  }

  /**
   * Who `account` is. `trusted` is the operator at the bot's own terminal, who is no chat user
   * and is not looked up. Rejects with a UserError for an account the directory does not have
   * or refuses.
   */
  async principal(account: string, trusted = false): Promise<Principal> {
    const base = this.staticPrincipal(account, trusted);
    const directory = this.options.directory;
    if (!directory || trusted) return base;
    let entry: DirectoryAccount;
    try {
      const found = await directory.lookUp(account);
      if (!found.exists) {
        throw new UserError('NOT_IN_DIRECTORY', `The facility directory has no account called ${account}, so the bot cannot serve you.`, `If that is your account, ask ${this.contact} to check it.`);
      }
      entry = found;
    } catch (error) {
      if (error instanceof DirectoryUnavailableError) return { ...base, directoryUnavailable: true };
      throw error;
    }
    if (entry.disabled) {
      throw new UserError('ACCOUNT_DISABLED', `Your account ${account} is ${entry.disabledReason ?? 'disabled'} in the facility directory, so the bot cannot serve you.`, `Ask ${this.contact} to renew it.`);
    }
    const groups = [...base.groups];
    const listed = new Set(entry.groups.map((g) => g.toLowerCase()));
    for (const ref of this.referenced) {
      const name = ref.slice(DIRECTORY_GROUP_PREFIX.length);
      if (listed.has(name.toLowerCase())) groups.push(ref);
      else if (!entry.groupsComplete) {
        // Nested membership the account's own entry does not list (Active Directory).
        try {
          if (await directory.isMemberOf(account, name)) groups.push(ref);
        } catch (error) {
          if (!(error instanceof DirectoryUnavailableError)) throw error;
          // Unknown counts as not a member.
        }
      }
    }
    const isAdmin = base.isAdmin || this.options.rules.admins.some((a) => isDirectoryGroup(a) && groups.includes(a));
    return { account, isAdmin, groups };
  }

  /**
   * The account as claim.yml should make it on a VM: with the directory's uid, gid, name, e-mail
   * and home, so it owns its files on the shared home store. Rejects when the directory cannot
   * be asked or refuses the account — before the VM is touched, so it goes back to its pool —
   * and an account it does not have (the local operator) goes by name alone.
   */
  async claimAccount(account: string): Promise<ClaimAccount> {
    const directory = this.options.directory;
    if (!directory) return { name: account };
    let found;
    try {
      found = await directory.lookUp(account);
    } catch (error) {
      if (error instanceof DirectoryUnavailableError) throw new UserSetupError(`${DIRECTORY_UNREACHABLE}: the account's uid and gid are unknown`, false, { cause: error });
      throw error;
    }
    if (!found.exists) return { name: account };
    if (found.disabled) throw new UserSetupError(`the account ${account} is ${found.disabledReason ?? 'disabled'} in the facility directory`, false);
    return {
      name: account,
      ...(found.uidNumber !== null ? { uid: found.uidNumber } : {}),
      ...(found.gidNumber !== null ? { gid: found.gidNumber } : {}),
      ...(found.displayName !== null ? { displayName: found.displayName } : {}),
      ...(found.mail !== null ? { mail: found.mail } : {}),
      ...(found.homeDirectory !== null ? { home: found.homeDirectory } : {}),
    };
  }

  private get contact(): string {
    return this.options.contact ?? 'the administrators of this bot';
  }
}

export const DIRECTORY_UNREACHABLE = 'the facility directory cannot be reached';

/** Claims (and extensions) need the directory's word on the account; without it they are refused. */
export function directoryUnavailableError(): UserError {
  return new UserError(
    'DIRECTORY_UNAVAILABLE',
    `Not now: ${DIRECTORY_UNREACHABLE}, so the bot cannot check your account.`,
    'Nothing was changed. Try again in a few minutes; status and release still work.',
  );
}
