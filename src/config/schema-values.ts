/**
 * The value types the configuration is written in: durations, sizes, names, accounts, groups,
 * mail domains and counts, each with the error a person reads when one is wrong.
 */
import { z } from 'zod';
import { isAccountName, notAnAccountName } from '../core/account-name.ts';
import { parseDurationMs } from '../core/duration.ts';

/** "48h", "10m", "90s", "2d", "1h30m" → milliseconds. */
export const duration = z
  .string({ error: 'expected a duration such as 90s, 10m, 48h or 2d' })
  .transform((text, ctx) => {
    const ms = parseDurationMs(text);
    if (ms === undefined || ms <= 0) {
      ctx.addIssue({ code: 'custom', message: `"${text}" is not a duration: write e.g. 90s, 10m, 48h or 2d` });
      return z.NEVER;
    }
    return ms;
  });

export const NAME = /^[a-z][a-z0-9-]{0,30}[a-z0-9]$/;
export const NAME_RULE = 'use 2–32 lower-case letters, digits and dashes, starting with a letter';
export const name = z.string().regex(NAME, NAME_RULE);
/** How pool groups and admins name a group of the facility directory (see core/access.ts). */
export const DIRECTORY_PREFIX = 'ldap:';
export const DIRECTORY_GROUP = /^ldap:[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$/;
/** A group of access.groups, or of the facility directory: `ldap:<group>`. */
export const groupRef = z.string().refine((g) => (g.startsWith(DIRECTORY_PREFIX) ? DIRECTORY_GROUP.test(g) : NAME.test(g)), {
  error: (issue) =>
    String(issue.input).startsWith(DIRECTORY_PREFIX) ? 'a directory group is written ldap:<group name> (letters, digits, space, ".", "_", "-")' : NAME_RULE,
});
export const DEFAULT_LEASE_MS = 48 * 3_600_000;
export const DEFAULT_REMINDERS_MS = [24 * 3_600_000, 3_600_000, 600_000];
/** A facility account, by the bot's one rule (core/account-name.ts). */
export const account = z.string().refine(isAccountName, {
  error: (issue) => (issue.input === '*' ? '"*" is not an account name: name admins one by one ("*" means every account only in group lists)' : notAnAccountName(String(issue.input))),
});
/** A group member: an account, or `*` for every account. */
export const member = z.string().refine((v) => v === '*' || isAccountName(v), { error: (issue) => notAnAccountName(String(issue.input)) });
/** A mail domain as people write it: facility.example (its subdomains are included). */
const MAIL_DOMAIN = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/i;
export const mailDomain = z.string().refine((d) => MAIL_DOMAIN.test(d), { error: (issue) => `${JSON.stringify(issue.input)} is not a mail domain: write it like facility.example (subdomains are included)` });
/**
 * The identity rules a platform offers. The whole-address rules (`email`, `upn`) were removed:
 * an address is not an account name, so the accounts they gave could never be set up on a VM.
 */
export const identityRule = <const R extends readonly [string, ...string[]]>(rules: R, instead: string) =>
  z.enum(rules, {
    error: (issue) =>
      issue.input === 'email' || issue.input === 'upn'
        ? `"${String(issue.input)}" would make whole addresses accounts, and an address is not an account name: use ${instead}`
        : `must be one of ${rules.join(', ')}`,
  });
const SIZE_UNITS: Record<string, number> = { B: 1, KB: 1e3, MB: 1e6, GB: 1e9, KIB: 2 ** 10, MIB: 2 ** 20, GIB: 2 ** 30 };
/** "200MiB", "1GiB", "500MB", "64KiB" → bytes. */
export const byteSize = z.string({ error: 'expected a size such as 500MiB or 2GiB' }).transform((text, ctx) => {
  const match = /^(\d+(?:\.\d+)?)\s*([KMG]i?B|B)$/i.exec(text.trim());
  const bytes = match ? Math.round(Number(match[1]) * SIZE_UNITS[match[2]!.toUpperCase()]!) : 0;
  if (!match || bytes < 1) {
    ctx.addIssue({ code: 'custom', message: `"${text}" is not a size: write e.g. 500MiB or 2GiB (KiB, MiB, GiB; KB, MB, GB)` });
    return z.NEVER;
  }
  return bytes;
});
export const count = (min: number) => z.number().int(`must be a whole number`).min(min).max(100_000);
export const fraction = z.number().min(0).max(1);

/** An admin: an account, or a directory group (`ldap:<group>`) whose members are admins. */
export const accountOrDirectoryGroup = z.string().superRefine((value, ctx) => {
  const parsed = (value.startsWith(DIRECTORY_PREFIX) ? groupRef : account).safeParse(value);
  if (!parsed.success) for (const issue of parsed.error.issues) ctx.addIssue({ code: 'custom', message: issue.message });
});

