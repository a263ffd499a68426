/**
 * The facility's directory of people and groups (LDAP: OpenLDAP or Active Directory): whether
 * an account exists and may be used, the ids its files belong to on the shared home store, and
 * the groups it is in.
 */

/** An account the directory has. */
export interface DirectoryAccount {
  /** The account name as the directory spells it. */
  account: string;
  /** Its entry's distinguished name. */
  dn: string;
  /** Disabled or expired: such an account is refused. */
  disabled: boolean;
  /** Why it is refused, in words ("disabled", "expired on 2026-01-31"); null when it is not. */
  disabledReason: string | null;
  /** The POSIX ids of its files on the shared home store; null when the directory has none. */
  uidNumber: number | null;
  gidNumber: number | null;
  displayName: string | null;
  mail: string | null;
  homeDirectory: string | null;
  /** Names of the groups it belongs to. */
  groups: string[];
  /**
   * `groups` lists every membership, nested ones included. When false (Active Directory's
   * `memberOf` lists direct memberships only) a group not listed is asked with `isMemberOf`.
   */
  groupsComplete: boolean;
}

export type AccountLookup = ({ exists: true } & DirectoryAccount) | { exists: false; account: string };

export interface Directory {
  /** Rejects with DirectoryUnavailableError when the directory cannot answer. */
  lookUp(account: string): Promise<AccountLookup>;
  /** Whether the account is in the group (nested memberships count where the directory resolves them). */
  isMemberOf(account: string, group: string): Promise<boolean>;
}

/** The directory did not answer (down, timed out, refused the bot's credentials or certificate). */
export class DirectoryUnavailableError extends Error {
  override readonly name = 'DirectoryUnavailableError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
