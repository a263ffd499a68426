/**
 * Load: 1,000 users claim at once (Promise.all over the dispatcher, as a chat platform's
 * concurrent requests arrive) from three pools holding 200 warm VMs between them; one user in
 * ten clicks twice. Exactly as many claims succeed as there were ready VMs, nobody gets two,
 * no VM is handed out twice, every refusal says the pool is empty (or, to a double click that
 * won, that the user already holds one), the audit trail has one row per message, and the pools
 * refill afterwards without a leaked server. Run on the in-memory store and on a SQLite file.
 */
import test, { type ExecutionContext } from 'ava';
import type { Reply } from '../../src/chat/reply.ts';
import { createHarness, seeded, tempDir, type Harness } from '../helpers/harness.ts';
import { assertConsistent, assertFull } from '../helpers/invariants.ts';
import { texts } from '../helpers/replies.ts';
import { auditAfter, auditHead, checkReply, storeProblems } from '../fuzz/oracle.ts';

const USERS = 1_000;
const account = (i: number) => `user${String(i).padStart(4, '0')}`;
/** Users 0–499 may claim physics, 500–849 imaging, 850–999 tomography. */
const POOLS = [
  { name: 'physics', from: 0, to: 500, size: 120, flavor: 'm1.large', image: 'physics-base' },
  { name: 'imaging', from: 500, to: 850, size: 60, flavor: 'g1.gpu', image: 'imaging-gpu' },
  { name: 'tomography', from: 850, to: 1_000, size: 20, flavor: 'g1.gpu', image: 'imaging-gpu' },
] as const;
const READY = POOLS.reduce((n, p) => n + p.size, 0);
const members = (p: (typeof POOLS)[number]) => Array.from({ length: p.to - p.from }, (_, i) => account(p.from + i));

const CONFIG = `
instance: load
# Refusals are the subject here: an empty pool answers at once instead of offering a queue.
defaults:
  queue: false
access:
  admins: [root]
  groups:
${POOLS.map((p) => `    ${p.name}: [${members(p).join(', ')}]`).join('\n')}
scheduler:
  maxConcurrentBoots: 500
  readinessTimeout: 600s
  failedRetention: 5m
  backoffInitial: 30s
  backoffMax: 5m
  poll: 2s
cloud:
  driver: simulated
  simulated:
    bootTime: 5s
    latency: 0
    quota: { instances: 1000, cores: 10000 }
    flavors: { m1.large: { vcpus: 4 }, g1.gpu: { vcpus: 8, gpus: 1 } }
    images: [physics-base, imaging-gpu]
provisioner:
  driver: simulated
  simulated: { provisionTime: 4s }
pools:
${POOLS.map(
  (p) => `  ${p.name}:
    image: ${p.image}
    flavor: ${p.flavor}
    size: ${p.size}
    max: ${p.size * 2}
    groups: [${p.name}]
    owner: { name: ${p.name} team, contact: ${p.name}@facility.example }`,
).join('\n')}
`;

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

const ms = (n: number) => `${n.toFixed(2)} ms`;

async function burst(t: ExecutionContext, h: Harness): Promise<void> {
  await h.run(20_000, 2_000);
  assertFull(t, h);
  const readyBefore = new Set(h.store.listVms({ states: ['ready'] }).map((vm) => vm.id));
  t.is(readyBefore.size, READY);
  const auditFrom = auditHead(h);

  // Every user claims their pool; one in ten sends the claim twice (a double click).
  const random = seeded(7);
  const messages: { user: string; pool: string; double: boolean }[] = [];
  for (let i = 0; i < USERS; i++) {
    const pool = POOLS.find((p) => i >= p.from && i < p.to)!.name;
    const double = random() < 0.1;
    messages.push({ user: account(i), pool, double });
    if (double) messages.push({ user: account(i), pool, double });
  }
  // Shuffled, so pools and double clicks interleave as real traffic would.
  for (let i = messages.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [messages[i], messages[j]] = [messages[j]!, messages[i]!];
  }

  const service: number[] = [];
  const started = performance.now();
  const answers = await Promise.all(
    messages.map(async (m) => {
      const t0 = performance.now();
      const pending = h.say(m.user, `claim ${m.pool}`);
      service.push(performance.now() - t0);
      const reply: Reply = await pending;
      return { ...m, reply, answeredAfter: performance.now() - started };
    }),
  );
  const wall = performance.now() - started;
  const answeredAfter = answers.map((a) => a.answeredAfter).sort((a, b) => a - b);
  const sortedService = [...service].sort((a, b) => a - b);
  t.log(`${messages.length} claims from ${USERS} users on ${READY} ready VMs: wall ${ms(wall)}; slowest answer ${ms(answeredAfter.at(-1)!)} after the burst began`);
  t.log(`time in the bot per claim: median ${ms(percentile(sortedService, 50))}, 99th percentile ${ms(percentile(sortedService, 99))}, max ${ms(sortedService.at(-1)!)}`);

  // Exactly as many successes as ready VMs, each VM to one user, nobody twice.
  const won = answers.filter((a) => a.reply.tone === 'success');
  t.is(won.length, READY, 'every ready VM is handed out, and no more');
  const perUser = new Map<string, number>();
  for (const a of won) perUser.set(a.user, (perUser.get(a.user) ?? 0) + 1);
  t.deepEqual([...perUser].filter(([, n]) => n > 1), [], 'nobody gets two');
  const leases = h.store.activeLeases();
  t.is(leases.length, READY);
  t.is(new Set(leases.map((l) => l.vmId)).size, READY, 'no VM in two leases');
  t.true(leases.every((l) => readyBefore.has(l.vmId)), 'only VMs that were ready are handed out');
  for (const p of POOLS) {
    t.is(leases.filter((l) => l.pool === p.name).length, p.size, `${p.name}: as many claims as it had ready VMs`);
    t.is(h.store.listVms({ pool: p.name, states: ['ready'] }).length, 0);
  }
  // The reply names the VM the store gave that user.
  const held = new Map(leases.map((l) => [l.user, l.vm.name]));
  for (const a of won) t.is(a.reply.title, `${held.get(a.user)} is yours for 2d`, a.user);

  // Every refusal is clear: the pool is empty (and what to do), or the double click that won.
  const refusals = answers.filter((a) => a.reply.tone !== 'success');
  t.is(refusals.length, messages.length - READY);
  const unclear: string[] = [];
  for (const a of refusals) {
    checkReply(a.reply, `${a.user}: claim ${a.pool}`, h.clock.now());
    const empty = a.reply.tone === 'error' && a.reply.title.startsWith(`No VM is ready in ${a.pool} right now: the pool is refilling. A new VM takes about `) && texts(a.reply) === `Try again then: claim ${a.pool}`;
    const alreadyHeld = a.double && held.has(a.user) && a.reply.tone === 'error' && a.reply.title === `You already hold ${held.get(a.user)} from ${a.pool}; the pool allows 1 per person.`;
    if (!empty && !alreadyHeld) unclear.push(`${a.user} (${a.double ? 'double click' : 'one click'}): ${a.reply.title}`);
  }
  t.deepEqual(unclear.slice(0, 5), [], `${unclear.length} unclear refusals`);
  t.true(refusals.some((a) => a.reply.title.startsWith('You already hold')), 'some double click won and was told so');

  // One audit row per message, each with its result.
  const audit = auditAfter(h, auditFrom);
  t.is(audit.length, messages.length);
  t.is(audit.filter((r) => r.result === 'ok').length, READY);
  t.deepEqual([...new Set(audit.map((r) => r.result))].sort(), ['LEASE_LIMIT', 'POOL_EMPTY', 'ok']);
  t.deepEqual(storeProblems(h), []);

  // The answers stay fast: generous bounds, so only a real slowdown (say, a full scan per claim) fails them.
  t.true(percentile(sortedService, 99) < 250, `99th percentile of a claim ${ms(percentile(sortedService, 99))}`);
  t.true(wall < 30_000, `the burst took ${ms(wall)}`);

  // Then the pools refill, with nothing leaked.
  await h.run(60_000, 2_000);
  assertFull(t, h);
  await assertConsistent(t, h);
  t.is(h.store.activeLeases().length, READY, 'the refill took no VM from anyone');
}

test.serial('1,000 users claim at once from three pools, on the in-memory store', async (t) => {
  const h = createHarness({ config: CONFIG, cloud: { pageSize: 200 } });
  t.teardown(() => h.close());
  await burst(t, h);
});

test.serial('1,000 users claim at once from three pools, on a SQLite file', async (t) => {
  const dir = tempDir('daaas-load-');
  const h = createHarness({ config: CONFIG, cloud: { pageSize: 200 }, storePath: `${dir.path}/daaas.sqlite` });
  t.teardown(async () => {
    await h.close();
    dir.remove();
  });
  await burst(t, h);
});
