/**
 * Cloud faults while people keep working: API errors on a fraction of calls, boots that end in
 * ERROR, slow boots, a full outage of several minutes, random fault schedules, and a Keystone
 * token revoked in the middle of a run on the fake OpenStack API. Whatever the cloud does, every
 * command gets a clear answer at once (commands need only the store), leases still expire and
 * reminders still go out, and once the cloud behaves every pool converges with no leaked server
 * and no record without a server. Simulated time on a manual clock, except the token test
 * (real HTTP, real time).
 */
import test, { type ExecutionContext } from 'ava';
import fc from 'fast-check';
import type { SimCloudOptions } from '../../src/adapters/sim-cloud/sim-cloud.ts';
import type { Reply } from '../../src/chat/reply.ts';
import { FakeOpenStack } from '../helpers/fake-openstack.ts';
import { createHarness, seeded, type Harness } from '../helpers/harness.ts';
import { assertConsistent, assertFull } from '../helpers/invariants.ts';
import { texts } from '../helpers/replies.ts';
import { botOn, readyCount } from '../openstack/bot-on-openstack.ts';
import { fcParams, SEED } from '../fuzz/hostile.ts';
import { checkReply, cloudProblems, storeProblems } from '../fuzz/oracle.ts';

const S = 1_000;
const MIN = 60 * S;

/** TEST_CONFIG's pools and people, with leases short enough to expire within a fault. */
const CONFIG = `
instance: faults
access:
  admins: [root]
  groups:
    physics: [alice, bob, carol, erin, frank]
    imaging: [dave, alice]
defaults:
  lease: 20m
  remindBefore: [10m, 2m]
  extensionStep: 10m
  maxExtensions: 1
  # About the cloud's faults: an empty pool answers when the next VM is expected (the waitlist
  # under kills is covered by the crash harness).
  queue: false
scheduler:
  maxConcurrentBoots: 20
  readinessTimeout: 180s
  failedRetention: 2m
  backoffInitial: 10s
  backoffMax: 2m
  poll: 2s
  # Boots fail at random here (up to all of them): pools must only back off, never stop.
  failureLimit: 1000
cloud:
  driver: simulated
  simulated:
    bootTime: 5s
    latency: 0
    quota: { instances: 40, cores: 400 }
    flavors: { m1.large: { vcpus: 4 }, g1.gpu: { vcpus: 8, gpus: 1 } }
    images: [physics-base, imaging-gpu]
provisioner:
  driver: simulated
  simulated: { provisionTime: 4s }
pools:
  physics:
    image: physics-base
    flavor: m1.large
    size: 3
    max: 8
    groups: [physics]
    owner: { name: Physics software, contact: physics@facility.example }
  imaging:
    image: imaging-gpu
    flavor: g1.gpu
    gpu: true
    size: 1
    max: 3
    groups: [imaging]
    owner: { name: Imaging group, contact: imaging@facility.example }
`;

const PEOPLE = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'root'] as const;

function faultyHarness(t: ExecutionContext, cloud: Partial<SimCloudOptions> = {}, seed = SEED): Harness {
  const h = createHarness({ config: CONFIG, random: seeded(seed), cloud: { pageSize: 5, ...cloud } });
  t.teardown(() => h.close());
  return h;
}

/** The simulated cloud's live options: fault rates and boot time can be changed mid-run. */
function cloudKnobs(h: Harness): SimCloudOptions {
  return (h.cloud as unknown as { options: SimCloudOptions }).options;
}

function totalCalls(h: Harness): number {
  return Object.values(h.cloud.calls).reduce((a, b) => a + b, 0);
}

/**
 * Sends a message and checks that it is answered at once and clearly, without the cloud: a known
 * tone, a title, never the internal-error apology, and not a single cloud API call made.
 */
async function ask(h: Harness, who: string, text: string): Promise<Reply> {
  const calls = totalCalls(h);
  const reply = await h.say(who, text);
  checkReply(reply, `${who}: ${text} at ${new Date(h.clock.now()).toISOString()}`, h.clock.now());
  if (totalCalls(h) !== calls) throw new Error(`"${text}" called the cloud API`);
  return reply;
}

/** A claim is either a VM or one of the clear refusals: the pool is empty (when to try again), or you already hold one. */
function clearClaimAnswer(reply: Reply, pool: string): boolean {
  if (reply.tone === 'success') return / is yours for /.test(reply.title);
  const empty = reply.title.startsWith(`No VM is ready in ${pool} right now: the pool is refilling. `) && texts(reply) === `Try again then: claim ${pool}`;
  const cloudDown =
    reply.title === `No VM is ready in ${pool}, and the cloud is not answering at the moment, so no new one can be made ready until it is back.` &&
    texts(reply) === `Your request was not queued: try again in a few minutes with: claim ${pool}. Admins see the cloud's state in: admin pools`;
  return empty || cloudDown || /^You already hold \S+ from /.test(reply.title);
}

/** What a person does in a minute of work: look, claim, extend, release. */
async function someoneWorks(t: ExecutionContext, h: Harness, random: () => number, people: readonly string[] = PEOPLE): Promise<void> {
  const who = people[Math.floor(random() * people.length)]!;
  const roll = random();
  if (roll < 0.35) {
    const pool = who === 'dave' || random() < 0.2 ? 'imaging' : 'physics';
    const reply = await ask(h, who, `claim ${pool}`);
    if (!clearClaimAnswer(reply, pool) && !(reply.tone === 'error' && /is for members of/.test(reply.title))) t.fail(`unclear answer to ${who}'s claim of ${pool}: ${reply.title}`);
  } else if (roll < 0.45) {
    await ask(h, who, 'extend');
  } else if (roll < 0.52) {
    await ask(h, who, 'release --yes');
  } else if (roll < 0.8) {
    await ask(h, who, 'status');
  } else {
    await ask(h, who, random() < 0.5 ? 'pools' : 'admin pools');
  }
}

/** After the cloud recovers: ticks until every pool is full and nothing is left in flight, or `withinMs` passes. */
async function converge(h: Harness, withinMs = 20 * MIN): Promise<number> {
  const started = h.clock.now();
  for (;;) {
    await h.run(10 * S, 2 * S);
    const settled = h.store.listVms({ states: ['booting', 'provisioning', 'releasing', 'failed'] }).length === 0;
    if (settled && h.config.pools.every((p) => h.store.listVms({ pool: p.name, states: ['ready'] }).length === p.size)) return h.clock.now() - started;
    if (h.clock.now() - started > withinMs) return Number.POSITIVE_INFINITY;
  }
}

/** No expired lease is still live, every ended one has its VM on the way out or gone. */
function leasesKeptTime(h: Harness): string[] {
  const now = h.clock.now();
  return h.store
    .activeLeases()
    .filter((l) => l.expiresAt <= now)
    .map((l) => `${l.vm.name} of ${l.user} expired ${Math.round((now - l.expiresAt) / S)} s ago and is still live`);
}

test.before((t) => t.log(`seed ${SEED} (FC_SEED=<n> to change)`));

test('API errors, boot failures and slow boots while people keep working: clear answers, leases expire, pools converge', async (t) => {
  // A quarter of API calls answer 503, a third of boots end in ERROR, and boots take 90 s (±50 %).
  const h = faultyHarness(t, { apiFailureRate: 0.25, bootFailureRate: 0.33, bootMs: 90 * S, bootJitter: 0.5 });
  const random = seeded(SEED + 1);
  let claimsWon = 0;
  // An hour of simulated time under faults: a tick every 10 s, someone at work every 20 s.
  for (let elapsed = 0; elapsed < 60 * MIN; elapsed += 10 * S) {
    await h.tick();
    if (elapsed % (20 * S) === 0) {
      const before = h.store.activeLeases().length;
      await someoneWorks(t, h, random);
      if (h.store.activeLeases().length > before) claimsWon++;
    }
    t.deepEqual(storeProblems(h), [], `at ${elapsed / S} s`);
    t.deepEqual(leasesKeptTime(h), [], 'leases expire on time whatever the cloud does');
    await h.clock.advance(10 * S);
  }
  t.true(claimsWon >= 5, `people got VMs under faults (${claimsWon})`);
  const ended = h.store.auditLog({ limit: 1_000 }).filter((a) => a.action === 'teardown' && (a.detail as { reason?: string } | undefined)?.reason === 'expired');
  t.true(ended.length >= 1, 'some lease ran its 20 minutes out under faults and was torn down');
  t.true(h.dms.titles().some((m) => / will be torn down in /.test(m)), 'reminders went out under faults');
  t.true(h.dms.titles().some((m) => / has been torn down$/.test(m)), 'teardown notices went out under faults');
  t.true(h.cloud.calls.create > 8, 'failed boots were replaced');

  // The cloud behaves again (servers already booting keep their slow boot).
  Object.assign(cloudKnobs(h), { apiFailureRate: 0, bootFailureRate: 0, bootMs: 5 * S, bootJitter: 0 });
  const tookMs = await converge(h);
  t.log(`converged ${Math.round(tookMs / S)} s after the faults stopped; ${claimsWon} claims won under faults; ${h.cloud.calls.create} servers created`);
  t.true(Number.isFinite(tookMs), 'every pool converged after the faults');
  assertFull(t, h);
  await assertConsistent(t, h);
  t.is(h.cloud.serverCount, h.store.listVms().length, 'one server per live record');
});

test('a full outage of 12 minutes: answers say the cloud is down and when to try again; leases expire; pools converge after', async (t) => {
  const h = faultyHarness(t);
  await h.run(15 * S);
  assertFull(t, h);
  // alice's lease (20 min) will run out during the outage; bob's will not.
  t.is((await ask(h, 'alice', 'claim physics')).tone, 'success');
  await h.run(10 * MIN, 10 * S);
  t.is((await ask(h, 'bob', 'claim physics')).tone, 'success');
  await h.run(15 * S);
  assertFull(t, h);
  const alices = h.store.activeLeases({ user: 'alice' })[0]!;

  h.cloud.setOutage(true);
  const outageStarted = h.clock.now();
  const random = seeded(SEED + 2);
  const emptyAnswers: Reply[] = [];
  let answered = 0;
  for (let elapsed = 0; elapsed < 12 * MIN; elapsed += 15 * S) {
    await h.tick();
    // Everyone in physics tries to claim, in turn; the others look, extend and release.
    const who = PEOPLE[Math.floor(elapsed / (15 * S)) % PEOPLE.length]!; // alice too: she is told she holds one
    const claim = await ask(h, who, 'claim physics');
    answered++;
    if (!clearClaimAnswer(claim, 'physics') && !/is for members of/.test(claim.title)) t.fail(`unclear: ${claim.title}`);
    if (claim.title.startsWith('No VM is ready')) emptyAnswers.push(claim);
    await someoneWorks(t, h, random, ['bob', 'carol', 'dave', 'erin', 'frank', 'root']);
    answered++;
    t.deepEqual(leasesKeptTime(h), []);
    await h.clock.advance(15 * S);
  }
  t.log(`${answered} messages answered during the outage; ${emptyAnswers.length} claims found physics empty`);
  t.regex(h.app.reconciler.status.lastError ?? '', /did not answer/);

  // The empty-pool answer during the outage: the pool is empty, the cloud is not answering, how long a VM takes, try again.
  t.true(emptyAnswers.length > 0, 'the warm pool ran out during the outage');
  for (const reply of emptyAnswers) {
    t.is(reply.tone, 'error');
    // With VMs still on their way it says when the next is expected; with none, that nothing can come until the cloud is back.
    const coming = /^No VM is ready in physics right now: the pool is refilling\. The next VM is expected in about \d+s\. The cloud is not answering at the moment, so the refill may take longer\.$/;
    const blocked = 'No VM is ready in physics, and the cloud is not answering at the moment, so no new one can be made ready until it is back.';
    t.true(coming.test(reply.title) || reply.title === blocked, reply.title);
    t.is(texts(reply), reply.title === blocked ? "Your request was not queued: try again in a few minutes with: claim physics. Admins see the cloud's state in: admin pools" : 'Try again then: claim physics');
  }
  const admin = await ask(h, 'root', 'admin pools');
  t.regex(texts(admin), /Cloud: NOT answering/);

  // alice's lease ran out during the outage: torn down and told so, her VM waiting for the cloud to delete it.
  const ended = h.store.getLease(alices.id)!;
  t.is(ended.endReason, 'expired');
  t.true(ended.endedAt! >= alices.expiresAt && ended.endedAt! < alices.expiresAt + 30 * S, 'torn down on time');
  t.true(ended.endedAt! > outageStarted);
  t.true(h.dms.titles('alice').includes(`${alices.vm.name} has been torn down`));
  t.is(h.store.getVm(alices.vmId)?.state, 'releasing');

  h.cloud.setOutage(false);
  const tookMs = await converge(h);
  t.log(`converged ${Math.round(tookMs / S)} s after the outage ended`);
  t.true(tookMs <= 2 * MIN, `pools converge within two minutes of the cloud's return (took ${tookMs / S} s)`);
  assertFull(t, h);
  await assertConsistent(t, h);
  t.is(h.store.getVm(alices.vmId)?.state, 'deleted');
  t.is(h.cloud.serverCount, h.store.listVms().length);
  t.is(h.app.reconciler.status.lastError, null);
});

test('random fault schedules (outages, failing calls, flaky and slow clouds, broken, vanished and hidden servers) always end in full pools and no leak', async (t) => {
  type Event =
    | { kind: 'outage'; minutes: number }
    | { kind: 'fail'; operation: 'list' | 'get' | 'create' | 'delete' | 'limits' | 'flavor' | 'image' | '*'; count: number; status: number }
    | { kind: 'break' | 'remove' | 'hide'; index: number }
    | { kind: 'claim' | 'release'; who: number; pool: 'physics' | 'imaging' }
    | { kind: 'wait'; seconds: number }
    | { kind: 'slow'; bootSeconds: number }
    | { kind: 'flaky'; apiFailureRate: number; bootFailureRate: number };
  const event: fc.Arbitrary<Event> = fc.oneof(
    fc.record({ kind: fc.constant('outage' as const), minutes: fc.integer({ min: 1, max: 6 }) }),
    fc.record({
      kind: fc.constant('fail' as const),
      operation: fc.constantFrom('list' as const, 'get' as const, 'create' as const, 'delete' as const, 'limits' as const, 'flavor' as const, 'image' as const, '*' as const),
      count: fc.integer({ min: 1, max: 6 }),
      status: fc.constantFrom(500, 502, 503, 504, 429, 401, 403, 409),
    }),
    fc.record({ kind: fc.constantFrom('break' as const, 'remove' as const, 'hide' as const), index: fc.nat() }),
    fc.record({ kind: fc.constantFrom('claim' as const, 'release' as const), who: fc.nat({ max: PEOPLE.length - 1 }), pool: fc.constantFrom('physics' as const, 'imaging' as const) }),
    fc.record({ kind: fc.constant('wait' as const), seconds: fc.integer({ min: 1, max: 120 }) }),
    // Boots slower than readinessTimeout (180 s) are failed and replaced.
    fc.record({ kind: fc.constant('slow' as const), bootSeconds: fc.integer({ min: 5, max: 300 }) }),
    fc.record({ kind: fc.constant('flaky' as const), apiFailureRate: fc.constantFrom(0, 0.1, 0.3, 0.6), bootFailureRate: fc.constantFrom(0, 0.2, 0.5, 1) }),
  );
  let runs = 0;
  let slowest = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(event, { minLength: 1, maxLength: 25 }), fc.integer({ min: 0, max: 2 ** 31 - 1 }), async (events, seed) => {
      const h = createHarness({ config: CONFIG, random: seeded(seed), cloud: { pageSize: 5 } });
      try {
        await h.run(15 * S, 2 * S);
        for (const e of events) {
          const servers = await h.cloud.listServers(h.app.reconciler.tag).catch(() => []);
          const server = 'index' in e ? servers[e.index % Math.max(1, servers.length)] : undefined;
          switch (e.kind) {
            case 'outage':
              h.cloud.setOutage(true);
              await h.run(e.minutes * MIN, 10 * S);
              h.cloud.setOutage(false);
              break;
            case 'fail':
              h.cloud.failNext(e.operation, e.count, e.status);
              break;
            case 'break':
              if (server) h.cloud.breakServer(server.id);
              break;
            case 'remove':
              if (server) h.cloud.removeServer(server.id);
              break;
            case 'hide':
              if (server) h.cloud.hideFromNextList(server.id);
              break;
            case 'claim': {
              const reply = await ask(h, PEOPLE[e.who]!, `claim ${e.pool}`);
              if (!clearClaimAnswer(reply, e.pool) && !/is for members of/.test(reply.title)) throw new Error(`unclear claim answer: ${reply.title}`);
              break;
            }
            case 'release':
              await ask(h, PEOPLE[e.who]!, 'release --yes');
              break;
            case 'wait':
              await h.run(e.seconds * S, 2 * S);
              break;
            case 'slow':
              cloudKnobs(h).bootMs = e.bootSeconds * S;
              break;
            case 'flaky':
              Object.assign(cloudKnobs(h), { apiFailureRate: e.apiFailureRate, bootFailureRate: e.bootFailureRate });
              await h.run(MIN, 5 * S);
              break;
          }
          await h.tick();
          const problems = storeProblems(h);
          if (problems.length) throw new Error(`${problems.join('; ')} after ${JSON.stringify(e)}`);
        }
        // The cloud behaves from now on.
        Object.assign(cloudKnobs(h), { apiFailureRate: 0, bootFailureRate: 0, bootMs: 5 * S });
        const tookMs = await converge(h);
        if (!Number.isFinite(tookMs)) {
          const stuck = h.store.listVms().filter((vm) => vm.state !== 'ready' && vm.state !== 'claimed').map((vm) => `${vm.name} ${vm.state} ${vm.detail ?? ''}`);
          throw new Error(`no convergence within 20 minutes; ${stuck.join(', ') || 'pools short'}; last error ${h.app.reconciler.status.lastError}`);
        }
        slowest = Math.max(slowest, tookMs);
        const problems = [...storeProblems(h), ...(await cloudProblems(h))];
        if (problems.length) throw new Error(problems.join('; '));
        if (h.cloud.serverCount !== h.store.listVms().length) throw new Error(`${h.cloud.serverCount} servers for ${h.store.listVms().length} live records`);
        runs++;
      } finally {
        await h.close();
      }
    }),
    fcParams(30),
  );
  t.log(`${runs} schedules; the slowest converged ${Math.round(slowest / S)} s after its last fault`);
  t.is(runs, 30);
});

test('a Keystone token revoked mid-run on the OpenStack API: nothing fails, the pool refills, one re-authentication', async (t) => {
  const fake = await new FakeOpenStack({ bootMs: 100, deleteMs: 50 }).start();
  t.teardown(() => fake.stop());
  const bot = botOn({ env: fake.env(), instance: 'tokens', image: 'physics-base', flavor: 'm1.small', size: 2, max: 4 });
  t.teardown(() => bot.close());
  const full = () => readyCount(bot) === 2 && bot.store.listVms({ states: ['booting', 'provisioning', 'releasing'] }).length === 0;
  await bot.until(t, 'pool full', full);
  const authBefore = fake.count('POST', /\/auth\/tokens$/);
  t.is(authBefore, 1, 'one token for the whole fill');
  // Cloud trouble shows in the log as a tick that could not observe the cloud or an action that failed.
  const cloudTrouble = () => bot.logs().split('\n').filter((l) => /"level":"(warn|error)"/.test(l) && /cloud not observed|action failed|tick failed/.test(l));
  const troubleBefore = cloudTrouble().length;

  fake.revokeTokens();
  // People keep claiming and releasing, and the scheduler keeps ticking, across the revocation.
  for (const who of ['alice', 'bob', 'alice', 'bob']) {
    t.regex(await bot.say(who, 'claim physics'), /is yours for/);
    await bot.app.reconciler.tick();
    await bot.app.reconciler.idle();
    t.regex(await bot.say(who, 'release --yes'), /released/);
    await bot.until(t, `refilled after ${who}'s release`, full, 30_000);
    t.is(bot.app.reconciler.status.lastError, null, 'the cloud was observed on every tick');
  }

  t.is(fake.count('POST', /\/auth\/tokens$/) - authBefore, 1, 'exactly one re-authentication');
  t.regex(bot.logs(), /token refused by the cloud; authenticating again/);
  t.deepEqual(cloudTrouble().slice(troubleBefore), [], 'no tick or action failed');
  // No leak: the cloud's servers (not being deleted) are exactly the store's live records.
  const servers = (await bot.servers()).filter((s) => s.status !== 'DELETED');
  const live = bot.store.listVms();
  t.deepEqual(servers.map((s) => s.id).sort(), live.map((vm) => vm.serverId).sort());
  t.is(bot.store.activeLeases().length, 0);
});
