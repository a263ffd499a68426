import { isIP } from 'node:net';
import { ACCOUNT_NAME_SHAPE, isAccountName } from '../../core/account-name.ts';

/**
 * Everything that reaches ansible-playbook from the bot is checked here first, against what the
 * value may be (an account name, a VM name, an address, a path), never against what it must not
 * be. A refused value stops the run before a file is written or a process started.
 *
 * What does get through is also made inert for Jinja: ansible-core templates string values of
 * `-e @vars.json` (a value `{{ lookup('pipe', 'id') }}` runs `id`), unless the value is the
 * JSON object `{"__ansible_unsafe": "..."}`, which its JSON decoder turns into an unsafe string
 * that is never templated. `toExtraVarsJson` wraps every string that way.
 */

export class UnsafeInputError extends Error {
  override readonly name = 'UnsafeInputError';
  constructor(
    /** Which input: `account`, `vm name`, `extra var common_packages[2]`... */
    readonly field: string,
    /** What is allowed, in words. */
    readonly allowed: string,
    value: unknown,
  ) {
    super(`refused ${field} ${show(value)}: ${allowed}`);
  }
}

/** A short, escaped rendering, so a hostile value cannot forge log lines or messages. */
function show(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

const NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;
const ROLE = /^[a-z][a-z0-9_]{0,62}$/;
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const PATH_SEGMENT = /^[A-Za-z0-9._-]+$/;
const VAR_NAME = /^[a-z_][a-z0-9_]{0,63}$/;
const KEY = /^[A-Za-z0-9_.-]{1,64}$/;

function check(ok: boolean, field: string, allowed: string, value: unknown): void {
  if (!ok) throw new UnsafeInputError(field, allowed, value);
}

/**
 * A POSIX account name by the bot's one rule (core/account-name.ts), the same set chat
 * identities, the terminal and the configuration accept: a name the bot took from a user is
 * never refused here, after a VM was spent on them.
 */
export function safeAccount(value: unknown, field = 'account'): string {
  check(isAccountName(value), field, `a POSIX account name: ${ACCOUNT_NAME_SHAPE}`, value);
  return value as string;
}

/** A numeric user id for a new account; 0 (root) is refused. */
export function safeUid(value: unknown, field = 'uid'): number {
  check(typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 999_999_999, field, 'a whole number from 1 to 999999999', value);
  return value as number;
}

/**
 * A person's name for the account's comment field: printable text without `:` (the passwd
 * field separator) or control characters, at most 128 characters.
 */
export function safeDisplayName(value: unknown, field = 'display name'): string {
  check(typeof value === 'string' && value.length <= 128 && !/[:\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(value), field, 'printable text of at most 128 characters, without ":" or control characters', value);
  return value as string;
}

/** An e-mail address of plain characters. */
export function safeMail(value: unknown, field = 'e-mail address'): string {
  check(typeof value === 'string' && /^[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9.-]{1,190}$/.test(value), field, 'an e-mail address (letters, digits, . _ % + - before the @)', value);
  return value as string;
}

/** A VM or pool name: what the bot generates and what names the log files. */
export function safeName(value: unknown, field = 'name'): string {
  check(typeof value === 'string' && NAME.test(value), field, 'lowercase letters, digits and -, starting with a letter or digit, at most 63', value);
  return value as string;
}

/** An Ansible role name (a directory under ansible/roles). */
export function safeRole(value: unknown, field = 'role'): string {
  check(typeof value === 'string' && ROLE.test(value), field, 'a role name: a lowercase letter, then lowercase letters, digits and _', value);
  return value as string;
}

/** An IPv4 or IPv6 address, or a DNS host name. */
export function safeAddress(value: unknown, field = 'address'): string {
  const ok = typeof value === 'string' && /^[A-Za-z0-9.:-]{1,253}$/.test(value) && (isIP(value) !== 0 || (HOSTNAME.test(value) && !/^[0-9.]+$/.test(value)));
  check(ok, field, 'an IPv4 or IPv6 address or a host name', value);
  return value as string;
}

/** An absolute path of plain segments (letters, digits, . _ -), without `.` or `..`. */
export function safePath(value: unknown, field = 'path'): string {
  const ok =
    typeof value === 'string' &&
    value.length <= 1024 &&
    value.startsWith('/') &&
    (value === '/' || value.slice(1).split('/').every((s) => PATH_SEGMENT.test(s) && s !== '.' && s !== '..'));
  check(ok, field, 'an absolute path of letters, digits, . _ - and /, without . or .. segments', value);
  return value as string;
}

/** A playbook file name in the Ansible directory. */
export function safePlaybook(value: unknown, field = 'playbook'): string {
  check(typeof value === 'string' && /^[a-z][a-z0-9_-]{0,62}\.ya?ml$/.test(value), field, 'a playbook file name such as provision.yml', value);
  return value as string;
}

export type VarValue = string | number | boolean | null | VarValue[] | { [key: string]: VarValue };
export type ExtraVars = Record<string, VarValue>;

/**
 * A variable name the bot may set. `ansible_*` would let a variable change how Ansible connects
 * or runs commands, so those are the runner's alone.
 */
export function safeVarName(value: unknown, field = 'variable name'): string {
  check(typeof value === 'string' && VAR_NAME.test(value) && !value.startsWith('ansible_'), field, 'lowercase letters, digits and _, not starting with ansible_', value);
  return value as string;
}

/**
 * Checks extra variables: names as `safeVarName`; values JSON data of bounded size whose
 * strings are printable (no control characters) and whose keys are plain words. Strings may
 * otherwise hold anything, because `toExtraVarsJson` keeps Jinja from evaluating them.
 */
export function safeExtraVars(vars: unknown, field = 'extra vars'): ExtraVars {
  check(typeof vars === 'object' && vars !== null && !Array.isArray(vars), field, 'a mapping of variable names to values', vars);
  const out: ExtraVars = {};
  for (const [name, value] of Object.entries(vars as Record<string, unknown>)) {
    safeVarName(name, `${field}: variable name`);
    out[name] = safeValue(value, `extra var ${name}`, 0);
  }
  return out;
}

function safeValue(value: unknown, field: string, depth: number): VarValue {
  if (depth > 8) throw new UnsafeInputError(field, 'at most 8 levels of lists and mappings', '...');
  if (value === null || typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    check(Number.isFinite(value), field, 'a finite number', value);
    return value;
  }
  if (typeof value === 'string') {
    // C0 and C1 controls, DEL and the Unicode line breaks: nothing that can split a line.
    check(value.length <= 4096 && !/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(value), field, 'printable text of at most 4096 characters, without control characters or line breaks', value);
    return value;
  }
  if (Array.isArray(value)) {
    check(value.length <= 1000, field, 'a list of at most 1000 items', `[${value.length} items]`);
    return value.map((item, i) => safeValue(item, `${field}[${i}]`, depth + 1));
  }
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const out: Record<string, VarValue> = {};
    for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
      // __ansible_unsafe / __ansible_vault are markers to Ansible's JSON decoder: not data.
      check(KEY.test(key) && !key.startsWith('__ansible'), `${field} key`, 'keys of letters, digits, _ . -, not starting with __ansible', key);
      out[key] = safeValue(item, `${field}.${key}`, depth + 1);
    }
    return out;
  }
  throw new UnsafeInputError(field, 'text, a number, true/false, null, a list or a mapping', typeof value);
}

/**
 * The JSON for `-e @file`, every string wrapped as `{"__ansible_unsafe": ...}` so that Ansible
 * never templates it. Mapping keys are not wrapped (the decoder cannot mark them), which is why
 * `safeExtraVars` allows only plain words as keys.
 */
export function toExtraVarsJson(vars: ExtraVars): string {
  const wrap = (value: VarValue): unknown => {
    if (typeof value === 'string') return { __ansible_unsafe: value };
    if (Array.isArray(value)) return value.map(wrap);
    if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, wrap(v)]));
    return value;
  };
  return JSON.stringify(wrap(safeExtraVars(vars)));
}

/** The variables as `toExtraVarsJson` wrote them, unwrapped again: for a run's log. */
export function fromExtraVarsJson(json: string): unknown {
  return JSON.parse(json, (_key, value: unknown) => (isUnsafeWrapper(value) ? value.__ansible_unsafe : value));
}

function isUnsafeWrapper(value: unknown): value is { __ansible_unsafe: unknown } {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).length === 1 && '__ansible_unsafe' in value;
}
