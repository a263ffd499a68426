/**
 * What the bot must answer to a message, worked out independently of the dispatcher from the
 * command specs, the configuration and the store's current state; and the checks every reply
 * and every state must pass. Used by the fuzz, load and fault suites. Every check throws (so a
 * fast-check property fails and shrinks) rather than asserting through ava.
 */
import { isDeepStrictEqual } from 'node:util';
import { COMMANDS } from '../../commands/index.ts';
import type { CommandSpec } from '../../src/chat/command-spec.ts';
import { parseInput } from '../../src/chat/parse.ts';
import type { Reply, Tone } from '../../src/chat/reply.ts';
import { renderBlocks } from '../../src/chat/slack/render-blocks.ts';
import { renderText } from '../../src/chat/shell/render-text.ts';
import { renderCard } from '../../src/chat/teams/render-card.ts';
import { parseDurationMs } from '../../src/core/duration.ts';
import { UserError } from '../../src/core/errors.ts';
import { VM_STATES } from '../../src/core/model.ts';
import type { Harness } from '../helpers/harness.ts';

export const TONES: readonly Tone[] = ['success', 'info', 'warning', 'error'];
export const APOLOGY = 'Sorry, something went wrong on our side.';

export interface AuditExpectation {
  action: string;
  target: string;
  /** 'ok', or the refusal's error code. */
  result: string;
}

export interface Expectation {
  tone: Tone;
  /** Other tones the answer may have (admin pools warns while the cloud is not answering). */
  alsoTone?: Tone;
  /** The one audit row the message must add, or null: none. */
  audit: AuditExpectation | null;
  /** What the message changes: nothing, or one named use case. */
  change:
    | null
    | { kind: 'claim'; pool: string }
    | { kind: 'extend'; leaseId: string; by: number }
    | { kind: 'release'; leaseId: string }
    | { kind: 'admin-extend'; leaseId: string; by: number }
    | { kind: 'admin-release'; leaseId: string }
    /** An admin's run-time change to pools: only the pool_controls table may change. */
    | { kind: 'controls' };
  /** Why, for failure messages: the error code or the command. */
  why: string;
}

const refuse = (why: string, audit: AuditExpectation | null = null): Expectation => ({ tone: 'error', audit, change: null, why });
const answer = (tone: Tone, why: string, audit: AuditExpectation | null = null): Expectation => ({ tone, audit, change: null, why });

/** Who the account is by the configuration: admin, and the groups it is in. */
function identity(h: Harness, account: string): { isAdmin: boolean; groups: string[] } {
  const { admins, groups } = h.config.access;
  return {
    isAdmin: admins.includes(account),
    groups: Object.entries(groups)
      .filter(([, members]) => members.includes(account) || members.includes('*'))
      .map(([group]) => group),
  };
}

/** The command the words name (longest match of up to three words) and the words left over. */
function findCommand(words: string[]): { spec: CommandSpec; rest: string[] } | undefined {
  if (words.length === 0) return { spec: COMMANDS.find((c) => c.name === 'help')!, rest: [] };
  for (let n = Math.min(3, words.length); n > 0; n--) {
    const name = words.slice(0, n).join(' ').toLowerCase();
    const spec = COMMANDS.find((c) => c.name === name);
    if (spec) return { spec, rest: words.slice(n) };
  }
  return undefined;
}

/** What `account` must get back for `text`, given the state of the store right now. */
export function expectOutcome(h: Harness, account: string, text: string): Expectation {
  let words: string[];
  let flags: Set<string>;
  try {
    ({ words, flags } = parseInput(text));
  } catch (error) {
    if (error instanceof UserError) return refuse(`parse: ${error.code}`);
    throw error;
  }
  const found = findCommand(words);
  if (!found) return refuse('UNKNOWN_COMMAND');
  const { spec, rest } = found;
  const who = identity(h, account);
  // `<command> --help` (or -h): that command's help, whatever else was typed; nothing runs, nothing
  // is audited. An admin command's help is, to anyone else, a command that does not exist.
  if (flags.has('help')) {
    if (spec.name !== 'help') return spec.permission === 'user' || who.isAdmin ? answer('info', `help ${spec.name}`) : refuse('UNKNOWN_COMMAND');
    flags = new Set([...flags].filter((f) => f !== 'help'));
  }
  const admin = spec.permission === 'admin';
  // An admin command's one audit record names the words it was given as its target.
  const adminAudit = (result: string): AuditExpectation => ({ action: spec.name, target: rest.join(' ') || '-', result });
  if (admin && !who.isAdmin) return refuse('ADMIN_ONLY', adminAudit('ADMIN_ONLY'));
  const known = new Set((spec.flags ?? []).map((f) => f.name));
  const badArgs = rest.length > spec.args.length || spec.args.some((a, i) => a.required && rest[i] === undefined) || [...flags].some((f) => !known.has(f));
  if (badArgs) return refuse('BAD_INPUT', admin ? adminAudit('BAD_INPUT') : null);
  const arg = (i: number) => rest[i];

  switch (spec.name) {
    case 'status':
    case 'pools':
      return answer('info', spec.name);
    case 'help': {
      if (arg(0) === undefined) return answer('info', 'help');
      const name = [arg(0), arg(1)].filter(Boolean).join(' ').toLowerCase();
      const visible = COMMANDS.some((c) => c.name === name && (c.permission === 'user' || who.isAdmin));
      return visible ? answer('info', `help ${name}`) : refuse('UNKNOWN_COMMAND');
    }
    case 'admin pools':
      return { ...answer('info', spec.name, adminAudit('ok')), alsoTone: 'warning' };
    case 'admin log': {
      const vm = allVms(h).find((v) => v.name === arg(0)!.toLowerCase());
      return vm ? answer('info', spec.name, adminAudit('ok')) : refuse('UNKNOWN_VM', adminAudit('UNKNOWN_VM'));
    }
    case 'admin leases':
      if (arg(0) !== undefined && !poolOf(h, arg(0)!)) return refuse('UNKNOWN_POOL', adminAudit('UNKNOWN_POOL'));
      return answer('info', spec.name, adminAudit('ok'));
    case 'admin release':
    case 'admin extend': {
      let by = 0;
      if (spec.name === 'admin extend') {
        by = parseDurationMs(arg(1)!) ?? 0;
        if (by <= 0) return refuse('BAD_INPUT', adminAudit('BAD_INPUT'));
      }
      const vm = allVms(h).find((v) => v.name === arg(0)!.toLowerCase());
      const lease = vm && h.store.activeLeases().find((l) => l.vmId === vm.id);
      if (!lease) return refuse('UNKNOWN_VM', adminAudit('UNKNOWN_VM'));
      if (spec.name === 'admin release') {
        if (!flags.has('yes')) return answer('warning', 'admin release unconfirmed', adminAudit('asked to confirm'));
        return { tone: 'success', audit: adminAudit('ok'), change: { kind: 'admin-release', leaseId: lease.id }, why: spec.name };
      }
      if (lease.expiresAt + by - lease.claimedAt > h.config.access.adminMaxLease!) return refuse('LEASE_CAP', adminAudit('LEASE_CAP'));
      return { tone: 'success', audit: adminAudit('ok'), change: { kind: 'admin-extend', leaseId: lease.id, by }, why: spec.name };
    }
    case 'admin resize': {
      const word = arg(1)!.toLowerCase();
      if (word !== 'reset' && !/^\d{1,6}$/.test(word)) return refuse('BAD_INPUT', adminAudit('BAD_INPUT'));
      const pool = poolOf(h, arg(0)!);
      if (!pool) return refuse('UNKNOWN_POOL', adminAudit('UNKNOWN_POOL'));
      if (word !== 'reset' && Number(word) > pool.max) return refuse('BAD_INPUT', adminAudit('BAD_INPUT'));
      return { tone: 'success', audit: adminAudit('ok'), change: { kind: 'controls' }, why: spec.name };
    }
    case 'admin drain':
    case 'admin undrain': {
      const pool = poolOf(h, arg(0)!);
      if (!pool) return refuse('UNKNOWN_POOL', adminAudit('UNKNOWN_POOL'));
      if (spec.name === 'admin drain' && !flags.has('yes')) return answer('warning', 'admin drain unconfirmed', adminAudit('asked to confirm'));
      const drained = h.store.poolControl(pool.name).drained !== null;
      const tone = spec.name === 'admin drain' || drained ? 'success' : 'info';
      return { tone, audit: adminAudit('ok'), change: { kind: 'controls' }, why: spec.name };
    }
    case 'admin alerts': {
      // "here" from a chat that cannot say where it was said (the test platform has no place), or any other word: refused.
      if (arg(0) !== undefined) return refuse('BAD_INPUT', adminAudit('BAD_INPUT'));
      const open = h.app.service.alerts?.overview().open.length ?? 0;
      return answer(open > 0 ? 'warning' : 'success', spec.name, adminAudit('ok'));
    }
    case 'admin pause':
    case 'admin resume': {
      const all = arg(0)!.toLowerCase() === 'all';
      const pool = all ? undefined : poolOf(h, arg(0)!);
      if (!all && !pool) return refuse('UNKNOWN_POOL', adminAudit('UNKNOWN_POOL'));
      const pools = all ? h.config.pools : [pool!];
      const pause = spec.name === 'admin pause';
      const changes = pools.some((p) => (h.store.poolControl(p.name).paused !== null) !== pause);
      return { tone: changes ? 'success' : 'info', audit: adminAudit('ok'), change: { kind: 'controls' }, why: spec.name };
    }
    case 'claim': {
      const typed = arg(0)!;
      const pool = h.config.pools.find((p) => p.name === typed.toLowerCase());
      if (!pool) return refuse('UNKNOWN_POOL', { action: 'claim', target: typed, result: 'UNKNOWN_POOL' });
      const audit = (result: string) => ({ action: 'claim', target: pool.name, result });
      if (!who.isAdmin && !pool.groups.some((g) => who.groups.includes(g))) return refuse('NOT_ALLOWED', audit('NOT_ALLOWED'));
      if (h.store.poolControl(pool.name).drained) return refuse('POOL_CLOSED', audit('POOL_CLOSED'));
      if (h.store.activeLeases({ user: account, pool: pool.name }).length >= pool.maxLeasesPerUser) return refuse('LEASE_LIMIT', audit('LEASE_LIMIT'));
      if (h.store.listVms({ pool: pool.name, states: ['ready'] }).length === 0) return refuse('POOL_EMPTY', audit('POOL_EMPTY'));
      return { tone: 'success', audit: audit('ok'), change: { kind: 'claim', pool: pool.name }, why: 'claim' };
    }
    case 'leave': {
      // The fuzzed pools have no queue (queue: false), so nobody is ever in one to leave.
      const typed = arg(0);
      const pool = typed === undefined ? undefined : poolOf(h, typed);
      if (typed !== undefined && !pool) return refuse('UNKNOWN_POOL', { action: 'leave', target: typed, result: 'UNKNOWN_POOL' });
      const entries = h.store.queueEntries({ user: account }).filter((e) => !pool || e.pool === pool.name);
      if (entries.length === 0) return refuse('NOT_QUEUED', { action: 'leave', target: pool?.name ?? '-', result: 'NOT_QUEUED' });
      throw new Error(`the oracle expects no queues in the fuzzed pools, but ${account} waits in ${entries.map((e) => e.pool).join(', ')}`);
    }
    case 'extend':
    case 'release': {
      const verb = spec.name;
      const typed = arg(0);
      const target = leaseTarget(h, account, typed);
      if (typeof target === 'string') return refuse(target, { action: verb, target: typed ?? '-', result: target });
      const pool = h.config.pools.find((p) => p.name === target.pool)!;
      const audit = (result: string) => ({ action: verb, target: target.vm.name, result });
      if (verb === 'extend') {
        if (target.extensionsUsed >= pool.maxExtensions) return refuse('EXTENSION_LIMIT', audit('EXTENSION_LIMIT'));
        return { tone: 'success', audit: audit('ok'), change: { kind: 'extend', leaseId: target.id, by: pool.extensionStepMs }, why: 'extend' };
      }
      if (!flags.has('yes')) return answer('warning', 'release unconfirmed');
      return { tone: 'success', audit: audit('ok'), change: { kind: 'release', leaseId: target.id }, why: 'release' };
    }
    case 'keep': {
      // Keep it changes only the lease's activity record (the idle question's silence), with its audit row.
      const typed = arg(0);
      const target = leaseTarget(h, account, typed);
      if (typeof target === 'string') return refuse(target, { action: 'keep', target: typed ?? '-', result: target });
      return answer('success', 'keep', { action: 'keep', target: target.vm.name, result: 'ok' });
    }
    default:
      throw new Error(`the oracle does not know the command "${spec.name}": teach it (test/fuzz/oracle.ts)`);
  }
}

function poolOf(h: Harness, typed: string) {
  return h.config.pools.find((p) => p.name === typed.toLowerCase());
}

function allVms(h: Harness) {
  return h.store.listVms({ states: VM_STATES });
}

/** The lease extend or release means, or the code of the refusal. */
function leaseTarget(h: Harness, account: string, typed: string | undefined) {
  if (typed === undefined) {
    const mine = h.store.activeLeases({ user: account });
    if (mine.length === 1) return mine[0]!;
    return mine.length === 0 ? 'NO_LEASE' : 'AMBIGUOUS_VM';
  }
  const vm = allVms(h).find((v) => v.name === typed.toLowerCase());
  const lease = vm && h.store.activeLeases().find((l) => l.vmId === vm.id);
  if (!lease) return 'UNKNOWN_VM';
  return lease.user === account ? lease : 'NOT_OWNER';
}

// ---- state -----------------------------------------------------------------------------------

export interface StoreDump {
  tables: Record<string, unknown[]>;
  lastAuditId: number;
}

/** Every row of every table but the audit trail, and the audit trail's last id. */
export function dump(h: Harness): StoreDump {
  const names = (h.store.db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'audit' ORDER BY name").all() as { name: string }[]).map((r) => r.name);
  const tables: Record<string, unknown[]> = {};
  for (const name of names) tables[name] = h.store.db.prepare(`SELECT * FROM "${name}" ORDER BY rowid`).all();
  return { tables, lastAuditId: auditHead(h) };
}

export function auditHead(h: Harness): number {
  return (h.store.db.prepare('SELECT COALESCE(MAX(id), 0) AS id FROM audit').get() as { id: number }).id;
}

/** Audit rows after `id` (the auditLog port caps at 1,000 rows; this does not). */
export function auditAfter(h: Harness, id: number): { actor: string; action: string; target: string; result: string }[] {
  return h.store.db.prepare('SELECT actor, action, target, result FROM audit WHERE id > ? ORDER BY id').all(id) as { actor: string; action: string; target: string; result: string }[];
}

/** Where two dumps differ, table by table, for a readable failure. */
export function differences(before: StoreDump, after: StoreDump): string[] {
  const out: string[] = [];
  for (const name of new Set([...Object.keys(before.tables), ...Object.keys(after.tables)])) {
    if (!isDeepStrictEqual(before.tables[name], after.tables[name])) out.push(`table ${name}: ${JSON.stringify(before.tables[name])} → ${JSON.stringify(after.tables[name])}`);
  }
  return out;
}

// ---- replies ---------------------------------------------------------------------------------

/**
 * A clear reply: a known tone, a non-empty title, blocks of known kinds, never the internal-
 * error apology; and it renders on every platform, Slack's mrkdwn escaped (no mention, link or
 * channel reference the user typed survives into the blocks).
 */
export function checkReply(reply: Reply, context: string, now: number): void {
  const fail = (why: string) => {
    throw new Error(`${why}\n  for ${context}\n  reply: ${JSON.stringify(reply).slice(0, 600)}`);
  };
  if (!reply || typeof reply !== 'object') fail('no reply');
  if (!TONES.includes(reply.tone)) fail(`tone ${String(reply.tone)}`);
  if (typeof reply.title !== 'string' || reply.title.trim() === '') fail('an empty title');
  if (reply.title === APOLOGY) fail('an internal error');
  if (!Array.isArray(reply.blocks)) fail('no blocks');
  for (const block of reply.blocks) if (!['text', 'fields', 'table', 'actions'].includes(block.type)) fail(`a block of type ${block.type}`);
  let shell = '';
  let slack: unknown;
  try {
    shell = renderText(reply, { now, timeZone: 'UTC' });
    slack = renderBlocks(reply, { now });
    renderCard(reply, { now });
  } catch (error) {
    fail(`a renderer threw ${String(error)}`);
  }
  if (!shell.includes(reply.title)) fail('the shell rendering lost the title');
  const blocks = JSON.stringify((slack as { blocks: unknown }).blocks);
  // The only `<` Slack may parse in our blocks is our own date token.
  const control = /<(?!!date\^\d+\^)/.exec(blocks.replace(/\\u003c/gi, '<'));
  if (control) fail(`Slack blocks hold an unescaped "<": ${blocks.slice(Math.max(0, control.index - 40), control.index + 40)}`);
}

// ---- invariants ------------------------------------------------------------------------------

/**
 * The store's own invariants: every live lease on a claimed VM and every claimed VM leased, no
 * VM in two live leases, nobody over a pool's per-person limit.
 */
export function storeProblems(h: Harness): string[] {
  const problems: string[] = [];
  const leases = h.store.activeLeases();
  const byVm = new Map<string, number>();
  for (const lease of leases) {
    byVm.set(lease.vmId, (byVm.get(lease.vmId) ?? 0) + 1);
    if (lease.vm.state !== 'claimed') problems.push(`${lease.vm.name} is leased to ${lease.user} but ${lease.vm.state}`);
  }
  for (const [vm, n] of byVm) if (n > 1) problems.push(`VM ${vm} is in ${n} live leases`);
  for (const pool of h.config.pools) {
    const perUser = new Map<string, number>();
    for (const lease of leases.filter((l) => l.pool === pool.name)) perUser.set(lease.user, (perUser.get(lease.user) ?? 0) + 1);
    for (const [user, n] of perUser) if (n > pool.maxLeasesPerUser) problems.push(`${user} holds ${n} VMs of ${pool.name} (limit ${pool.maxLeasesPerUser})`);
  }
  for (const vm of h.store.listVms({ states: ['claimed'] })) if (!byVm.has(vm.id)) problems.push(`${vm.name} is claimed by nobody`);
  return problems;
}

/** The store against the cloud, as assertConsistent: no server without a live record, no record pointing at no server. */
export async function cloudProblems(h: Harness): Promise<string[]> {
  const problems: string[] = [];
  const servers = await h.cloud.listServers(h.app.reconciler.tag);
  const live = new Map(h.store.listVms().map((vm) => [vm.id, vm]));
  for (const server of servers) if (!live.has(server.metadata['daaas:vm'] ?? '')) problems.push(`server ${server.name} has no live record (leaked)`);
  const serverIds = new Set(servers.map((s) => s.id));
  for (const vm of live.values()) if (vm.serverId && !serverIds.has(vm.serverId)) problems.push(`${vm.name} (${vm.state}) points at a server that does not exist`);
  return problems;
}

/** Both, throwing: for use inside properties, where a throw fails the run and starts shrinking. */
export async function checkInvariants(h: Harness, context: string): Promise<void> {
  const problems = [...storeProblems(h), ...(await cloudProblems(h))];
  if (problems.length) throw new Error(`${problems.join('; ')}\n  after ${context}`);
}
