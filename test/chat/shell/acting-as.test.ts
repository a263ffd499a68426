import test from 'ava';
import { PassThrough } from 'node:stream';
import { actions, reply, text } from '../../../src/chat/reply.ts';
import { asCommands, parseActAs } from '../../../src/chat/shell/acting-as.ts';
import { SHELL_PLATFORM, ShellAdapter } from '../../../src/chat/shell/shell-adapter.ts';
import { createHarness, type Harness } from '../../helpers/harness.ts';

test('"as <user> <command>" is read; other lines are not', (t) => {
  t.deepEqual(parseActAs('as bob claim physics'), { as: 'bob', text: 'claim physics' });
  t.deepEqual(parseActAs('/daaas as  bob   status'), { as: 'bob', text: 'status' });
  t.deepEqual(parseActAs('AS jane.doe release --yes'), { as: 'jane.doe', text: 'release --yes' });
  t.is(parseActAs('claim physics'), undefined);
  t.is(parseActAs('assist'), undefined);
});

test('a malformed "as" is refused with its usage, before anything runs', (t) => {
  for (const line of ['as', 'as bob', '  as   ']) {
    const parsed = parseActAs(line);
    t.truthy(parsed && 'refused' in parsed, line);
    if (parsed && 'refused' in parsed) {
      t.is(parsed.refused.title, '"as" needs someone to act as and a command to run as them.');
      t.deepEqual(parsed.refused.blocks, [text('Usage: as <user> <command>, e.g. as bob claim excitations')]);
    }
  }
  const odd = parseActAs('as Bob! claim physics');
  t.regex(odd && 'refused' in odd ? odd.refused.title : '', /^Cannot act as someone of that name: "Bob!" is not an account name/);
  const twice = parseActAs('as bob as carol status');
  t.is(twice && 'refused' in twice ? twice.refused.title : '', 'One "as" at a time: act as one person per line.');
});

test('the buttons of someone else’s reply become the commands to type as them', (t) => {
  const card = reply('success', 'x', text('t'), actions({ label: 'Extend +1d', command: 'extend physics-ab12' }, { label: 'Release', command: 'release physics-ab12' }));
  t.deepEqual(asCommands(card, 'bob').blocks[1], actions({ label: 'Extend +1d', command: 'as bob extend physics-ab12' }, { label: 'Release', command: 'as bob release physics-ab12' }));
  t.deepEqual(card.blocks[1], actions({ label: 'Extend +1d', command: 'extend physics-ab12' }, { label: 'Release', command: 'release physics-ab12' }), 'the original is untouched');
});

/** A terminal on the bot of `h`, as `account`; its output so far, and a way to end it. */
function terminal(h: Harness, account: string) {
  const input = new PassThrough();
  const output = new PassThrough();
  let written = '';
  output.on('data', (chunk: Buffer) => (written += chunk.toString('utf8')));
  const adapter = new ShellAdapter({
    input,
    output,
    account,
    interactive: false,
    clock: h.clock,
    timeZone: 'UTC',
    dispatch: h.app.dispatch,
    isAdmin: async (who) => (await h.app.principalOf(who, SHELL_PLATFORM)).isAdmin,
  });
  h.app.notifier.register(SHELL_PLATFORM, adapter);
  h.app.notifier.watch((to, message) => adapter.mirror(to, message));
  const running = adapter.run();
  return { input, adapter, running, output: () => written };
}

test('the terminal’s admin acts as bob: the claim is bob’s, audited as the admin acting as bob, and bob’s messages show here with commands to type', async (t) => {
  const h = createHarness();
  t.teardown(() => h.close());
  await h.run(15_000);
  const term = terminal(h, 'root');
  term.input.write('as bob claim physics\n');
  while (!term.output().includes('is yours')) await new Promise<void>((resolve) => setImmediate(resolve));
  const lease = h.store.activeLeases({ user: 'bob' })[0]!;
  t.truthy(lease, 'bob holds the VM');
  t.is(lease.platform, SHELL_PLATFORM);
  t.deepEqual(h.store.activeLeases({ user: 'root' }), [], 'not the admin');
  t.true(term.output().includes(`root> as bob claim physics\n✔ ${lease.vm.name} is yours for 2d\n`), term.output());
  t.true(term.output().includes(`[Extend +1d: as bob extend ${lease.vm.name}]`), 'the card’s buttons as commands to type');
  const acted = h.store.auditLog().filter((e) => e.action === 'as');
  t.deepEqual(acted.map(({ at: _, ...e }) => e), [{ actor: 'root', action: 'as', target: 'bob', result: 'ok', detail: { command: 'claim physics', answer: `${lease.vm.name} is yours for 2d` } }]);
  t.true(h.store.auditLog().some((e) => e.actor === 'bob' && e.action === 'claim' && e.result === 'ok'), 'the claim itself is bob’s');

  // The message that bob's home is ready comes to the terminal, addressed to bob.
  await h.tick();
  await h.app.reconciler.idle();
  await h.tick();
  t.regex(term.output(), new RegExp(`\\[direct message to bob\\]\\n✔ ${lease.vm.name} is ready for you\\n[\\s\\S]*\\[Extend \\+1d: as bob extend ${lease.vm.name}\\]`));

  // A message to bob on another platform (his claim from chat) is shown here too; carol's is not.
  await h.claim('carol', 'physics');
  await h.claim('bob', 'physics').catch(() => undefined);
  const before = term.output();
  await h.app.notifier.notify({ platform: 'test', user: 'bob', conversation: 'dm-bob' }, reply('info', 'hello bob', actions({ label: 'Status', command: 'status' })));
  await h.app.notifier.notify({ platform: 'test', user: 'carol', conversation: 'dm-carol' }, reply('info', 'hello carol'));
  const after = term.output().slice(before.length);
  t.true(after.includes('[direct message to bob]\n• hello bob\n  [Status: as bob status]'), after);
  t.false(after.includes('hello carol'));
  t.is(h.dms.titles('bob').at(-1), 'hello bob', 'still delivered where bob is');
  term.input.end();
  await term.running;
});

test('a user who is not an admin cannot act as someone else: refused, audited, nothing run, nothing shown of bob', async (t) => {
  const h = createHarness();
  t.teardown(() => h.close());
  await h.run(15_000);
  const term = terminal(h, 'alice');
  term.input.end('as bob claim physics\n');
  await term.running;
  t.true(term.output().includes('alice> as bob claim physics\n✖ Only an admin of the bot may act as someone else, so "claim physics" was not run as bob.\n  Run it as yourself, without "as".'), term.output());
  t.deepEqual(h.store.activeLeases(), []);
  t.like(h.store.auditLog().find((e) => e.action === 'as'), { actor: 'alice', target: 'bob', result: 'ADMIN_ONLY' });
  term.adapter.mirror({ platform: 'test', user: 'bob', conversation: 'dm-bob' }, reply('info', 'for bob only'));
  t.false(term.output().includes('for bob only'));
});

test('acting as someone is for the terminal only: refused from another platform, and "as" is no command on Slack or Teams', async (t) => {
  const h = createHarness();
  t.teardown(() => h.close());
  await h.run(15_000);
  const remote = await h.app.dispatch({ platform: 'slack', account: 'bob', actingAdmin: 'root', conversation: 'D1', text: 'claim physics' });
  t.is(remote.title, 'Acting as someone else is possible only at the bot’s own terminal.');
  t.deepEqual(h.store.activeLeases(), []);
  const typed = await h.say('root', 'as bob claim physics');
  t.is(typed.title, 'There is no command "as".');
  t.deepEqual(h.store.activeLeases(), []);
});

test('a malformed "as" at the terminal is answered with its usage and runs nothing', async (t) => {
  const h = createHarness();
  t.teardown(() => h.close());
  const term = terminal(h, 'root');
  term.input.end('as bob\nas Bob! status\n');
  await term.running;
  t.true(term.output().includes('root> as bob\n✖ "as" needs someone to act as and a command to run as them.\n  Usage: as <user> <command>, e.g. as bob claim excitations'), term.output());
  t.regex(term.output(), /root> as Bob! status\n✖ Cannot act as someone of that name/);
  t.deepEqual(h.store.auditLog().filter((e) => e.action === 'as'), []);
});
