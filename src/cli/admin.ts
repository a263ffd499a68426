/**
 * The operator's admin commands (`npm run daaas -- admin release <vm> --reason TEXT --yes`): the
 * chat's own admin commands (commands/admin-*.ts) run through the chat's dispatcher on the bot's
 * store, as `cli:<login name>`. Nothing here decides anything: the same words, checks, audit
 * records and outbox messages as in chat. While the bot runs, it acts on what was written at
 * its next tick; otherwise when it starts.
 */
import { existsSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { COMMANDS } from '../../commands/index.ts';
import { dataDirLocked } from '../adapters/data-dir-lock.ts';
import { SqliteAlerts } from '../adapters/sqlite/alerts.ts';
import { SqliteStore } from '../adapters/sqlite/sqlite-store.ts';
import { SystemClock } from '../adapters/system-clock.ts';
import { usage, type CommandSpec } from '../chat/command-spec.ts';
import { Dispatcher } from '../chat/dispatcher.ts';
import { adminExtendedMessage, adminReleasedMessage } from '../chat/lease-card.ts';
import { renderText } from '../chat/shell/render-text.ts';
import type { Block, Reply, Value } from '../chat/reply.ts';
import { ROOT } from '../compose.ts';
import { loadConfig, type AppConfig } from '../config/load-config.ts';
import { AlertDesk } from '../core/alert-desk.ts';
import { DaaasService } from '../core/service.ts';
import type { Clock } from '../ports/clock.ts';
import { silentLogger } from '../ports/logger.ts';
import { noMetrics } from '../ports/metrics.ts';
import { AlertDestinations } from '../scheduler/alert-destinations.ts';

/** The admin commands the operator's command line offers: the chat's, by their second word. */
const OFFERED = ['leases', 'release', 'extend', 'resize', 'drain', 'undrain', 'pause', 'resume', 'alerts'];
/** Those that only read: nothing for the bot to act on. */
const READ_ONLY = new Set(['admin leases', 'admin alerts']);

export function adminCommands(): CommandSpec[] {
  return OFFERED.map((word) => COMMANDS.find((c) => c.name === `admin ${word}`)).filter((c): c is CommandSpec => c !== undefined);
}

export function adminHelp(): string {
  return adminCommands()
    .map((c) => `    ${usage(c)}`)
    .join('\n');
}

export interface AdminCliContext {
  env: Readonly<Record<string, string | undefined>>;
  json: boolean;
  write: (text: string) => void;
  /** The operator, as audited: `cli:<login name>`. */
  operator?: string;
  clock?: Clock;
}

/** What the operator's command came to, for scripts (`--json`). */
export interface AdminCliResult {
  ok: boolean;
  /** done, asked to confirm (nothing done: add --yes), or refused (`code` says why). */
  outcome: 'done' | 'asked to confirm' | 'refused';
  code: string | null;
  command: string;
  operator: string;
  /** Whether the bot runs on this data directory now. */
  bot: { running: boolean };
  /** When the bot acts on it, or how to confirm; null for a read or a refusal. */
  note: string | null;
  reply: ReturnType<typeof replyJson>;
}

/** A usage problem (exit status 2), said in plain words. */
export class AdminUsageError extends Error {}

/** Runs `admin <words…>` as the operator. Exit status: 0 done, 1 refused or not confirmed. */
export async function adminCli(words: string[], ctx: AdminCliContext): Promise<number> {
  const offered = adminCommands();
  const sub = words[0]?.toLowerCase();
  if (!sub || !offered.some((c) => c.name === `admin ${sub}`)) {
    throw new AdminUsageError(`${sub ? `"admin ${sub}" is not an operator command.` : 'admin needs a command.'} Admin commands:\n${adminHelp()}`);
  }
  const cfg = configFrom(ctx.env);
  const dataDir = resolve(cfg.dataDir);
  const path = join(dataDir, 'daaas.db');
  if (!existsSync(path)) throw new AdminUsageError(`There is no state in ${dataDir} yet: the bot has not run with this DAAAS_DATA_DIR.`);
  const running = dataDirLocked(dataDir);
  const clock = ctx.clock ?? new SystemClock();
  const operator = ctx.operator ?? `cli:${loginName(ctx.env)}`;
  const store = new SqliteStore(path);
  try {
    const alerts = new SqliteAlerts(store);
    // Where alerts go, as the bot would say it; which chat platforms the bot has connected is its own business.
    const destinations = new AlertDestinations({ settings: cfg.alerts, admins: cfg.access.admins, localUserIsAdmin: cfg.access.localUserIsAdmin, localAccounts: new Set(), alerts, platforms: () => ['slack', 'teams', 'shell'] });
    const service = new DaaasService({
      store,
      clock,
      pools: cfg.pools,
      // The cloud is the bot's business: the operator's commands need only the store.
      cloudStatus: () => ({ lastObservedAt: null, lastError: null, notes: new Map() }),
      onChange: () => {},
      defaultReadyMs: 0,
      ...(cfg.access.adminMaxLease !== undefined ? { adminMaxLeaseMs: cfg.access.adminMaxLease } : {}),
      adminMessages: { released: adminReleasedMessage, extended: adminExtendedMessage },
      // `admin resume` closes an open circuit as in chat.
      circuit: cfg.scheduler.circuit,
      alerts: new AlertDesk({ alerts, clock, transaction: (fn) => store.transaction(fn), destinations: () => destinations.describe() }),
    });
    let code = 'ok';
    let command = `admin ${sub}`;
    const dispatcher = new Dispatcher({
      commands: offered,
      service,
      clock,
      log: silentLogger,
      principal: () => ({ account: operator, isAdmin: true, groups: [] }),
      metrics: { ...noMetrics, command: (name, result) => ((command = name), (code = result)) },
    });
    const since = clock.now();
    const answer = await dispatcher.dispatch({ platform: 'cli', account: operator, conversation: 'cli', text: ['admin', ...words].join(' ') });
    const asked = code === 'ok' && store.auditLog({ since }).some((e) => e.actor === operator && e.action === command && e.result === 'asked to confirm');
    const outcome: AdminCliResult['outcome'] = code !== 'ok' ? 'refused' : asked ? 'asked to confirm' : 'done';
    const note =
      outcome === 'asked to confirm'
        ? `Nothing was done. To do it, run it again with --yes: npm run daaas -- ${['admin', ...words].join(' ')} --yes`
        : outcome === 'done' && !READ_ONLY.has(command)
          ? botNote(running)
          : null;
    const result: AdminCliResult = { ok: outcome === 'done', outcome, code: code === 'ok' ? null : code, command, operator, bot: { running }, note, reply: replyJson(answer) };
    if (ctx.json) ctx.write(`${JSON.stringify(result, null, 2)}\n`);
    else ctx.write(`${renderText(answer, { now: clock.now() })}\n${note ? `\n${note}\n` : ''}`);
    return result.ok ? 0 : 1;
  } finally {
    store.close();
  }
}

function botNote(running: boolean): string {
  return running
    ? 'The bot is running: this is written to its store, and it acts on it at its next tick (within its scheduler.schedule, a minute by default); anyone affected is told through its outbox.'
    : 'The bot is not running: this is written to its store, and it acts on it when it starts (anyone affected is told then).';
}

function configFrom(env: Readonly<Record<string, string | undefined>>): AppConfig {
  const path = env.DAAAS_CONFIG ? resolve(env.DAAAS_CONFIG) : join(ROOT, 'config', 'default.yaml');
  return loadConfig(path, env);
}

function loginName(env: Readonly<Record<string, string | undefined>>): string {
  try {
    return userInfo().username;
  } catch {
    return env.USER ?? env.LOGNAME ?? 'unknown';
  }
}

/** A reply as data for scripts: times in ISO 8601, durations in milliseconds, tables as rows of named cells. */
export function replyJson(answer: Reply) {
  const value = (v: Value): string | number => (typeof v === 'string' ? v : 'time' in v ? new Date(v.time).toISOString() : v.duration);
  const of = <T extends Block['type']>(type: T) => answer.blocks.filter((b): b is Extract<Block, { type: T }> => b.type === type);
  return {
    tone: answer.tone,
    title: answer.title,
    text: of('text').map((b) => b.text),
    fields: Object.fromEntries(of('fields').flatMap((b) => b.fields.map((f) => [f.label, value(f.value)]))),
    tables: of('table').map((b) => b.rows.map((row) => Object.fromEntries(b.columns.map((c, i) => [c, row[i] === undefined ? null : value(row[i]!)])))),
    actions: of('actions').flatMap((b) => b.actions.map((a) => ({ label: a.label, command: a.command }))),
  };
}
