/**
 * The one rule for facility account names. Every way an account name enters the bot checks it
 * here: chat identities (an address's local part, the identity maps), the terminal's `--user`
 * and login name, `access.admins`, `DAAAS_ADMINS`, group member lists, and the Ansible inputs
 * (the claim play makes the account on the VM and names the home directory after it). One set
 * for all of them, so a name the bot accepts from chat is one the VM can be set up for, and a
 * user is refused before a claim rather than after a warm VM was spent on them.
 *
 * The set: POSIX-portable user names as `useradd` makes them on current Linux distributions,
 * with dots, which facility directories use (`jane.doe`): a lowercase letter or `_`, then up to
 * 31 lowercase letters, digits, `.`, `_` or `-` (32 at most, the Linux login-name limit). So no
 * upper case (Linux accounts are case-sensitive and directories give them in lower case), no
 * leading digit (an all-digit name reads as a uid), no leading `-` or `.` (options; `.`, `..`),
 * no `@` (an address is not an account), and nothing a shell or a template would read.
 */

export const ACCOUNT_NAME_PATTERN = /^[a-z_][a-z0-9._-]{0,31}$/;

/** The rule in few words, for messages that must stay short. */
export const ACCOUNT_NAME_SHAPE = 'a lowercase letter or _, then up to 31 of a-z 0-9 . _ -';

/** The rule in words, for refusals people read. */
export const ACCOUNT_NAME_RULE = 'account names are a lowercase letter or _, then up to 31 lowercase letters, digits, ".", "_" or "-" (such as jane.doe)';

export function isAccountName(value: unknown): value is string {
  return typeof value === 'string' && ACCOUNT_NAME_PATTERN.test(value);
}

/** Why `value` is not an account name, in words a person can act on; undefined when it is one. */
export function accountNameProblem(value: string): string | undefined {
  if (ACCOUNT_NAME_PATTERN.test(value)) return undefined;
  if (value === '') return 'it is empty';
  if (value.length > 32) return 'it is longer than 32 characters';
  const lower = value.toLowerCase();
  if (lower !== value && ACCOUNT_NAME_PATTERN.test(lower)) return `it has capital letters (${lower}?)`;
  const others = [...new Set([...value].filter((c) => !/[a-z0-9._-]/.test(c)))];
  if (others.length > 0) return `it has characters other than a-z 0-9 . _ - (${others.map((c) => JSON.stringify(c)).join(', ')})`;
  return 'it must start with a lowercase letter or _';
}

/** A refusal that shows the value (escaped, so it cannot forge a line), what is wrong with it, and the rule. */
export function notAnAccountName(value: string): string {
  return `${JSON.stringify(value)} is not an account name: ${accountNameProblem(value) ?? 'it is one'}; ${ACCOUNT_NAME_RULE}`;
}
