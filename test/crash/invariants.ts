/**
 * The crash harness's invariants, as pure functions of a snapshot of the persisted state and
 * of what the driver saw the bot say (its ledger). Each returns the violations it finds, as
 * sentences naming the VM or lease, so a failure says what broke.
 */
import { POOLS, type LeaseRow, type Snapshot, type VmRow } from './world.ts';
import { checkWaitlist, QUEUE_DM_KINDS, type QueueDmKind } from './waitlist-invariants.ts';

export type DmKind = 'reminder' | 'teardown' | 'home-ready' | 'setup-failed';

/** What the driver saw acknowledged in chat and printed as direct messages, over every life. */
export interface Ledger {
  /** Claims answered "✔ <vm> is yours": the store must keep them whatever happens next. */
  claims: { user: string; vm: string; life: number }[];
  /** Extensions answered "✔ <vm> extended", per VM. */
  extensions: Map<string, number>;
  /** Releases answered "✔ <vm> released". */
  releases: { user: string; vm: string; life: number }[];
  /** Direct messages printed, with their recipient. */
  dms: { to: string; kind: DmKind; vm: string; life: number }[];
  /** Replies that were internal faults ("Sorry, something went wrong"), with the command. */
  faults: { life: number; text: string }[];
  /** When each life's first reconcile tick started (the log's tick line), for the expiry check. */
  firstTicks: { life: number; startedAt: number }[];
  /** VMs whose server the harness broke (ERROR) while no bot ran: their lease must end. */
  broken: Set<string>;
  /** When each life was started and when it was killed (or stopped). */
  lives: { life: number; spawnedAt: number; endedAt: number }[];
  /** Places in queues acknowledged ("You are number N in the queue for P"), and queues left. */
  joins: { user: string; pool: string; life: number }[];
  leaves: { user: string; pool: string; life: number }[];
  /** The waitlist's direct messages printed (a hold offered, lapsed; a VM assigned; dropped). */
  queueDms: { to: string; kind: QueueDmKind; subject: string; life: number }[];
}

/**
 * How long a bot is given, on this busy machine, from committing a change to printing the
 * message it sends about it (the same turn of its event loop): a lease ended earlier than this
 * before the bot's kill must have been announced.
 */
export const ANNOUNCE_MS = 1_000;

/** How long an undisturbed bot may take to settle a queued message (sent, expired or superseded). */
const OUTBOX_SETTLE_MS = 5_000;

export function emptyLedger(): Ledger {
  return { claims: [], extensions: new Map(), releases: [], dms: [], faults: [], firstTicks: [], broken: new Set(), lives: [], joins: [], leaves: [], queueDms: [] };
}

/** What one life printed, read from its complete lines only (a kill may cut the last one). */
export interface Transcript {
  claims: string[];
  extensions: string[];
  releases: string[];
  dms: { to: string; kind: DmKind; vm: string }[];
  faults: string[];
  joins: string[];
  leaves: string[];
  queueDms: { to: string; kind: QueueDmKind; subject: string }[];
}

const DM_HEADER = /^\[direct message to (\S+)\]$/;
const DM_KINDS: [DmKind, RegExp][] = [
  ['reminder', /^! (\S+) will be torn down in /],
  ['teardown', /^• (\S+) has been torn down$/],
  ['home-ready', /^✔ (\S+) is ready for you$/],
  ['setup-failed', /^✖ (\S+) could not be set up for you$/],
];

export function parseTranscript(output: string): Transcript {
  const complete = output.slice(0, output.lastIndexOf('\n') + 1);
  const lines = complete.split('\n');
  const t: Transcript = { claims: [], extensions: [], releases: [], dms: [], faults: [], joins: [], leaves: [], queueDms: [] };
  let dmTo: string | null = null;
  for (const line of lines) {
    if (dmTo !== null) {
      const kind = DM_KINDS.find(([, re]) => re.test(line));
      const queued = kind ? undefined : QUEUE_DM_KINDS.find(([, re]) => re.test(line));
      if (kind) t.dms.push({ to: dmTo, kind: kind[0], vm: kind[1].exec(line)![1]! });
      else if (queued) t.queueDms.push({ to: dmTo, kind: queued[0], subject: queued[1].exec(line)![1]! });
      else if (line !== '') t.faults.push(`an unrecognised direct message: ${line}`);
      dmTo = null;
      continue;
    }
    const header = DM_HEADER.exec(line);
    if (header) {
      dmTo = header[1]!;
      continue;
    }
    let m: RegExpExecArray | null;
    if ((m = /^✔ (\S+) is yours for /.exec(line))) t.claims.push(m[1]!);
    else if ((m = /^✔ (\S+) extended by /.exec(line))) t.extensions.push(m[1]!);
    else if ((m = /^✔ (\S+) released$/.exec(line))) t.releases.push(m[1]!);
    else if ((m = /^• You are (?:number \d+|already) in the queue for ([a-z0-9-]+)/.exec(line))) t.joins.push(m[1]!);
    else if ((m = /^✔ You (?:left|passed \S+ on and left) the queue for (\S+)$/.exec(line))) t.leaves.push(m[1]!);
    else if (/^✖ (Sorry, something went wrong|That message could not be answered)/.test(line)) t.faults.push(line);
  }
  return t;
}

export function record(ledger: Ledger, life: number, user: string, t: Transcript): void {
  for (const vm of t.claims) ledger.claims.push({ user, vm, life });
  for (const vm of t.extensions) ledger.extensions.set(vm, (ledger.extensions.get(vm) ?? 0) + 1);
  for (const vm of t.releases) ledger.releases.push({ user, vm, life });
  for (const dm of t.dms) ledger.dms.push({ ...dm, life });
  for (const text of t.faults) ledger.faults.push({ life, text });
  for (const pool of t.joins) ledger.joins.push({ user, pool, life });
  for (const pool of t.leaves) ledger.leaves.push({ user, pool, life });
  for (const dm of t.queueDms) ledger.queueDms.push({ ...dm, life });
}

const LIVE_WITH_SERVER = new Set(['provisioning', 'ready', 'claimed']);
const END_REASONS = new Set(['released', 'expired', 'vm-lost', 'setup-failed', 'admin']);
const REMINDER_STATUSES = new Set(['queued', 'superseded']);
const OUTBOX_STATUSES = new Set(['pending', 'sending', 'sent', 'failed', 'expired', 'superseded', 'interrupted']);
/** Outbox statuses whose message may have been printed: sent, or handed over when the bot was killed. */
const MAYBE_DELIVERED = new Set(['sent', 'sending', 'interrupted']);
/** What a message kind's outbox key looks like, and the printed kind it is. */
const KIND_OF_ROW: Record<string, DmKind> = { reminder: 'reminder', teardown: 'teardown', 'home-ready': 'home-ready', 'setup-failed': 'setup-failed' };

function count<T>(items: readonly T[], key: (item: T) => string): Map<string, number> {
  const m = new Map<string, number>();
  for (const item of items) m.set(key(item), (m.get(key(item)) ?? 0) + 1);
  return m;
}

/**
 * What must hold of the persisted state at any instant, in particular right after a SIGKILL,
 * before any repair: the store and the cloud may disagree only in the ways a crash between
 * two steps leaves (a record without its server yet, a server deleted but its record not yet
 * marked), never in ways that lose or double anything.
 */
export function checkAtRest(s: Snapshot, ledger: Ledger): string[] {
  const problems: string[] = [];
  const vmById = new Map(s.vms.map((vm) => [vm.id, vm]));
  const vmByName = new Map(s.vms.map((vm) => [vm.name, vm]));
  const leasesByVm = new Map<string, LeaseRow[]>();
  for (const lease of s.leases) leasesByVm.set(lease.vm_id, [...(leasesByVm.get(lease.vm_id) ?? []), lease]);
  const leaseOf = (vm: VmRow | undefined) => (vm ? leasesByVm.get(vm.id)?.[0] : undefined);

  // No VM assigned to two users: a VM is destroyed after its lease, never handed out again.
  for (const [vmId, leases] of leasesByVm) {
    const name = vmById.get(vmId)?.name ?? vmId;
    if (leases.length > 1) problems.push(`VM ${name} has ${leases.length} leases (users ${leases.map((l) => l.user).join(', ')}): a VM was handed out twice`);
    if (!vmById.has(vmId)) problems.push(`lease ${leases[0]!.id} points at VM ${vmId}, which has no record`);
  }
  const ackedBy = new Map<string, string[]>();
  for (const c of ledger.claims) ackedBy.set(c.vm, [...(ackedBy.get(c.vm) ?? []), `${c.user} (life ${c.life})`]);
  for (const [vm, who] of ackedBy) if (who.length > 1) problems.push(`VM ${vm} was acknowledged to ${who.length} claims: ${who.join(', ')}`);

  // A live lease and a claimed VM go together, both ways; an ended lease's VM is on its way out.
  for (const lease of s.leases) {
    const vm = vmById.get(lease.vm_id);
    if (!vm) continue;
    if (lease.ended_at === null) {
      if (vm.state !== 'claimed') problems.push(`VM ${vm.name} is ${vm.state} but ${lease.user}'s lease on it is live`);
    } else {
      if (!lease.end_reason || !END_REASONS.has(lease.end_reason)) problems.push(`lease on ${vm.name} ended without a known reason (${String(lease.end_reason)})`);
      if (['booting', 'provisioning', 'ready', 'claimed'].includes(vm.state)) problems.push(`VM ${vm.name} is ${vm.state} although its lease ended (${lease.end_reason})`);
    }
    const pool = POOLS[lease.pool];
    if (!pool) problems.push(`lease on ${vm.name} is for an unknown pool ${lease.pool}`);
    else if (lease.expires_at !== lease.claimed_at + pool.leaseMs + lease.extensions_used * pool.stepMs || lease.extensions_used > pool.maxExtensions) {
      problems.push(`lease on ${vm.name}: expiry ${lease.expires_at - lease.claimed_at} ms after the claim with ${lease.extensions_used} extension(s) does not add up`);
    }
  }
  for (const vm of s.vms) {
    if (vm.state !== 'claimed') continue;
    const live = (leasesByVm.get(vm.id) ?? []).filter((l) => l.ended_at === null);
    if (live.length !== 1) problems.push(`VM ${vm.name} is claimed with ${live.length} live leases`);
  }

  // No lease lost: every acknowledged claim, extension and release is in the store.
  for (const c of ledger.claims) {
    const lease = leaseOf(vmByName.get(c.vm));
    if (!lease) problems.push(`lease lost: ${c.vm} was acknowledged to ${c.user} (life ${c.life}) but the store has no lease on it`);
    else if (lease.user !== c.user) problems.push(`${c.vm} was acknowledged to ${c.user} (life ${c.life}) but the store has it leased to ${lease.user}`);
  }
  for (const r of ledger.releases) {
    const lease = leaseOf(vmByName.get(r.vm));
    if (!lease || lease.ended_at === null || lease.end_reason !== 'released') {
      problems.push(`release of ${r.vm} acknowledged to ${r.user} (life ${r.life}) but the lease is ${lease ? (lease.ended_at === null ? 'still live' : `ended as ${lease.end_reason}`) : 'missing'}`);
    }
  }
  for (const [vm, n] of ledger.extensions) {
    const lease = leaseOf(vmByName.get(vm));
    if (!lease || lease.extensions_used < n) problems.push(`${n} extension(s) of ${vm} acknowledged but the store has ${lease ? lease.extensions_used : 'no lease'}`);
  }

  // The audit trail commits with the change it records: it matches the leases exactly.
  const audited = (pred: (a: Snapshot['audit'][number]) => boolean) => s.audit.filter(pred).reduce((n, a) => n + a.n, 0);
  for (const [user, n] of count(s.leases, (l) => l.user)) {
    const a = audited((x) => x.action === 'claim' && x.result === 'ok' && x.actor === user);
    if (a !== n) problems.push(`${user} has ${n} lease(s) but ${a} successful claim(s) in the audit trail`);
  }
  const ended = (reasons: string[]) => s.leases.filter((l) => l.ended_at !== null && reasons.includes(l.end_reason ?? '')).length;
  const pairs: [string, number, number][] = [
    ['released leases / audited releases', ended(['released']), audited((x) => x.action === 'release' && x.result === 'ok')],
    ['extensions used / audited extensions', s.leases.reduce((n, l) => n + l.extensions_used, 0), audited((x) => x.action === 'extend' && x.result === 'ok')],
    ['leases torn down / audited teardowns', ended(['expired', 'vm-lost', 'setup-failed']), audited((x) => x.actor === 'scheduler' && x.action === 'teardown')],
  ];
  for (const [what, store, audit] of pairs) if (store !== audit) problems.push(`${what}: ${store} in the store, ${audit} in the audit trail`);

  // Reminders: recorded once per stage and expiry, before being sent; what was printed agrees.
  const leaseById = new Map(s.leases.map((l) => [l.id, l]));
  const rowsByLease = new Map<string, typeof s.reminders>();
  for (const r of s.reminders) {
    const lease = leaseById.get(r.lease_id);
    if (!lease) {
      problems.push(`reminder row for a lease that does not exist (${r.lease_id})`);
      continue;
    }
    rowsByLease.set(r.lease_id, [...(rowsByLease.get(r.lease_id) ?? []), r]);
    const pool = POOLS[lease.pool];
    const name = vmById.get(lease.vm_id)?.name ?? lease.vm_id;
    if (!REMINDER_STATUSES.has(r.status)) problems.push(`reminder of ${name} has status ${r.status}`);
    if (pool && !pool.remindMs.includes(r.before_ms)) problems.push(`reminder of ${name} for a stage ${r.before_ms} ms the pool does not have`);
    const k = pool ? (r.expires_at - lease.claimed_at - pool.leaseMs) / pool.stepMs : -1;
    if (!Number.isInteger(k) || k < 0 || k > lease.extensions_used) problems.push(`reminder of ${name} for an expiry the lease never had`);
  }
  // In the terminal chat a direct message cannot fail: a reminder recorded as failed was
  // dropped by the bot itself, and its stage is used up, so it is never sent.
  for (const r of s.reminders) {
    const lease = leaseById.get(r.lease_id);
    if (r.status === 'failed' && lease) {
      problems.push(`the ${r.before_ms} ms reminder of ${vmById.get(lease.vm_id)?.name ?? lease.vm_id} is recorded as failed: it was never delivered, and never will be`);
    }
  }
  const keys = s.reminders.map((r) => `${r.lease_id}/${r.before_ms}/${r.expires_at}`);
  if (new Set(keys).size !== keys.length) problems.push('a reminder stage is recorded twice');

  // The outbox: one row per key, a known status, and every change that announces itself has its
  // message, written in the same transaction (so a kill between the two is impossible).
  const outboxByLease = new Map<string, Snapshot['outbox']>();
  for (const m of s.outbox) {
    if (m.lease_id !== null) outboxByLease.set(m.lease_id, [...(outboxByLease.get(m.lease_id) ?? []), m]);
    if (!OUTBOX_STATUSES.has(m.status)) problems.push(`outbox message ${m.key} has status ${m.status}`);
    // In the terminal chat a direct message cannot be refused: a failed one was dropped by the bot.
    if (m.status === 'failed') problems.push(`outbox message ${m.key} is recorded as failed: it was never delivered, and never will be`);
    if (m.kind === 'waitlist') {
      if (m.lease_id !== null && !leaseById.has(m.lease_id)) problems.push(`outbox message ${m.key} is about a lease that does not exist`);
    } else if (!KIND_OF_ROW[m.kind]) problems.push(`outbox message ${m.key} is of an unknown kind ${m.kind}`);
    else if (m.lease_id === null || !leaseById.has(m.lease_id)) problems.push(`outbox message ${m.key} is about a lease that does not exist`);
  }
  const keysOf = new Set(s.outbox.map((m) => m.key));
  if (keysOf.size !== s.outbox.length) problems.push('an outbox key is queued twice');
  for (const r of s.reminders) {
    const key = `reminder:${r.lease_id}:${r.before_ms}:${r.expires_at}`;
    if (r.status === 'queued' && !keysOf.has(key)) problems.push(`reminder stage ${key} is recorded as queued but the outbox has no message for it`);
    if (r.status === 'superseded' && keysOf.has(key)) problems.push(`reminder stage ${key} is recorded as superseded but its message was queued`);
  }
  for (const m of s.outbox) {
    if (m.kind !== 'reminder') continue;
    const [, leaseId, before, expires] = m.key.split(':');
    if (!s.reminders.some((r) => r.lease_id === leaseId && String(r.before_ms) === before && String(r.expires_at) === expires && r.status === 'queued')) {
      problems.push(`outbox reminder ${m.key} has no queued reminder stage: it was queued outside the stage's transaction`);
    }
  }
  for (const lease of s.leases) {
    const name = vmById.get(lease.vm_id)?.name ?? lease.vm_id;
    const kinds = (outboxByLease.get(lease.id) ?? []).map((m) => m.kind);
    const n = (kind: string) => kinds.filter((k) => k === kind).length;
    const teardown = lease.ended_at !== null && ['expired', 'vm-lost'].includes(lease.end_reason ?? '');
    if (n('teardown') !== (teardown ? 1 : 0)) problems.push(`lease on ${name} (${lease.end_reason ?? 'live'}) has ${n('teardown')} teardown message(s) in the outbox, not ${teardown ? 1 : 0}`);
    const setupFailed = lease.end_reason === 'setup-failed';
    if (n('setup-failed') !== (setupFailed ? 1 : 0)) problems.push(`lease on ${name} (${lease.end_reason ?? 'live'}) has ${n('setup-failed')} set-up-failed message(s) in the outbox`);
    if (n('home-ready') !== (lease.home_ready_at !== null ? 1 : 0)) problems.push(`lease on ${name} (home ${lease.home_ready_at === null ? 'not ' : ''}ready) has ${n('home-ready')} home-ready message(s) in the outbox`);
  }

  const dmsByVm = new Map<string, Ledger['dms']>();
  for (const dm of ledger.dms) dmsByVm.set(dm.vm, [...(dmsByVm.get(dm.vm) ?? []), dm]);
  for (const [name, dms] of dmsByVm) {
    const lease = leaseOf(vmByName.get(name));
    if (!lease) {
      problems.push(`direct message(s) about ${name}, which has no lease`);
      continue;
    }
    for (const dm of dms) if (dm.to !== lease.user) problems.push(`a ${dm.kind} message about ${name} went to ${dm.to}, not to its holder ${lease.user}`);
    const of = (kind: DmKind) => dms.filter((d) => d.kind === kind).length;
    const rows = rowsByLease.get(lease.id) ?? [];
    const recorded = rows.filter((r) => r.status !== 'superseded').length;
    if (of('reminder') > recorded) problems.push(`${of('reminder')} reminders about ${name} were printed for ${recorded} recorded stage(s): a stage was sent twice`);
    // At most once, and none lost but by the stated rule: what was printed lies between the
    // messages recorded as sent and those that may have been (sent, or handed over at a kill).
    for (const kind of Object.values(KIND_OF_ROW)) {
      const messages = (outboxByLease.get(lease.id) ?? []).filter((m) => KIND_OF_ROW[m.kind] === kind);
      const sent = messages.filter((m) => m.status === 'sent').length;
      const maybe = messages.filter((m) => MAYBE_DELIVERED.has(m.status)).length;
      if (of(kind) > maybe) problems.push(`${of(kind)} ${kind} message(s) about ${name} were printed but the outbox has ${maybe} sent or being sent: a message was sent twice, or without its outbox row`);
      if (of(kind) < sent) problems.push(`${sent} ${kind} message(s) about ${name} are recorded as sent in the outbox but ${of(kind)} were printed`);
    }
    if (of('teardown') > 1) problems.push(`${of('teardown')} teardown messages about ${name}`);
    if (of('teardown') > 0 && !(lease.ended_at !== null && ['expired', 'vm-lost'].includes(lease.end_reason ?? ''))) {
      problems.push(`a teardown message about ${name}, whose lease is ${lease.ended_at === null ? 'live' : `ended as ${lease.end_reason}`}`);
    }
    if (of('home-ready') > 1) problems.push(`${of('home-ready')} "ready for you" messages about ${name}`);
    if (of('home-ready') > 0 && lease.home_ready_at === null) problems.push(`"${name} is ready for you" was printed but the store says its home is not ready`);
    if (of('setup-failed') > 1 || (of('setup-failed') > 0 && lease.end_reason !== 'setup-failed')) problems.push(`setup-failed message(s) about ${name} do not match its lease`);
  }

  // A lease the scheduler ended is announced to its holder, unless the bot died right after.
  for (const lease of s.leases) {
    if (lease.ended_at === null || !['expired', 'vm-lost'].includes(lease.end_reason ?? '')) continue;
    const life = ledger.lives.find((l) => l.spawnedAt <= lease.ended_at! && lease.ended_at! <= l.endedAt);
    const name = vmById.get(lease.vm_id)?.name ?? lease.vm_id;
    if (life && lease.ended_at <= life.endedAt - ANNOUNCE_MS && !ledger.dms.some((d) => d.vm === name && d.kind === 'teardown')) {
      problems.push(
        `${lease.user}'s lease on ${name} ended (${lease.end_reason}) ${lease.ended_at - life.spawnedAt} ms into life ${life.life}, which ran ${life.endedAt - lease.ended_at} ms longer, but no teardown message was printed`,
      );
    }
  }

  // Every expired lease torn down: each life's first tick ended every lease due by its start.
  for (const { life, startedAt } of ledger.firstTicks) {
    for (const lease of s.leases) {
      if (lease.ended_at === null && lease.expires_at <= startedAt) {
        const name = vmById.get(lease.vm_id)?.name ?? lease.vm_id;
        problems.push(`${lease.user}'s lease on ${name} expired ${startedAt - lease.expires_at} ms before life ${life}'s first tick and is still live after it`);
      }
    }
  }

  // Store and cloud: a server always has a record (written first), and a VM that is ready,
  // provisioning or claimed always has its server (only released or failed VMs lose theirs).
  const serverIds = new Set(s.servers.map((sv) => sv.id));
  for (const server of s.servers) {
    const vm = vmById.get(server.metadata['daaas:vm'] ?? '');
    if (!vm) problems.push(`server ${server.name} (${server.id}) has no store record`);
    else if (vm.state === 'deleted') problems.push(`server ${server.name} is still in the cloud but its record ${vm.name} is deleted (leaked)`);
    else if (vm.server_id !== null && vm.server_id !== server.id) problems.push(`server ${server.name} claims record ${vm.name}, which points at another server`);
  }
  for (const vm of s.vms) {
    const needsServer = LIVE_WITH_SERVER.has(vm.state) || (vm.state === 'booting' && vm.server_id !== null);
    if (needsServer && (vm.server_id === null || !serverIds.has(vm.server_id))) problems.push(`${vm.name} is ${vm.state} but its server ${vm.server_id ?? '(none)'} is not in the cloud`);
  }

  for (const f of ledger.faults) problems.push(`life ${f.life}: ${f.text}`);
  problems.push(...checkWaitlist(s, ledger));
  return problems;
}

/**
 * Converged: pools full, nothing in flight, no lease past its expiry, every server a live
 * VM's and every live VM's server present. What must be true once the bot has run a while
 * without being killed; anything else is left behind by the crashes.
 */
export function checkConverged(s: Snapshot, now: number, ledger: Ledger): string[] {
  const problems: string[] = [];
  const live = s.vms.filter((vm) => vm.state !== 'deleted');
  const byServer = new Map(live.filter((vm) => vm.server_id).map((vm) => [vm.server_id!, vm]));
  for (const server of s.servers) {
    if (!byServer.has(server.id)) problems.push(`server ${server.name} (${server.id}) is left in the cloud with no live record`);
  }
  const serverIds = new Set(s.servers.map((sv) => sv.id));
  for (const vm of live) {
    if (!['ready', 'claimed'].includes(vm.state)) problems.push(`${vm.name} is still ${vm.state}`);
    if (!vm.server_id || !serverIds.has(vm.server_id)) problems.push(`${vm.name} (${vm.state}) has no server in the cloud`);
  }
  for (const [name, pool] of Object.entries(POOLS)) {
    const ready = live.filter((vm) => vm.pool === name && vm.state === 'ready').length;
    if (ready !== pool.size) problems.push(`pool ${name} has ${ready} ready VMs, not ${pool.size}`);
  }
  const names = new Map(s.vms.map((vm) => [vm.id, vm.name]));
  for (const lease of s.leases) {
    if (lease.ended_at !== null) continue;
    const name = names.get(lease.vm_id) ?? lease.vm_id;
    if (lease.expires_at <= now) problems.push(`${lease.user}'s lease on ${name} expired ${now - lease.expires_at} ms ago and is still live`);
    if (lease.home_ready_at === null) problems.push(`${lease.user}'s lease on ${name} never got its home directory`);
    if (ledger.broken.has(name)) problems.push(`${name}'s server was broken under ${lease.user}, yet the lease is live`);
  }
  // Nothing is left waiting: every message was sent, expired, superseded, or cut off by a kill.
  for (const m of s.outbox) {
    if ((m.status === 'pending' || m.status === 'sending') && m.created_at < now - OUTBOX_SETTLE_MS) problems.push(`outbox message ${m.key} is still ${m.status} ${now - m.created_at} ms after it was queued`);
  }
  return problems;
}
