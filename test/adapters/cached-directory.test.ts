import test from 'ava';
import { CachedDirectory } from '../../src/adapters/cached-directory.ts';
import { ManualClock } from '../../src/adapters/manual-clock.ts';
import { DirectoryUnavailableError, type AccountLookup, type Directory } from '../../src/ports/directory.ts';
import { recordingLogger } from '../helpers/recording-logger.ts';

const MIN = 60_000;

/** A directory that counts questions and can be taken down. */
class FakeDirectory implements Directory {
  calls = 0;
  down: Error | null = null;
  groups = ['excitations-users'];
  gate: Promise<void> | null = null;

  async lookUp(account: string): Promise<AccountLookup> {
    this.calls++;
    await this.gate;
    if (this.down) throw this.down;
    return account === 'mallory'
      ? { exists: false, account }
      : { exists: true, account, dn: `uid=${account}`, disabled: false, disabledReason: null, uidNumber: 5001, gidNumber: 5001, displayName: null, mail: null, homeDirectory: null, groups: [...this.groups], groupsComplete: true };
  }

  async isMemberOf(account: string, group: string): Promise<boolean> {
    const found = await this.lookUp(account);
    return found.exists && found.groups.includes(group);
  }
}

function setup() {
  const clock = new ManualClock();
  const inner = new FakeDirectory();
  const { log, text } = recordingLogger();
  const cached = new CachedDirectory(inner, { clock, ttlMs: 5 * MIN, staleForMs: 60 * MIN, log });
  return { clock, inner, cached, text };
}

test('answers are remembered for ttl, then asked again; so are refusals', async (t) => {
  const { clock, inner, cached } = setup();
  await cached.lookUp('alice');
  await cached.lookUp('alice');
  t.is(inner.calls, 1);
  t.deepEqual(await cached.lookUp('mallory'), { exists: false, account: 'mallory' });
  await cached.lookUp('mallory');
  t.is(inner.calls, 2);
  await clock.advance(5 * MIN);
  inner.groups = [];
  const fresh = await cached.lookUp('alice');
  t.is(inner.calls, 3);
  t.deepEqual(fresh.exists && fresh.groups, [], 'a change in the directory shows after ttl');
  t.true(await cached.isMemberOf('alice', 'x') === false);
});

test('one question at a time per account: concurrent look-ups share one answer', async (t) => {
  const { inner, cached } = setup();
  let open!: () => void;
  inner.gate = new Promise((resolve) => (open = resolve));
  const all = Array.from({ length: 50 }, () => cached.lookUp('alice'));
  open();
  await Promise.all(all);
  t.is(inner.calls, 1);
});

test('while the directory is down: answers younger than staleFor are used and logged; older ones and none at all are refused', async (t) => {
  const { clock, inner, cached, text } = setup();
  await cached.lookUp('alice');
  inner.down = new DirectoryUnavailableError('connect ECONNREFUSED 127.0.0.1:389');
  await clock.advance(30 * MIN);
  t.like(await cached.lookUp('alice'), { exists: true, groups: ['excitations-users'] });
  t.is(cached.staleAnswers, 1);
  t.regex(text(), /"level":"warn".*"account":"alice".*"ageMs":1800000.*using an answer remembered from before/);
  await t.throwsAsync(cached.lookUp('bob'), { instanceOf: DirectoryUnavailableError, message: /ECONNREFUSED/ });
  await clock.advance(30 * MIN);
  await t.throwsAsync(cached.lookUp('alice'), { instanceOf: DirectoryUnavailableError });
  t.regex(text(), /no recent answer is remembered/);
  inner.down = null;
  t.like(await cached.lookUp('alice'), { exists: true });
});

test('any failure is an unavailable directory, never an answer', async (t) => {
  const { inner, cached } = setup();
  inner.down = new TypeError('cannot read properties of undefined');
  const error = await t.throwsAsync(cached.isMemberOf('alice', 'excitations-users'), { instanceOf: DirectoryUnavailableError });
  t.regex(error!.message, /cannot read properties/);
});
