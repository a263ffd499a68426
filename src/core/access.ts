import type { PoolSpec, Principal } from './model.ts';

export interface AccessRules {
  admins: readonly string[];
  /** group → member accounts; `*` stands for every account. */
  groups: Readonly<Record<string, readonly string[]>>;
}

/** Who an account is to the bot: admin or not, and its groups. */
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
