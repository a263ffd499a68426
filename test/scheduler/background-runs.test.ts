/**
 * The plays outside the tick, on a provisioner whose runs go on until they are cancelled (as a
 * long Ansible play would): stop() interrupts every kind of run, records no failure for them, and
 * the next start runs them again.
 */
import test from 'ava';
import { ManualClock } from '../../src/adapters/manual-clock.ts';
import { SqliteStore } from '../../src/adapters/sqlite/sqlite-store.ts';
import type { PoolSpec, Vm } from '../../src/core/model.ts';
import { noMetrics } from '../../src/ports/metrics.ts';
import type { Personalisation, Provisioner } from '../../src/ports/provisioner.ts';
import { BackgroundRuns } from '../../src/scheduler/background-runs.ts';
import { Outcomes } from '../../src/scheduler/outcomes.ts';
import { recordingLogger } from '../helpers/recording-logger.ts';

const POOL: PoolSpec = {
  name: 'physics',
  description: '',
  image: 'physics-base',
  flavor: 'm1.large',
  gpu: false,
  networks: [],
  size: 1,
  max: 4,
  leaseMs: 48 * 3_600_000,
  remindBeforeMs: [],
  extensionStepMs: 86_400_000,
  maxExtensions: 2,
  maxLeasesPerUser: 1,
  groups: ['physics'],
  connect: 'ssh {account}@{address}',
  owner: { name: 'Physics', contact: 'physics@facility.example' },
};

/** Every run goes on until its signal is aborted, then rejects as the Ansible runner does. */
class EndlessProvisioner implements Provisioner {
  readonly started: string[] = [];
  readonly cancelled: string[] = [];
  private run<T>(what: string, vm: Vm, signal: AbortSignal): Promise<T> {
    this.started.push(`${what} ${vm.name}`);
    return new Promise<T>((_, reject) => {
      signal.addEventListener('abort', () => {
        this.cancelled.push(`${what} ${vm.name}`);
        reject(new Error(`${what}.yml on ${vm.name} was cancelled`));
      }, { once: true });
    });
  }
  provision(vm: Vm, _pool: PoolSpec, signal: AbortSignal): Promise<void> {
    return this.run('provision', vm, signal);
  }
  personalise(vm: Vm, _pool: PoolSpec, _account: unknown, signal: AbortSignal): Promise<Personalisation> {
    return this.run('claim', vm, signal);
  }
  release(vm: Vm, _pool: PoolSpec, signal: AbortSignal): Promise<void> {
    return this.run('release', vm, signal);
  }
  async lastLog() {
    return undefined;
  }
}

function setup() {
  const store = new SqliteStore(':memory:');
  const clock = new ManualClock();
  const { log, lines } = recordingLogger();
  const changed: string[] = [];
  const runs = (provisioner: Provisioner) => {
    const outcomes = new Outcomes({ store, log, metrics: noMetrics, backoff: { backoffInitialMs: 30_000, backoffMaxMs: 300_000 }, onLeaseChange: (account) => changed.push(account) });
    return new BackgroundRuns({ store, provisioner, clock, log, metrics: noMetrics, pools: new Map([[POOL.name, POOL]]), backoff: { backoffInitialMs: 30_000, backoffMaxMs: 300_000 }, outcomes });
  };
  const vm = (state: Vm['state']) => {
    const created = store.createVm({ pool: POOL.name, image: POOL.image, flavor: POOL.flavor, createdAt: clock.now() });
    store.updateVm(created.id, { state, address: '10.0.0.9', serverId: `srv-${created.name}` }, clock.now());
    return store.getVm(created.id)!;
  };
  const claim = (user: string) => {
    vm('ready');
    const claimed = store.claim({ pool: POOL.name, user, platform: 'test', conversation: `dm-${user}`, now: clock.now(), leaseMs: POOL.leaseMs, maxLeasesPerUser: 1 });
    if (!claimed.ok) throw new Error('the claim was refused');
    return claimed.lease;
  };
  return { store, clock, lines, changed, runs, vm, claim };
}

test('stop() cancels provisioning, personalising and release plays alike, records none as failed, and the next start runs them again', async (t) => {
  const { store, clock, lines, runs, vm } = setup();
  t.teardown(() => store.close());
  const provisioner = new EndlessProvisioner();
  const first = runs(provisioner);

  const booting = vm('booting');
  first.startProvisioning(booting, '10.0.0.9', clock.now());
  vm('ready');
  const claimed = store.claim({ pool: POOL.name, user: 'alice', platform: 'test', conversation: 'dm-alice', now: clock.now(), leaseMs: POOL.leaseMs, maxLeasesPerUser: 1 });
  if (!claimed.ok) return t.fail('the claim was refused');
  first.personaliseClaims([claimed.lease], clock.now());
  const releasing = vm('releasing');
  t.false(first.mayDeleteServer(releasing), 'the release play runs before the server may go');
  // Personalising starts once the account is known (a promise later).
  await new Promise<void>((resolve) => setImmediate(resolve));
  t.deepEqual([...provisioner.started].sort(), [`claim ${claimed.lease.vm.name}`, `provision ${booting.name}`, `release ${releasing.name}`].sort());

  await first.stop();
  t.deepEqual([...provisioner.cancelled].sort(), [...provisioner.started].sort(), 'every run was cancelled, the release play too');
  t.is(store.getVm(booting.id)!.state, 'provisioning', 'not failed: provisioned again at the next start');
  t.is(store.getVm(releasing.id)!.state, 'releasing');
  t.is(store.getLease(claimed.lease.id)!.homeReadyAt, null);
  t.is(store.activeLeases().length, 1, 'the lease is kept: its home is set up at the next start');
  t.deepEqual(lines.filter((l) => !/"level":"(info|debug)"/.test(l)), [], 'nothing logged as a failure');

  // The next start: the release play runs again before the server may be deleted.
  const next = new EndlessProvisioner();
  const second = runs(next);
  t.false(second.mayDeleteServer(store.getVm(releasing.id)!));
  t.deepEqual(next.started, [`release ${releasing.name}`]);
  await second.stop();
});

/** Personalising answers as told: done, or failed. */
class AnsweringProvisioner extends EndlessProvisioner {
  constructor(private readonly answer: 'done' | Error) {
    super();
  }
  override async personalise(): Promise<Personalisation> {
    if (this.answer instanceof Error) throw this.answer;
    return { homeCreated: true, legacyLinked: false, home: '/home/x' };
  }
}

test('a home made ready and a set-up that failed each tell the lease\'s account once, after their transaction committed', async (t) => {
  const { store, clock, changed, runs, claim } = setup();
  t.teardown(() => store.close());
  const ready = runs(new AnsweringProvisioner('done'));
  const alice = claim('alice');
  ready.personaliseClaims([alice], clock.now());
  await ready.idle();
  t.deepEqual(changed, ['alice']);
  t.not(store.getLease(alice.id)!.homeReadyAt, null);
  // Nothing more to do for her: no second signal.
  ready.personaliseClaims(store.activeLeases({ user: 'alice' }), clock.now());
  await ready.idle();
  t.deepEqual(changed, ['alice']);

  const failing = runs(new AnsweringProvisioner(new Error('the home store is down')));
  const bob = claim('bob');
  failing.personaliseClaims([bob], clock.now());
  await failing.idle();
  t.deepEqual(changed, ['alice', 'bob']);
  t.deepEqual(store.activeLeases({ user: 'bob' }), [], 'his lease ended, with one signal');
});
