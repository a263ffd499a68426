/**
 * Where each piece of information is in a directory (the OpenLDAP and Active Directory presets)
 * and how each marks an account disabled or expired: pure rules over entries, no connection.
 */
import { firstValue as first, type LdapEntry } from './ldapts-connection.ts';

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

export function expiryAttributes(expiry: Mapping['expiry']): string[] {
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

