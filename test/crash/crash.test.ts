/**
 * Crash consistency: the bot runs as a child process on the simulated cloud with its state in
 * the data directory (daaas.db, sim-cloud.json), is driven with claims, extensions, releases
 * and status from chat while leases expire and reminders fall due, and is SIGKILLed at random
 * moments, again and again. Between lives the persisted state is read (read-only) and checked;
 * each new life's first reconcile tick must have torn down every lease that had expired; at the
 * end one more life runs undisturbed until the pools converge, and nothing may be left behind.
 *
 * Several bots, each with its own data directory, run side by side for throughput.
 *   DAAAS_CRASH_KILLS      kills in all (default 200)
 *   DAAAS_CRASH_INSTANCES  bots side by side (default 4)
 *   DAAAS_CRASH_SEED       seed of the random schedule (printed; default random)
 */
import test from 'ava';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { seeded, tempDir } from '../helpers/harness.ts';
import { BotLife, killAll } from './bot-life.ts';
import { checkAtRest, checkConverged, emptyLedger, parseTranscript, record, type Ledger } from './invariants.ts';
import { breakServer, configYaml, POOLS, readSnapshot, USERS, type Snapshot } from './world.ts';

const KILLS = positiveInt('DAAAS_CRASH_KILLS', 200);
const INSTANCES = Math.min(positiveInt('DAAAS_CRASH_INSTANCES', 4), KILLS);
const SEED = positiveInt('DAAAS_CRASH_SEED', Math.floor(Math.random() * 2 ** 31));
/** Kill at most this long after the moment a life is armed (its start, or its first tick). */
const KILL_WINDOW_MS = 1_500;
/**
 * Where in a life the kill falls: anywhere in its start-up (0–1.5 s after the spawn), during
 * its first tick (0–300 ms after it logs that it listens, when the loop starts), or while it
 * runs (0–1.5 s after its first tick has ended; only such lives are checked for that tick).
 */
const KILL_MODES = [
  { mode: 'startup', share: 0.1 },
  { mode: 'first-tick', share: 0.2 },
  { mode: 'running', share: 0.7 },
] as const;
/** Generous: on a loaded two-core machine a start-up has been seen to take 30 s. */
const START_TIMEOUT_MS = 120_000;
const CONVERGE_TIMEOUT_MS = 120_000;
/** Examples shown of each kind of violation (all are counted). */
const EXAMPLES = 3;

function positiveInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${name}=${raw} is not a positive whole number`);
  return n;
}

/** The harness's seeded generator, so a schedule can be replayed with DAAAS_CRASH_SEED. */
const rng = seeded;

/** The data directory's pid file names a process that is gone: a killed bot's lock. */
function staleLock(dataDir: string): boolean {
  const path = join(dataDir, 'daaas.pid');
  if (!existsSync(path)) return false;
  const pid = Number(readFileSync(path, 'utf8').trim());
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
}

/** The gist of a bot's stderr: its first lines (the error) and its last one. */
function excerpt(stderr: string): string {
  const lines = stderr.trim().split('\n').filter((l) => l.trim() !== '');
  const gist = lines.length > 4 ? [...lines.slice(0, 3), '…', lines.at(-1)!] : lines;
  return gist.join(' | ').slice(0, 600) || '(nothing on stderr)';
}

/**
 * Violations grouped by kind (the sentence with its VM names, users and numbers taken out),
 * most frequent first, each with a count and a few examples: one bug found by every bot
 * does not hide another found once.
 */
function summarise(violations: readonly string[]): string[] {
  const kinds = new Map<string, string[]>();
  for (const v of violations) {
    const kind = v
      .replace(/^\[[^\]]*\] /, '')
      .replace(new RegExp(`\\b(${Object.keys(POOLS).join('|')})-[a-z0-9]{4}\\b`, 'g'), '<vm>')
      .replace(new RegExp(`\\b(${USERS.join('|')})\\b`, 'g'), '<user>')
      .replace(/\d+/g, 'N');
    kinds.set(kind, [...(kinds.get(kind) ?? []), v]);
  }
  return [...kinds.entries()]
    .sort((a, b) => b[1].length - a[1].length)
    .map(([kind, all]) => [`${all.length}× ${kind}`, ...all.slice(0, EXAMPLES).map((v) => `    e.g. ${v}`)].join('\n'));
}

const median = (xs: number[]) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]! : 0);
const pick = <T>(random: () => number, items: readonly T[]): T => items[Math.floor(random() * items.length)]!;

interface InstanceReport {
  instance: number;
  kills: number;
  lives: number;
  modes: Record<(typeof KILL_MODES)[number]['mode'], number>;
  killsBeforeFirstTick: number;
  /** Lives started over the pid file of a killed predecessor. */
  staleLocks: number;
  /** Spawn to end of first tick, per life that got there. */
  startMs: number[];
  claims: number;
  extensions: number;
  releases: number;
  reminders: number;
  teardowns: number;
  expired: number;
  lost: number;
  broken: number;
  /** Outbox messages: all, and those not delivered by the stated rule (cut off by a kill, or past their deadline). */
  messages: number;
  interrupted: number;
  expiredMessages: number;
  commands: number;
  /** The waitlist: places acknowledged, queues left, holds printed, claims that took a held VM (audited). */
  queued: number;
  left: number;
  holds: number;
  convergeMs: number;
  violations: string[];
}

/** Sends chat commands at random while the life lasts: what a few impatient scientists would. */
async function drive(bot: BotLife, random: () => number, held: () => string[], others: () => string[], stop: { now: boolean }): Promise<number> {
  let sent = 0;
  const pools = Object.keys(POOLS);
  // A line or two typed while the bot starts is read once its chat is up; the rest of the
  // conversation waits for it, rather than burying a busy start-up under a backlog.
  let early = Math.floor(random() * 3);
  while (!stop.now && bot.running) {
    if (early-- <= 0 && bot.listeningAt === null) {
      await delay(50);
      continue;
    }
    const mine = held();
    const r = random();
    let line: string;
    if (r < 0.35) line = `claim ${pick(random, pools)}`;
    else if (r < 0.55) line = mine.length ? `extend ${pick(random, mine)}` : 'extend';
    else if (r < 0.63) line = mine.length ? `release ${pick(random, mine)} --yes` : 'release --yes';
    else if (r < 0.75) line = 'status';
    else if (r < 0.8) line = 'release';
    else if (r < 0.85) line = 'pools';
    else if (r < 0.89) line = others().length ? `extend ${pick(random, others())}` : 'extend';
    else if (r < 0.93) line = random() < 0.5 ? `leave ${pick(random, pools)}` : 'leave';
    else line = `release ${others()[0] ?? 'nobody-0000'} --yes`;
    bot.send(line);
    sent++;
    await delay(60 + random() * 240);
  }
  return sent;
}

async function runInstance(instance: number, kills: number, root: string, log: (line: string) => void): Promise<InstanceReport> {
  const random = rng(SEED + instance * 7_919);
  const dataDir = join(root, `bot-${instance}`, 'var');
  const configPath = join(root, `bot-${instance}`, 'config.yaml');
  writeFileSync(configPath, configYaml());
  const ledger: Ledger = emptyLedger();
  const seen = new Set<string>();
  const violations: string[] = [];
  const note = (life: number | 'final', problems: string[]) => {
    for (const p of problems) {
      if (seen.has(p)) continue;
      seen.add(p);
      violations.push(`[bot ${instance}, ${life === 'final' ? 'after convergence' : `after kill ${life + 1}`}] ${p}`);
    }
  };
  const report: InstanceReport = {
    instance,
    kills: 0,
    lives: 0,
    modes: { startup: 0, 'first-tick': 0, running: 0 },
    killsBeforeFirstTick: 0,
    staleLocks: 0,
    startMs: [],
    claims: 0,
    extensions: 0,
    releases: 0,
    reminders: 0,
    teardowns: 0,
    expired: 0,
    lost: 0,
    broken: 0,
    messages: 0,
    interrupted: 0,
    expiredMessages: 0,
    commands: 0,
    queued: 0,
    left: 0,
    holds: 0,
    convergeMs: 0,
    violations,
  };
  let snapshot: Snapshot = readSnapshot(dataDir);

  for (let life = 0; life < kills; life++) {
    const user = pick(random, USERS);
    const vmNames = new Map(snapshot.vms.map((vm) => [vm.id, vm.name]));
    const liveLeases = snapshot.leases.filter((l) => l.ended_at === null);
    const heldBefore = liveLeases.filter((l) => l.user === user).map((l) => vmNames.get(l.vm_id)!);
    const othersHeld = liveLeases.filter((l) => l.user !== user).map((l) => vmNames.get(l.vm_id)!);

    if (staleLock(dataDir)) report.staleLocks++;
    const bot = new BotLife(dataDir, configPath, user);
    report.lives++;
    const stop = { now: false };
    const held = () => {
      const t = parseTranscript(bot.stdout());
      return [...new Set([...heldBefore, ...t.claims])].filter((vm) => !t.releases.includes(vm));
    };
    // The chat has its own generator, so the schedule (users, kill moments, faults) replays
    // from the seed whatever the timing of the conversation.
    const driving = drive(bot, rng(Math.floor(random() * 2 ** 31)), held, () => othersHeld, stop);

    let draw = random();
    const { mode } = KILL_MODES.find((m) => (draw -= m.share) < 0) ?? KILL_MODES[KILL_MODES.length - 1]!;
    report.modes[mode]++;
    if (mode === 'startup') {
      await delay(random() * KILL_WINDOW_MS);
    } else if (mode === 'first-tick') {
      if (await bot.listening(START_TIMEOUT_MS)) await delay(random() * 300);
    } else {
      if (await bot.firstTick(START_TIMEOUT_MS)) await delay(random() * KILL_WINDOW_MS);
    }
    if (mode !== 'startup' && bot.running && (mode === 'running' ? bot.firstTickAt : bot.listeningAt) === null) {
      note(life, [`life ${life + 1} did not ${mode === 'running' ? 'finish a reconcile tick' : 'start'} within ${START_TIMEOUT_MS / 1000} s`]);
    }
    stop.now = true;
    const wasRunning = bot.running;
    const killedAt = Date.now();
    const exit = await bot.kill('SIGKILL');
    report.commands += await driving;
    ledger.lives.push({ life: life + 1, spawnedAt: bot.spawnedAt, endedAt: killedAt });
    if (!wasRunning || exit.signal !== 'SIGKILL') {
      note(life, [`life ${life + 1} (pid ${bot.pid}) ended by itself (code ${exit.code}, signal ${exit.signal}) instead of being killed: ${excerpt(bot.stderr())}`]);
    } else {
      report.kills++;
    }
    if (bot.firstTickAt === null) report.killsBeforeFirstTick++;
    else {
      ledger.firstTicks.push({ life: life + 1, startedAt: bot.firstTickAt });
      report.startMs.push(bot.firstTickAt - bot.spawnedAt);
    }
    record(ledger, life + 1, user, parseTranscript(bot.stdout()));

    snapshot = readSnapshot(dataDir);
    note(life, checkAtRest(snapshot, ledger));

    // Now and then a claimed VM's hypervisor fails while the bot is down.
    if (random() < 0.04) {
      const names = new Map(snapshot.vms.map((vm) => [vm.id, vm]));
      const held = snapshot.leases.filter((l) => l.ended_at === null).map((l) => names.get(l.vm_id)).filter((vm) => vm?.server_id);
      const victim = held.length ? pick(random, held) : undefined;
      if (victim && breakServer(dataDir, victim.server_id!, 'Host failure (crash harness)')) ledger.broken.add(victim.name);
    }
    if ((life + 1) % 10 === 0) log(`bot ${instance}: ${life + 1}/${kills} lives, ${ledger.claims.length} claims acknowledged, ${violations.length} violation(s)`);
  }

  // Convergence: one more life, not killed, until the pools are full and nothing is left over.
  const started = Date.now();
  const bot = new BotLife(dataDir, configPath, pick(random, USERS));
  report.lives++;
  let problems: string[] = ['the last life never finished a reconcile tick'];
  while (Date.now() - started < CONVERGE_TIMEOUT_MS && bot.running) {
    await delay(250);
    if (bot.firstTickAt === null) continue;
    const now = Date.now();
    const s = readSnapshot(dataDir);
    problems = checkConverged(s, now, ledger);
    if (problems.length === 0) break;
  }
  report.convergeMs = Date.now() - started;
  const wasRunning = bot.running;
  const stoppedAt = Date.now();
  const exit = await bot.kill('SIGTERM');
  ledger.lives.push({ life: report.lives, spawnedAt: bot.spawnedAt, endedAt: stoppedAt });
  if (!wasRunning || exit.code !== 0) {
    note('final', [`the last life ended with code ${exit.code}, signal ${exit.signal} (expected a clean stop on SIGTERM): ${excerpt(bot.stderr())}`]);
  }
  record(ledger, report.lives, bot.user, parseTranscript(bot.stdout()));
  if (bot.firstTickAt !== null) ledger.firstTicks.push({ life: report.lives, startedAt: bot.firstTickAt });
  const last = readSnapshot(dataDir);
  if (problems.length > 0) note('final', problems.map((p) => `not converged after ${CONVERGE_TIMEOUT_MS / 1000} s: ${p}`));
  note('final', checkAtRest(last, ledger));

  report.claims = ledger.claims.length;
  report.extensions = [...ledger.extensions.values()].reduce((a, b) => a + b, 0);
  report.releases = ledger.releases.length;
  report.reminders = ledger.dms.filter((d) => d.kind === 'reminder').length;
  report.teardowns = ledger.dms.filter((d) => d.kind === 'teardown').length;
  report.expired = last.leases.filter((l) => l.end_reason === 'expired').length;
  report.lost = last.leases.filter((l) => l.end_reason === 'vm-lost').length;
  report.broken = ledger.broken.size;
  report.messages = last.outbox.length;
  report.interrupted = last.outbox.filter((m) => m.status === 'interrupted').length;
  report.expiredMessages = last.outbox.filter((m) => m.status === 'expired').length;
  report.queued = ledger.joins.length;
  report.left = ledger.leaves.length;
  report.holds = last.outbox.filter((m) => m.kind === 'waitlist' && m.key.startsWith('hold:')).length;
  return report;
}

test('crash consistency: SIGKILLed at random moments, the bot loses, doubles and leaks nothing', async (t) => {
  t.timeout(30 * 60_000, 'the crash harness took more than 30 minutes');
  const dir = tempDir('daaas-crash-');
  t.teardown(dir.remove);
  t.teardown(killAll);
  const began = Date.now();
  t.log(`seed ${SEED} (replay the schedule with DAAAS_CRASH_SEED=${SEED}); ${KILLS} kills over ${INSTANCES} bots`);
  const per = Array.from({ length: INSTANCES }, (_, i) => Math.floor(KILLS / INSTANCES) + (i < KILLS % INSTANCES ? 1 : 0));
  const reports = await Promise.all(
    per.map((kills, i) => {
      const root = join(dir.path, `${i}`);
      mkdirSync(join(root, `bot-${i}`), { recursive: true });
      return runInstance(i, kills, root, (line) => t.log(`${((Date.now() - began) / 1000).toFixed(0)}s ${line}`));
    }),
  );
  const elapsed = (Date.now() - began) / 1000;
  const sum = (key: keyof InstanceReport) => reports.reduce((n, r) => n + (r[key] as number), 0);
  for (const r of reports) {
    t.log(
      `bot ${r.instance}: ${r.kills} kills (${r.modes.startup} in start-up, ${r.modes['first-tick']} at the first tick, ${r.modes.running} while running; ` +
        `${r.killsBeforeFirstTick} before a tick ended), ${r.lives} lives (${r.staleLocks} over a dead bot's pid file), median start ${median(r.startMs)} ms, ${r.commands} commands, ` +
        `${r.claims} claims / ${r.extensions} extensions / ${r.releases} releases acknowledged, ${r.reminders} reminders, ${r.teardowns} teardown messages, ` +
        `${r.expired} leases expired, ${r.lost} lost (${r.broken} servers broken), ${r.messages} messages queued (${r.interrupted} cut off by a kill while sending, ${r.expiredMessages} expired), ${r.queued} places queued / ${r.left} left / ${r.holds} holds offered, converged in ${(r.convergeMs / 1000).toFixed(1)} s`,
    );
  }
  t.log(
    `total: ${sum('kills')} kills, ${sum('lives')} lives, ${sum('claims')} claims acknowledged, ${sum('extensions')} extensions, ${sum('releases')} releases, ` +
      `${sum('reminders')} reminders, ${sum('expired')} expiries, in ${elapsed.toFixed(1)} s`,
  );
  const summary = summarise(reports.flatMap((r) => r.violations));
  t.is(summary.length, 0, `invariants broken (seed ${SEED}), by kind:\n${summary.join('\n')}`);
  t.is(sum('kills'), KILLS, 'every planned kill happened');
  // The run must have exercised what it claims to: claims, extensions, releases, reminders and
  // expiries (a run of a handful of kills, to try something out, may be too short for all).
  if (KILLS >= 50) t.true(sum('claims') > 0 && sum('extensions') > 0 && sum('releases') > 0 && sum('expired') > 0 && sum('reminders') > 0, 'the drive exercised every kind of change');
});

test('the crash checks catch each broken invariant (self-test on a doctored state)', (t) => {
  const T = 1_800_000_000_000;
  const vm = (id: string, state: string, server: string | null) => ({ id, name: `physics-${id}`, pool: 'physics', state, server_id: server });
  const lease = (id: string, vmId: string, user: string, ended: string | null, extra: Partial<Snapshot['leases'][number]> = {}) => ({
    id,
    vm_id: vmId,
    pool: 'physics',
    user,
    claimed_at: T,
    expires_at: T + POOLS.physics!.leaseMs,
    extensions_used: 0,
    home_ready_at: T + 100,
    ended_at: ended ? T + 500 : null,
    end_reason: ended,
    ...extra,
  });
  const server = (id: string, vmId: string) => ({ id, name: `physics-${vmId}`, metadata: { 'daaas:vm': vmId }, tags: ['daaas:crash'], fault: null });
  const healthy: Snapshot = {
    // imaging keeps no VM warm (size 0: every claim of it queues, for the waitlist's sake).
    vms: [vm('a', 'claimed', 's-a'), vm('b', 'ready', 's-b'), vm('c', 'ready', 's-c')],
    leases: [lease('l-a', 'a', 'alice', null)],
    reminders: [{ lease_id: 'l-a', before_ms: 3_000, expires_at: T + POOLS.physics!.leaseMs, status: 'queued' }],
    outbox: [
      { key: 'home-ready:l-a', kind: 'home-ready', lease_id: 'l-a', status: 'sent', created_at: T + 100, deliver_by: T + 86_400_100 },
      { key: `reminder:l-a:3000:${T + POOLS.physics!.leaseMs}`, kind: 'reminder', lease_id: 'l-a', status: 'sent', created_at: T + 7_000, deliver_by: T + POOLS.physics!.leaseMs },
    ],
    audit: [{ actor: 'alice', action: 'claim', result: 'ok', n: 1 }],
    servers: [server('s-a', 'a'), server('s-b', 'b'), server('s-c', 'c')],
  };
  const ledger = emptyLedger();
  ledger.claims.push({ user: 'alice', vm: 'physics-a', life: 1 });
  ledger.dms.push({ to: 'alice', kind: 'home-ready', vm: 'physics-a', life: 1 });
  ledger.dms.push({ to: 'alice', kind: 'reminder', vm: 'physics-a', life: 1 });
  t.deepEqual(checkAtRest(healthy, ledger), [], 'a healthy state passes');
  t.deepEqual(checkConverged(healthy, T + 1_000, ledger), [], 'a converged state passes');

  const broken = (change: (s: Snapshot, l: Ledger) => void) => {
    const s = structuredClone(healthy);
    const l: Ledger = { ...emptyLedger(), claims: [...ledger.claims], dms: [...ledger.dms] };
    change(s, l);
    return [...checkAtRest(s, l), ...checkConverged(s, T + 1_000, l)].join('\n');
  };
  t.regex(broken((s) => s.leases.push(lease('l-2', 'a', 'bob', 'released'))), /physics-a has 2 leases \(users alice, bob\)/);
  t.regex(broken((_, l) => l.claims.push({ user: 'bob', vm: 'physics-a', life: 2 })), /physics-a was acknowledged to 2 claims/);
  t.regex(broken((s) => (s.leases = [])), /lease lost: physics-a was acknowledged to alice/);
  t.regex(broken((_, l) => l.releases.push({ user: 'alice', vm: 'physics-a', life: 1 })), /release of physics-a acknowledged to alice .* still live/);
  t.regex(broken((_, l) => l.extensions.set('physics-a', 1)), /1 extension\(s\) of physics-a acknowledged but the store has 0/);
  t.regex(broken((s) => (s.vms[0]!.state = 'releasing')), /physics-a is releasing but alice's lease on it is live/);
  t.regex(broken((_, l) => l.dms.push({ to: 'alice', kind: 'reminder', vm: 'physics-a', life: 2 })), /2 reminders about physics-a were printed for 1 recorded stage/);
  t.regex(broken((s) => (s.reminders[0]!.status = 'failed')), /reminder of physics-a is recorded as failed/);
  // The outbox: at most once, nothing lost but by the stated rule, each message with its change.
  t.regex(broken((s) => (s.outbox[1]!.status = 'failed')), /outbox message reminder:l-a:\d+:\d+ is recorded as failed/);
  t.regex(broken((_, l) => l.dms.push({ to: 'alice', kind: 'home-ready', vm: 'physics-a', life: 2 })), /2 home-ready message\(s\) about physics-a were printed but the outbox has 1 sent or being sent/);
  t.regex(broken((_, l) => (l.dms = l.dms.filter((d) => d.kind !== 'reminder'))), /1 reminder message\(s\) about physics-a are recorded as sent in the outbox but 0 were printed/);
  t.is(broken((s, l) => {
    s.outbox[1]!.status = 'interrupted';
    l.dms = l.dms.filter((d) => d.kind !== 'reminder');
  }), '', 'killed while sending: it may be missing');
  t.regex(broken((s) => (s.outbox = s.outbox.slice(0, 1))), /reminder stage reminder:l-a:3000:\d+ is recorded as queued but the outbox has no message for it/);
  t.regex(broken((s) => (s.outbox = s.outbox.slice(1))), /has 0 home-ready message\(s\) in the outbox/);
  t.regex(broken((s) => Object.assign(s.outbox[1]!, { status: 'pending', created_at: T - 10_000 })), /outbox message reminder:l-a:\d+:\d+ is still pending/);
  t.regex(broken((_, l) => l.dms.push({ to: 'bob', kind: 'home-ready', vm: 'physics-a', life: 2 })), /went to bob, not to its holder alice/);
  t.regex(broken((s) => (s.audit = [])), /alice has 1 lease\(s\) but 0 successful claim/);
  t.regex(broken((_, l) => l.firstTicks.push({ life: 3, startedAt: T + POOLS.physics!.leaseMs + 6_000 })), /alice's lease on physics-a expired 6000 ms before life 3's first tick and is still live/);
  t.regex(broken((s) => s.servers.push(server('s-x', 'x'))), /server physics-x \(s-x\) has no store record/);
  t.regex(broken((s) => (s.vms[1]!.state = 'deleted')), /server physics-b is still in the cloud but its record physics-b is deleted/);
  t.regex(broken((s) => (s.servers = s.servers.slice(1))), /physics-a is claimed but its server s-a is not in the cloud/);
  t.regex(broken((s) => (s.vms[2]!.state = 'failed')), /physics-c is still failed[^]*pool physics has 1 ready VMs, not 2/);
  t.regex(
    broken((s, l) => {
      s.leases[0] = lease('l-a', 'a', 'alice', 'expired');
      s.vms[0]!.state = 'releasing';
      s.audit.push({ actor: 'scheduler', action: 'teardown', result: 'ok', n: 1 });
      l.lives.push({ life: 1, spawnedAt: T - 1_000, endedAt: T + 5_000 });
    }),
    /lease on physics-a ended \(expired\) 1500 ms into life 1, which ran 4500 ms longer, but no teardown message was printed/,
  );
  t.regex(
    parseTranscript('alice> claim physics\n✔ physics-ab12 is yours for 4s\n\n[direct message to alice]\n! physics-ab12 will be torn down in 3s\n✔ physics-ab12 released\n✔ physics-cut').claims.join(),
    /^physics-ab12$/,
  );
});
