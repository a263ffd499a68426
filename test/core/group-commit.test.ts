import test from 'ava';
import { SqliteStore } from '../../src/adapters/sqlite/sqlite-store.ts';
import { GroupCommit } from '../../src/core/group-commit.ts';
import { auditAfter, auditHead } from '../fuzz/oracle.ts';
import { createHarness, TEST_CONFIG, type Harness } from '../helpers/harness.ts';
import { assertConsistent } from '../helpers/invariants.ts';

/** A real store in memory; units write audit records (the simplest table) and read them back. */
function setup(options: { failCommits?: number; maxGroup?: number } = {}) {
  const store = new SqliteStore(':memory:');
  const groups: number[] = [];
  const turns: (() => void)[] = [];
  let failCommits = options.failCommits ?? 0;
  const group = new GroupCommit({
    // The group's own transaction fails on commit `failCommits` times (a locked or full disk).
    transaction: (fn) =>
      store.transaction(() => {
        const result = fn();
        if (failCommits > 0) {
          failCommits--;
          throw new Error('disk I/O error');
        }
        return result;
      }),
    defer: (run) => turns.push(run),
    onGroup: (size) => groups.push(size),
    ...(options.maxGroup ? { maxGroup: options.maxGroup } : {}),
  });
  const write = (actor: string, fail?: string) => () =>
    store.transaction(() => {
      store.audit({ at: 1, actor, action: 'claim', target: 'physics', result: 'ok' });
      if (fail) throw new Error(fail);
      return actor;
    });
  const actors = () => store.auditLog({ limit: 100 }).map((e) => e.actor).sort();
  const nextTurn = () => turns.shift()!();
  return { store, group, groups, turns, write, actors, nextTurn };
}

test('units queued in the same turn run together, on the next turn, in one transaction, in arrival order', async (t) => {
  const s = setup();
  t.teardown(() => s.store.close());
  const order: string[] = [];
  const results = ['a', 'b', 'c'].map((actor) => s.group.run(() => (order.push(actor), s.write(actor)())));
  t.is(s.group.pending, 3);
  t.is(s.turns.length, 1, 'one run scheduled for the whole group');
  t.deepEqual(order, [], 'nothing runs before the next turn');
  s.nextTurn();
  t.deepEqual(await Promise.all(results), ['a', 'b', 'c']);
  t.deepEqual(order, ['a', 'b', 'c']);
  t.deepEqual(s.groups, [3]);
  t.deepEqual(s.actors(), ['a', 'b', 'c']);
  t.is(s.group.pending, 0);
});

test('one failing unit undoes only its own writes: the others of its group are committed', async (t) => {
  const s = setup();
  t.teardown(() => s.store.close());
  const a = s.group.run(s.write('a'));
  const b = s.group.run(s.write('b', 'no VM left'));
  const c = s.group.run(s.write('c'));
  s.nextTurn();
  t.is(await a, 'a');
  await t.throwsAsync(b, { message: 'no VM left' });
  t.is(await c, 'c');
  t.deepEqual(s.groups, [3]);
  t.deepEqual(s.actors(), ['a', 'c'], "b's record was rolled back with it, a's and c's kept");
});

test('a unit queued while its group runs goes into the next group', async (t) => {
  const s = setup();
  t.teardown(() => s.store.close());
  let late: Promise<string> | undefined;
  const first = s.group.run(() => {
    late = s.group.run(s.write('late'));
    return s.write('first')();
  });
  s.nextTurn();
  t.is(await first, 'first');
  t.is(s.turns.length, 1);
  s.nextTurn();
  t.is(await late!, 'late');
  t.deepEqual(s.groups, [1, 1]);
});

test('a large burst is split into transactions of at most maxGroup units', async (t) => {
  const s = setup({ maxGroup: 4 });
  t.teardown(() => s.store.close());
  const all = Array.from({ length: 10 }, (_, i) => s.group.run(s.write(`u${i}`)));
  s.nextTurn();
  t.is((await Promise.all(all)).length, 10);
  t.deepEqual(s.groups, [4, 4, 2]);
  t.is(s.actors().length, 10);
});

test('when the shared commit fails, every unit runs again alone: each applied once, each told its own outcome', async (t) => {
  const s = setup({ failCommits: 1 });
  t.teardown(() => s.store.close());
  const a = s.group.run(s.write('a'));
  const b = s.group.run(s.write('b', 'refused'));
  const c = s.group.run(s.write('c'));
  s.nextTurn();
  t.is(await a, 'a');
  await t.throwsAsync(b, { message: 'refused' });
  t.is(await c, 'c');
  t.deepEqual(s.actors(), ['a', 'c'], 'nothing twice, nothing of the refused unit');
});

test('when the store rolled the whole group back by itself, the group stops and every unit runs alone, none twice', async (t) => {
  const store = new SqliteStore(':memory:');
  t.teardown(() => store.close());
  let open = true;
  const ran: string[] = [];
  const turns: (() => void)[] = [];
  const group = new GroupCommit({ transaction: (fn) => store.transaction(fn), inTransaction: () => open, defer: (run) => turns.push(run) });
  const unit = (actor: string, closes = false) => () =>
    store.transaction(() => {
      ran.push(actor);
      store.audit({ at: 1, actor, action: 'claim', target: 'physics', result: 'ok' });
      if (closes && open) {
        open = false; // as SQLite does on SQLITE_FULL: the transaction is gone
        throw new Error('database or disk is full');
      }
      return actor;
    });
  const results = [group.run(unit('a')), group.run(unit('b', true)), group.run(unit('c'))];
  turns.shift()!();
  t.deepEqual(await Promise.all(results), ['a', 'b', 'c']);
  t.deepEqual(ran, ['a', 'b', 'a', 'b', 'c'], 'c never ran outside a transaction; all ran again alone');
  t.deepEqual(
    store
      .auditLog({ limit: 10 })
      .map((e) => e.actor)
      .sort(),
    ['a', 'b', 'c'],
  );
});

// ---- claims through the service (DaaasService.claimTogether), as chat sends them --------------

/** Counts the store's outermost transactions (those that write to disk) while `fn` runs. */
async function commitsDuring<T>(h: Harness, fn: () => Promise<T>): Promise<{ result: T; commits: number }> {
  const store = h.store;
  const original = store.transaction.bind(store);
  let commits = 0;
  store.transaction = <R>(work: () => R): R => {
    if (!store.inTransaction()) commits++;
    return original(work);
  };
  try {
    return { result: await fn(), commits };
  } finally {
    store.transaction = original;
  }
}

test('claims of the same moment are one commit: first come first served, the per-user limit holds, refusals are audited', async (t) => {
  const h = createHarness();
  t.teardown(() => h.close());
  await h.run(12_000);
  const ready = h.store.listVms({ pool: 'physics', states: ['ready'] }).sort((a, b) => (a.readyAt ?? 0) - (b.readyAt ?? 0) || a.id.localeCompare(b.id));
  t.is(ready.length, 3);
  const from = auditHead(h);
  // alice twice (a double click), bob, an unknown pool, dave where he may not, carol: all at once.
  const { result: replies, commits } = await commitsDuring(h, () =>
    Promise.all([h.say('alice', 'claim physics'), h.say('alice', 'claim physics'), h.say('bob', 'claim physics'), h.say('carol', 'claim physycs'), h.say('dave', 'claim physics'), h.say('carol', 'claim physics')]),
  );
  t.is(commits, 1, 'one transaction for the six claims');
  t.deepEqual(
    replies.map((r) => r.tone),
    ['success', 'error', 'success', 'error', 'error', 'success'],
  );
  t.regex(replies[1]!.title, /You already hold .* from physics; the pool allows 1 per person/);
  t.regex(replies[3]!.title, /There is no pool called "physycs"/);
  t.regex(replies[4]!.title, /Pool physics is for members of/);
  // In arrival order: the oldest ready VM to the first claimer.
  const leases = h.store.activeLeases({ pool: 'physics' });
  t.deepEqual(
    ['alice', 'bob', 'carol'].map((u) => leases.find((l) => l.user === u)?.vmId),
    ready.map((vm) => vm.id),
  );
  t.deepEqual(
    auditAfter(h, from).map((e) => `${e.actor} ${e.action} ${e.result}`),
    ['alice claim ok', 'alice claim LEASE_LIMIT', 'bob claim ok', 'carol claim UNKNOWN_POOL', 'dave claim NOT_ALLOWED', 'carol claim ok'],
  );
});

test('one claim of a group failing after it wrote undoes only its own writes: the others keep their VMs', async (t) => {
  const h = createHarness();
  t.teardown(() => h.close());
  await h.run(12_000);
  // Something told of bob's new lease fails while his claim is being committed.
  h.app.onLeaseChange((account) => {
    if (account === 'bob') throw new Error('listener failed');
  });
  const from = auditHead(h);
  const replies = await Promise.all(['alice', 'bob', 'carol'].map((u) => h.say(u, 'claim physics')));
  t.deepEqual(
    replies.map((r) => r.tone),
    ['success', 'error', 'success'],
  );
  t.deepEqual(
    h.store
      .activeLeases({ pool: 'physics' })
      .map((l) => l.user)
      .sort(),
    ['alice', 'carol'],
  );
  t.is(h.store.listVms({ pool: 'physics', states: ['ready'] }).length, 1, "bob's VM is ready again, not half-claimed");
  t.deepEqual(
    auditAfter(h, from).map((e) => `${e.actor} ${e.result}`),
    ['alice ok', 'bob INTERNAL', 'carol ok'],
  );
  // Nothing left half-done: every VM and lease agrees with the cloud and with each other.
  await assertConsistent(t, h);
});

test('more claimers than ready VMs in one moment: exactly as many win as were ready, no VM twice', async (t) => {
  const h = createHarness({ config: TEST_CONFIG.replace('physics: [alice, bob, carol]', "physics: ['*']") });
  t.teardown(() => h.close());
  await h.run(12_000);
  const replies = await Promise.all(Array.from({ length: 12 }, (_, i) => h.say(`user${i}`, 'claim physics')));
  const won = replies.map((r, i) => (r.tone === 'success' ? i : -1)).filter((i) => i >= 0);
  t.deepEqual(won, [0, 1, 2], 'the first three to arrive');
  const leases = h.store.activeLeases({ pool: 'physics' });
  t.is(new Set(leases.map((l) => l.vmId)).size, 3);
  for (const lost of replies.slice(3)) t.regex(lost.title, /No VM is ready in physics right now/);
});
