/**
 * The operator's command line: the bot's own code, configuration and state, without chat.
 * `npm run daaas -- <command>`; every command can answer in JSON for scripts.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DataDirError, lockDataDir } from '../adapters/data-dir-lock.ts';
import { connectOpenStack } from '../adapters/openstack/connect.ts';
import { OpenStackConfigError } from '../adapters/openstack/os-config.ts';
import { AnsibleMissingError } from '../adapters/ansible/ansible-runner.ts';
import { backupStore, NotAStoreError, restoreStore, STORE_FILE, type StoreSummary } from '../adapters/sqlite/backup.ts';
import { SqliteStore, StoreOpenError } from '../adapters/sqlite/sqlite-store.ts';
import { SystemClock } from '../adapters/system-clock.ts';
import { createApp } from '../app.ts';
import { buildCloud, buildProvisioner, ROOT, StartupError } from '../compose.ts';
import { ConfigError, loadConfig, type AppConfig } from '../config/load-config.ts';
import { parseDurationMs } from '../core/duration.ts';
import { silentLogger } from '../ports/logger.ts';
import { usage } from '../chat/command-spec.ts';
import { adminCli, adminCommands, adminHelp, AdminUsageError } from './admin.ts';
import { checkCloud } from './cloud-check.ts';
import { auditView, leasesView, poolsView, table, type Output } from './store-views.ts';
import { directoryBindCheck, directoryCheck, directoryReportText, NoDirectoryError } from './directory-check.ts';

const HELP = `Usage: npm run daaas -- <command> [options]

Commands:
  config check              validate the configuration, listing every problem (and, with a
                            facility directory, bind to it and search it once)
  directory check <account> what the bot sees of an account in the facility directory: uid,
                            gid, home, groups, whether it is refused, the pools it may claim
  cloud check               authenticate with the cloud and check everything the pools need:
                            images, flavours, networks, the compute API version and the quota
  pools                     each pool: VMs by state against its size and maximum
  leases                    every active lease: VM, user, expiry, extensions, home directory
  audit [--since 1h|ISO]    the audit trail (default: the last 24 hours)
  reconcile --once          one reconcile tick, as the bot would run it, then wait for its work
  reconcile --once --dry-run
                            what that tick would do, without doing it
  backup <file>             a consistent copy of the store in <file>, while the bot runs
  restore <file>            put a backup in place as the store (refused while a bot runs on
                            the data directory; the store it replaces is kept beside it)
  admin <command> …         the chat's admin commands, audited as cli:<your login name>; while
                            the bot runs it acts on them at its next tick. Exit 1 when refused
                            or not confirmed (add --yes). admin <command> --help for each:
%ADMIN%

Options:
  --json        answer in JSON
  -h, --help    show this text

The configuration comes from DAAAS_CONFIG (default: config/default.yaml), the state from
DAAAS_DATA_DIR (default: ./var); a real cloud from OS_CLOUD or the OS_* variables.
Exit status: 0 when all is well; 1 when something is wrong or missing (for config check:
the configuration has problems, each listed); 2 on a usage error, or when any other command
cannot use the configuration.
`;

/** A problem worth exit status 2 (usage, configuration, set-up), said in plain words. */
class UsageError extends Error {}

async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'admin') return await admin(argv.slice(1));
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' }, once: { type: 'boolean' }, 'dry-run': { type: 'boolean' }, since: { type: 'string' } },
      allowPositionals: true,
    });
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${HELP.replace('%ADMIN%', adminHelp())}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(HELP.replace('%ADMIN%', adminHelp()));
    return 0;
  }
  const out: Output = { json: Boolean(values.json), write: (text) => process.stdout.write(text) };
  const command = positionals.join(' ');
  try {
    if (positionals[0] === 'directory' && positionals[1] === 'check') return await directoryCommand(out, positionals.slice(2));
    if (positionals[0] === 'backup') return await backup(out, positionals.slice(1));
    if (positionals[0] === 'restore') return restore(out, positionals.slice(1));
    switch (command) {
      case 'config check':
        return await configCheck(out);
      case 'cloud check':
        return await cloudCheck(out);
      case 'pools':
        return pools(out);
      case 'leases':
        return leases(out);
      case 'audit':
        return audit(out, values.since);
      case 'reconcile':
        if (!values.once) throw new UsageError('reconcile runs one tick: say --once (the bot itself reconciles continuously).');
        return await reconcile(out, Boolean(values['dry-run']));
      default:
        throw new UsageError(`${command ? `Unknown command "${command}".` : 'No command given.'}\n\n${HELP.replace('%ADMIN%', adminHelp())}`);
    }
  } catch (error) {
    if (error instanceof UsageError || error instanceof NoDirectoryError || error instanceof ConfigError || error instanceof OpenStackConfigError || error instanceof AnsibleMissingError || error instanceof StartupError || error instanceof StoreOpenError || error instanceof DataDirError) {
      process.stderr.write(`${error.message}\n`);
      return 2;
    }
    throw error;
  }
}

/** `admin <command> [words] [--reason TEXT] [--yes] [--json]`: the chat's own admin commands (cli/admin.ts). */
async function admin(args: string[]): Promise<number> {
  const json = args.includes('--json');
  const words = args.filter((a) => a !== '--json');
  try {
    const spec = adminCommands().find((c) => c.name === `admin ${words[0]?.toLowerCase()}`);
    if (spec && words.some((w) => w === '--help' || w === '-h')) {
      process.stdout.write(`Usage: npm run daaas -- ${usage(spec)} [--json]\n${spec.summary}\nExamples:\n${spec.examples.map((e) => `  npm run daaas -- ${e}`).join('\n')}\n`);
      return 0;
    }
    return await adminCli(words, { env: process.env, json, write: (text) => process.stdout.write(text) });
  } catch (error) {
    if (error instanceof AdminUsageError || error instanceof ConfigError || error instanceof StoreOpenError) {
      process.stderr.write(`${error.message}\n`);
      return 2;
    }
    throw error;
  }
}

function config(): AppConfig {
  const path = process.env.DAAAS_CONFIG ? resolve(process.env.DAAAS_CONFIG) : join(ROOT, 'config', 'default.yaml');
  return loadConfig(path, process.env);
}

/**
 * The bot's state, read-only: next to a running bot (SQLite in WAL mode lets both read), or a
 * copy on read-only media.
 */
function openStore(cfg: AppConfig): SqliteStore {
  const path = join(resolve(cfg.dataDir), 'daaas.db');
  if (!existsSync(path)) throw new UsageError(`There is no state in ${resolve(cfg.dataDir)} yet: the bot has not run with this DAAAS_DATA_DIR.`);
  return new SqliteStore(path, { readOnly: true });
}

async function configCheck(out: Output): Promise<number> {
  try {
    const cfg = config();
    // With a facility directory, bind to it and search once: a wrong password, CA or base shows now.
    const directory = await directoryBindCheck(cfg, process.env, new SystemClock());
    const summary = { ok: directory?.ok ?? true, source: cfg.source, pools: cfg.pools.map((p) => ({ name: p.name, size: p.size, max: p.max, image: p.image, flavor: p.flavor })), cloud: cfg.cloud.driver, provisioner: cfg.provisioner.driver, ...(directory ? { directory } : {}) };
    if (out.json) out.write(`${JSON.stringify(summary, null, 2)}\n`);
    else {
      out.write(`✔ ${cfg.source} is valid: ${cfg.pools.length} pool(s) (${cfg.pools.map((p) => `${p.name} ${p.size}/${p.max}`).join(', ')}), cloud ${cfg.cloud.driver}, provisioner ${cfg.provisioner.driver}.\n`);
      if (directory?.ok) out.write(`✔ facility directory: bound to ${directory.url} and searched the user base (${directory.ms} ms).\n`);
      else if (directory) out.write(`✖ facility directory: ${directory.error}\n`);
    }
    return summary.ok ? 0 : 1;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    if (out.json) out.write(`${JSON.stringify({ ok: false, source: error.source, problems: error.problems }, null, 2)}\n`);
    else out.write(`✖ ${error.message}\n`);
    return 1;
  }
}

async function directoryCommand(out: Output, args: string[]): Promise<number> {
  if (args.length !== 1) throw new UsageError('directory check needs one account: npm run daaas -- directory check <account> [--json]');
  const report = await directoryCheck(config(), process.env, args[0]!, new SystemClock());
  out.write(out.json ? `${JSON.stringify(report, null, 2)}\n` : directoryReportText(report));
  return report.refusal ? 1 : 0;
}

async function cloudCheck(out: Output): Promise<number> {
  const cfg = config();
  if (cfg.cloud.driver !== 'openstack') {
    const said = `${cfg.source} uses the simulated cloud (cloud.driver: ${cfg.cloud.driver}): there is no cloud to check. Set cloud.driver: openstack to use a real one.`;
    out.write(out.json ? `${JSON.stringify({ ok: true, findings: [], note: said }, null, 2)}\n` : `${said}\n`);
    return 0;
  }
  const clock = new SystemClock();
  const findings = await checkCloud({ ...connectOpenStack(cfg.cloud.openstack, process.env, clock, silentLogger), pools: cfg.pools, now: clock.now() });
  const problems = findings.filter((f) => !f.ok).length;
  if (out.json) out.write(`${JSON.stringify({ ok: problems === 0, findings }, null, 2)}\n`);
  else {
    for (const f of findings) out.write(`${f.ok ? '✔' : '✖'} ${f.subject}: ${f.message}\n`);
    out.write(problems ? `\n${problems} problem${problems === 1 ? '' : 's'} found: the bot cannot fill every pool until they are fixed.\n` : '\nAll good: the bot can fill every pool on this cloud.\n');
  }
  return problems ? 1 : 0;
}

function pools(out: Output): number {
  const cfg = config();
  const store = openStore(cfg);
  try {
    return poolsView(out, cfg, store);
  } finally {
    store.close();
  }
}

function leases(out: Output): number {
  const store = openStore(config());
  try {
    return leasesView(out, store);
  } finally {
    store.close();
  }
}

function audit(out: Output, since: string | undefined): number {
  const cfg = config();
  const now = new SystemClock().now();
  let from = now - 86_400_000;
  if (since !== undefined) {
    const ago = parseDurationMs(since);
    const at = Date.parse(since);
    if (ago !== undefined) from = now - ago;
    else if (Number.isFinite(at)) from = at;
    else throw new UsageError(`--since "${since}" is neither a duration (90s, 10m, 48h, 2d) nor a date (2026-11-26T09:00Z).`);
  }
  const store = openStore(cfg);
  try {
    return auditView(out, store, from);
  } finally {
    store.close();
  }
}

async function reconcile(out: Output, dryRun: boolean): Promise<number> {
  const cfg = config();
  const dataDir = resolve(cfg.dataDir);
  // A real tick must not run next to the bot's own; a dry run only reads.
  let unlock: (() => void) | undefined;
  if (!dryRun) {
    try {
      unlock = lockDataDir(dataDir);
    } catch (error) {
      throw new UsageError(`${(error as Error).message}. The bot reconciles by itself; stop it to run a tick by hand, or add --dry-run.`);
    }
  }
  const clock = new SystemClock();
  mkdirSync(dataDir, { recursive: true });
  const store = new SqliteStore(join(dataDir, 'daaas.db'));
  try {
    const app = createApp({ config: cfg, store, cloud: await buildCloud(cfg, dataDir, clock, silentLogger), provisioner: await buildProvisioner(cfg, dataDir, clock, silentLogger), clock, log: silentLogger });
    if (dryRun) {
      const { leases, plan, cloudError } = await app.reconciler.preview();
      const actions = [
        ...leases.map((a) => ({ kind: a.kind === 'expire' ? 'expire lease' : a.kind === 'retiring' ? 'tell holder: pool retired' : 'remind', vm: a.lease.vm.name, user: a.lease.user, pool: a.lease.pool, detail: a.kind === 'remind' ? `${Math.round(a.beforeMs / 60_000)} min before expiry` : '' })),
        ...(plan?.actions ?? []).map((a) => ({
          kind: a.kind,
          vm: 'vm' in a && a.vm ? a.vm.name : '',
          user: '',
          pool: a.kind === 'create' ? a.pool : 'vm' in a && a.vm ? a.vm.pool : '',
          detail: 'reason' in a && a.reason ? a.reason : a.kind === 'delete-server' ? a.serverId : '',
        })),
      ];
      const notes = Object.fromEntries(plan?.notes ?? []);
      if (out.json) out.write(`${JSON.stringify({ dryRun: true, cloudError, actions, notes }, null, 2)}\n`);
      else {
        if (cloudError) out.write(`✖ The cloud did not answer: ${cloudError}\n`);
        out.write(actions.length ? table(['action', 'pool', 'vm', 'user', 'detail'], actions.map((a) => [a.kind, a.pool, a.vm || '-', a.user || '-', a.detail || '-'])) : 'Nothing to do: every pool is as it should be.\n');
        for (const [pool, note] of Object.entries(notes)) out.write(`  ${pool}: ${note}\n`);
      }
      await app.stop();
      return cloudError ? 1 : 0;
    }
    const report = await app.reconciler.tick();
    await app.reconciler.idle();
    await app.stop();
    const result = { actions: report.actions, cloudReachable: report.cloudReachable, cloudError: app.reconciler.status.lastError, notes: Object.fromEntries(app.reconciler.status.notes) };
    if (out.json) out.write(`${JSON.stringify(result, null, 2)}\n`);
    else out.write(`${report.cloudReachable ? '✔' : '✖'} One tick: ${report.actions} action(s)${report.cloudReachable ? '' : `; the cloud did not answer: ${result.cloudError}`}.\n`);
    return report.cloudReachable ? 0 : 1;
  } finally {
    store.close();
    unlock?.();
  }
}

const described = (s: StoreSummary) => `schema ${s.schemaVersion}, ${s.vms} VM${s.vms === 1 ? '' : 's'}, ${s.activeLeases} active lease${s.activeLeases === 1 ? '' : 's'}, ${(s.bytes / 1024).toFixed(0)} KiB`;

async function backup(out: Output, args: string[]): Promise<number> {
  if (args.length !== 1) throw new UsageError('backup needs one file to write: npm run daaas -- backup <file> [--json]');
  const dataDir = resolve(config().dataDir);
  const store = join(dataDir, STORE_FILE);
  if (!existsSync(store)) throw new UsageError(`There is no state in ${dataDir} yet: the bot has not run with this DAAAS_DATA_DIR.`);
  try {
    const result = await backupStore(store, args[0]!);
    const file = resolve(args[0]!);
    if (out.json) out.write(`${JSON.stringify({ ok: true, file, ...result, ms: Math.round(result.ms) }, null, 2)}\n`);
    else out.write(`✔ Backed up ${store} to ${file}: ${described(result)} (${Math.round(result.ms)} ms).\n`);
    return 0;
  } catch (error) {
    if (!(error instanceof NotAStoreError)) throw error;
    process.stderr.write(`✖ ${error.message}\n`);
    return 1;
  }
}

function restore(out: Output, args: string[]): number {
  if (args.length !== 1) throw new UsageError('restore needs the backup file: npm run daaas -- restore <file> [--json]');
  const dataDir = resolve(config().dataDir);
  try {
    const { summary, keptAs, retired } = restoreStore(dataDir, args[0]!, new SystemClock().now());
    if (out.json) out.write(`${JSON.stringify({ ok: true, dataDir, ...summary, retired, keptAs }, null, 2)}\n`);
    else {
      out.write(`✔ Restored ${resolve(args[0]!)} into ${dataDir}: ${described(summary)}.\n`);
      if (retired) out.write(`  ${retired} VM${retired === 1 ? ' that was' : 's that were'} ready in the backup will be replaced: ${retired === 1 ? 'it' : 'they'} may have been claimed after it was taken.\n`);
      if (keptAs) out.write(`  The store it replaced is kept as ${keptAs}.\n`);
    }
    return 0;
  } catch (error) {
    if (!(error instanceof NotAStoreError || error instanceof DataDirError)) throw error;
    process.stderr.write(`✖ Not restored: ${error.message}\n`);
    return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`daaas stopped on an unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
