/**
 * `directory check <account>` and the directory half of `config check`: what the bot sees of an
 * account in the facility directory, asked afresh (no cache), and which pools it may claim.
 */
import { buildDirectory } from '../compose.ts';
import type { AppConfig, Env } from '../config/load-config.ts';
import { AccessPolicy, mayClaim } from '../core/access.ts';
import { isUserError } from '../core/errors.ts';
import type { Clock } from '../ports/clock.ts';
import { DirectoryUnavailableError } from '../ports/directory.ts';
import { silentLogger } from '../ports/logger.ts';
import type { SystemClock } from '../adapters/system-clock.ts';

export interface DirectoryReport {
  account: string;
  /** The directory answered. */
  reachable: boolean;
  exists: boolean;
  disabled: boolean;
  disabledReason: string | null;
  uid: number | null;
  gid: number | null;
  displayName: string | null;
  mail: string | null;
  home: string | null;
  /** Every group the directory lists for the account. */
  groups: string[];
  /** The groups that count for the bot: the configuration's and the directory's (`ldap:…`). */
  botGroups: string[];
  admin: boolean;
  /** Pools the account may claim. */
  pools: string[];
  /** What the bot would answer the account instead of serving it, if anything. */
  refusal: string | null;
  /** How long the look-up took, uncached (connection, StartTLS, bind and searches). */
  ms: number;
}

/** No `access.directory` in the configuration: nothing to check. */
export class NoDirectoryError extends Error {}

export async function directoryCheck(cfg: AppConfig, env: Env, account: string, clock: SystemClock): Promise<DirectoryReport> {
  const built = await buildDirectory(cfg, env, clock, silentLogger);
  if (!built) throw new NoDirectoryError(`${cfg.source} has no access.directory: the bot decides from the configuration's own lists alone.`);
  const { ldap } = built;
  const report: DirectoryReport = { account, reachable: false, exists: false, disabled: false, disabledReason: null, uid: null, gid: null, displayName: null, mail: null, home: null, groups: [], botGroups: [], admin: false, pools: [], refusal: null, ms: 0 };
  const started = clock.elapsedMs();
  try {
    const found = await ldap.lookUp(account);
    report.reachable = true;
    if (found.exists) {
      Object.assign(report, { exists: true, disabled: found.disabled, disabledReason: found.disabledReason, uid: found.uidNumber, gid: found.gidNumber, displayName: found.displayName, mail: found.mail, home: found.homeDirectory, groups: found.groups });
    }
    const policy = new AccessPolicy({ rules: cfg.access, pools: cfg.pools, directory: ldap, contact: built.settings.contact });
    try {
      const who = await policy.principal(account);
      report.ms = clock.elapsedMs() - started;
      report.botGroups = [...who.groups];
      report.admin = who.isAdmin;
      report.pools = cfg.pools.filter((p) => mayClaim(who, p)).map((p) => p.name);
    } catch (error) {
      if (!isUserError(error)) throw error;
      report.refusal = `${error.message}${error.hint ? ` ${error.hint}` : ''}`;
    }
  } catch (error) {
    if (!(error instanceof DirectoryUnavailableError)) throw error;
    report.refusal = `Claims are refused: ${error.message}`;
  } finally {
    report.ms ||= clock.elapsedMs() - started;
    await ldap.close();
  }
  return report;
}

export function directoryReportText(r: DirectoryReport): string {
  if (!r.reachable) return `✖ ${r.refusal}\n`;
  if (!r.exists) return `✖ ${r.account}: not in the facility directory. The bot answers: ${r.refusal}\n`;
  const lines = [
    `${r.refusal ? '✖' : '✔'} ${r.account}${r.displayName ? ` (${r.displayName})` : ''}${r.disabled ? `: ${r.disabledReason}` : ''}`,
    `  uid ${r.uid ?? '-'}, gid ${r.gid ?? '-'}, home ${r.home ?? '-'}, e-mail ${r.mail ?? '-'}`,
    `  directory groups: ${r.groups.join(', ') || '-'}`,
  ];
  if (r.refusal) lines.push(`  The bot answers: ${r.refusal}`);
  else {
    lines.push(`  groups that count for the bot: ${r.botGroups.join(', ') || '-'}${r.admin ? ' (an admin)' : ''}`);
    lines.push(`  may claim: ${r.pools.join(', ') || 'no pool'}`);
  }
  lines.push(`  (looked up in ${Math.round(r.ms)} ms, uncached)`);
  return `${lines.join('\n')}\n`;
}

/** For `config check`: binds and searches once; undefined when no directory is configured. */
export async function directoryBindCheck(cfg: AppConfig, env: Env, clock: SystemClock & Clock): Promise<{ ok: boolean; url: string; ms?: number; error?: string } | undefined> {
  const built = await buildDirectory(cfg, env, clock, silentLogger);
  if (!built) return undefined;
  try {
    const { ms } = await built.ldap.check();
    return { ok: true, url: built.settings.url, ms: Math.round(ms) };
  } catch (error) {
    return { ok: false, url: built.settings.url, error: (error as Error).message };
  } finally {
    await built.ldap.close();
  }
}
