import test from 'ava';
import { ManualClock } from '../../src/adapters/manual-clock.ts';
import { usage, type CommandSpec } from '../../src/chat/command-spec.ts';
import { COMMANDS } from '../../commands/index.ts';
import { Dispatcher } from '../../src/chat/dispatcher.ts';
import { reply, text } from '../../src/chat/reply.ts';
import { UserError } from '../../src/core/errors.ts';
import type { Principal } from '../../src/core/model.ts';
import type { Logger } from '../../src/ports/logger.ts';
import { createHarness } from '../helpers/harness.ts';
import { auditSince, filledHarness, snapshot, texts, words } from '../helpers/replies.ts';

test('an unknown command is refused, with "did you mean" for a typo', async (t) => {
  const h = await filledHarness(t);
  const r = await h.say('alice', 'clam physics');
  t.is(r.tone, 'error');
  t.is(r.title, 'There is no command "clam". Did you mean claim?');
  t.is(texts(r), 'See every command with: help');
  const typo = await h.say('alice', 'relase');
  t.is(typo.title, 'There is no command "relase". Did you mean release?');
});

test('an unknown command far from any gets no suggestion', async (t) => {
  const h = await filledHarness(t);
  const r = await h.say('alice', 'xyzzy physics');
  t.is(r.tone, 'error');
  t.is(r.title, 'There is no command "xyzzy".');
  t.false(words(r).includes('Did you mean'));
});

test('command names are matched case-insensitively, with or without the prefix', async (t) => {
  const h = await filledHarness(t);
  t.is((await h.say('alice', '/DAAAS STATUS')).title, 'You have no VM at the moment.');
  t.is((await h.say('alice', 'daaas Status')).title, 'You have no VM at the moment.');
  t.is((await h.say('root', 'ADMIN Pools')).title, 'Pools (admin)');
});

for (const input of ['admin', 'admin foo', 'admin pools-x']) {
  test(`"${input}" lists the admin subcommands to admins only`, async (t) => {
    const h = await filledHarness(t);
    const r = await h.say('root', input);
    t.is(r.tone, 'error');
    t.is(r.title, `"${input}" is not a command.`);
    t.is(texts(r), `Try one of: ${COMMANDS.filter((c) => c.permission === 'admin').map((c) => usage(c)).join(' · ')}`);
    const alice = await h.say('alice', input);
    t.is(alice.tone, 'error');
    t.is(alice.title, 'There is no command "admin".');
    t.false(JSON.stringify(alice).includes('admin pools'));
  });
}

for (const input of ['', '   ', '/daaas', 'daaas']) {
  test(`empty text ${JSON.stringify(input)} shows help`, async (t) => {
    const h = await filledHarness(t);
    const r = await h.say('alice', input);
    t.is(r.tone, 'info');
    t.is(r.title, 'DAaaS: analysis VMs on demand');
    t.truthy(r.blocks.find((b) => b.type === 'table'));
  });
}

test('too many words give the usage line and name the extra words', async (t) => {
  const h = await filledHarness(t);
  const claim = await h.say('alice', 'claim physics imaging now');
  t.is(claim.tone, 'error');
  t.is(claim.title, 'Too many words for claim: "imaging now".');
  t.is(texts(claim), 'Usage: claim <pool>');
  const status = await h.say('alice', 'status please');
  t.is(status.title, 'Too many words for status: "please".');
  t.is(texts(status), 'Usage: status');
  const release = await h.say('alice', 'release a b --yes');
  t.is(release.title, 'Too many words for release: "b".');
  t.is(texts(release), 'Usage: release [vm] [--yes]');
});

test('a missing required argument gives the usage line and an example', async (t) => {
  const h = await filledHarness(t);
  const r = await h.say('alice', 'claim');
  t.is(r.tone, 'error');
  t.is(r.title, 'claim needs the pool to claim from.');
  t.is(texts(r), 'Usage: claim <pool>  — e.g. claim excitations');
});

test('an unknown flag is refused with the usage line', async (t) => {
  const h = await filledHarness(t);
  const r = await h.say('alice', 'release --force');
  t.is(r.tone, 'error');
  t.is(r.title, 'release has no option --force.');
  t.is(texts(r), 'Usage: release [vm] [--yes]');
  // A flag valid for one command is unknown to another.
  const claim = await h.say('alice', 'claim physics --yes');
  t.is(claim.title, 'claim has no option --yes.');
  t.is(texts(claim), 'Usage: claim <pool>');
  t.is(h.store.activeLeases().length, 0, 'the claim must not have run');
});

test('an admin command is refused to a non-admin, whatever its arguments', async (t) => {
  const h = await filledHarness(t);
  for (const input of ['admin pools', 'ADMIN POOLS', 'admin pools extra']) {
    const r = await h.say('alice', input);
    t.is(r.tone, 'error', input);
    t.is(r.title, '"admin pools" is for admins of the bot.', input);
    t.is(texts(r), 'See what you can do with: help');
  }
  t.is((await h.say('root', 'admin pools')).title, 'Pools (admin)');
});

test('a parse error reaches the user as an error reply', async (t) => {
  const h = await filledHarness(t);
  const r = await h.say('alice', 'claim $(id)');
  t.is(r.tone, 'error');
  t.regex(r.title, /"\$\(id\)" is not something the bot understands/);
  t.is(texts(r), 'See: help');
  const control = await h.say('alice', 'claim physics\u202e');
  t.is(control.tone, 'error');
  t.regex(control.title, /control or invisible characters/);
  t.is(control.blocks.length, 0);
});

test('nothing changes on any rejected input', async (t) => {
  const h = await filledHarness(t);
  t.is((await h.say('alice', 'claim physics')).tone, 'success');
  t.is((await h.say('root', 'claim imaging')).tone, 'success');
  await h.run(15_000);
  const alicesVm = h.store.activeLeases({ user: 'alice' })[0]!.vm.name;
  const before = snapshot(h);
  const rejected = [
    'clam physics',
    'admin',
    'admin foo',
    'admin pools',
    'claim',
    'claim physics imaging',
    'claim physics --yes',
    'claim $(id)',
    'claim x;rm -rf /',
    "claim {{ lookup('pipe','id') }}",
    'claim ../../etc/passwd',
    'claim "physics"',
    'claim `id`',
    `claim physics${'\u0000'}`,
    'claim\u200bphysics',
    `claim ${'x'.repeat(600)}`,
    'release --force',
    `release ${alicesVm} --yes --force`,
    `release ${alicesVm} extra --yes`,
    `release ${alicesVm} --yes;id`,
    `release ${alicesVm}\u001b --yes`,
    'release -y',
    `extend ${alicesVm} extra`,
    'extend --yes',
    'status --all',
    'pools now',
    'help release extra words',
  ];
  for (const input of rejected) {
    const r = await h.say('alice', input);
    t.is(r.tone, 'error', `${input} → ${JSON.stringify(r)}`);
  }
  t.is((await h.say('root', 'admin pools --all')).tone, 'error');
  t.is((await h.say('root', 'admin foo')).tone, 'error');
  t.is((await h.say('root', `release ${alicesVm} --yes --force`)).tone, 'error');
  const after = snapshot(h);
  t.deepEqual({ ...after, audit: before.audit }, before, 'no VM or lease changed');
  t.deepEqual(
    auditSince(h, before.audit).map((e) => [e.actor, e.action, e.result]),
    [['alice', 'admin pools', 'ADMIN_ONLY'], ['root', 'admin pools', 'BAD_INPUT']],
    'only the attempts at admin commands are audited; nothing else reached a use case',
  );
});

function recordingLogger(): { log: Logger; errors: { fields: object; message?: string }[] } {
  const errors: { fields: object; message?: string }[] = [];
  const make = (bindings: object): Logger => ({
    debug() {},
    info() {},
    warn() {},
    error(fields, message) {
      errors.push({ fields: { ...bindings, ...fields }, message });
    },
    child(more) {
      return make({ ...bindings, ...more });
    },
  });
  return { log: make({}), errors };
}

function tinyDispatcher() {
  const h = createHarness();
  const calls: string[] = [];
  const boom: CommandSpec = {
    name: 'boom',
    summary: 'Throws.',
    args: [],
    examples: ['boom'],
    permission: 'user',
    handler() {
      calls.push('boom');
      throw new Error('database password is hunter2 at /srv/secret');
    },
  };
  const asyncBoom: CommandSpec = {
    ...boom,
    name: 'later boom',
    async handler() {
      calls.push('later boom');
      await Promise.resolve();
      throw new TypeError('cannot read properties of undefined (reading "vm")');
    },
  };
  const refuse: CommandSpec = {
    ...boom,
    name: 'refuse',
    handler() {
      throw new UserError('NOT_ALLOWED', 'No, you may not.', 'Ask someone.');
    },
  };
  const helpSpec: CommandSpec = {
    name: 'help',
    summary: 'Help.',
    args: [],
    examples: ['help'],
    permission: 'user',
    handler: () => {
      calls.push('help');
      return reply('info', 'tiny help', text('boom, refuse'));
    },
  };
  const { log, errors } = recordingLogger();
  const dispatcher = new Dispatcher({
    commands: [boom, asyncBoom, refuse, helpSpec],
    service: h.app.service,
    clock: new ManualClock(),
    log,
    principal: (inv): Principal => ({ account: inv.account, isAdmin: false, groups: [] }),
  });
  return { h, dispatcher, calls, errors };
}

const inv = (textIn: string, requestId?: string) => ({ platform: 'test', account: 'alice', conversation: 'c', text: textIn, ...(requestId ? { requestId } : {}) });

test('an internal error gives an apology with the request id and does not leak the error', async (t) => {
  const { h, dispatcher, calls, errors } = tinyDispatcher();
  t.teardown(() => h.close());
  const r = await dispatcher.dispatch(inv('boom', 'ref-4711'));
  t.deepEqual(calls, ['boom']);
  t.is(r.tone, 'error');
  t.is(r.title, 'Sorry, something went wrong on our side.');
  t.true(texts(r).includes('ref-4711'), texts(r));
  const all = JSON.stringify(r);
  for (const secret of ['hunter2', '/srv/secret', 'database password', 'Error']) t.false(all.includes(secret), `reply leaks ${secret}`);
  // The whole error goes to the log instead, with the same reference.
  t.is(errors.length, 1);
  const logged = errors[0]!.fields as { requestId?: string; err?: unknown };
  t.is(logged.requestId, 'ref-4711');
  t.true(logged.err instanceof Error && logged.err.message.includes('hunter2'));
});

test('an asynchronous internal error is caught the same way, with a generated reference id', async (t) => {
  const { h, dispatcher, calls, errors } = tinyDispatcher();
  t.teardown(() => h.close());
  const r = await dispatcher.dispatch(inv('later boom'));
  t.deepEqual(calls, ['later boom']);
  t.is(r.title, 'Sorry, something went wrong on our side.');
  const match = /quote reference (\S+)\.$/.exec(texts(r));
  t.truthy(match, texts(r));
  t.regex(match?.[1] ?? '', /^[0-9a-f]{8}$/);
  t.false(JSON.stringify(r).includes('cannot read properties'));
  t.is((errors[0]?.fields as { requestId?: string }).requestId, match?.[1]);
  // Every request gets its own reference.
  const again = await dispatcher.dispatch(inv('later boom'));
  t.not(/quote reference (\S+)\.$/.exec(texts(again))?.[1], match?.[1]);
});

test('a user error from a command is shown as is, with its hint, and is not logged as a failure', async (t) => {
  const { h, dispatcher, errors } = tinyDispatcher();
  t.teardown(() => h.close());
  const r = await dispatcher.dispatch(inv('refuse'));
  t.deepEqual(r, { tone: 'error', title: 'No, you may not.', blocks: [{ type: 'text', text: 'Ask someone.' }] });
  t.is(errors.length, 0);
});

test('the tiny dispatcher falls back to its own help on empty text and suggests its own commands', async (t) => {
  const { h, dispatcher, calls } = tinyDispatcher();
  t.teardown(() => h.close());
  t.is((await dispatcher.dispatch(inv(''))).title, 'tiny help');
  t.deepEqual(calls, ['help']);
  t.is((await dispatcher.dispatch(inv('bom'))).title, 'There is no command "bom". Did you mean boom?');
  t.is((await dispatcher.dispatch(inv('later'))).title, '"later" is not a command.');
  t.deepEqual(calls, ['help'], 'no handler ran for the refused inputs');
});

test('a swapped pair of letters is a typo too: hlep suggests help', async (t) => {
  const h = await filledHarness(t);
  t.is((await h.say('alice', 'hlep')).title, 'There is no command "hlep". Did you mean help?');
  t.is((await h.say('alice', 'cliam physics')).title, 'There is no command "cliam". Did you mean claim?');
});

for (const flag of ['--help', '-h', '-H', '--HELP']) {
  test(`"claim ${flag}" and "admin pools ${flag}" answer that command's help`, async (t) => {
    const h = await filledHarness(t);
    const claim = await h.say('alice', `claim physics ${flag}`);
    t.is(claim.tone, 'info');
    t.is(claim.title, 'claim <pool>');
    t.is(h.store.activeLeases({ user: 'alice' }).length, 0, 'nothing was claimed');
    t.regex((await h.say('root', `admin pools ${flag}`)).title, /^admin pools( |$)/);
    // To a non-admin an admin command's help does not exist, as the command does not.
    t.is((await h.say('alice', `admin pools ${flag}`)).tone, 'error');
    t.is((await h.say('alice', flag)).title, 'DAaaS: analysis VMs on demand');
  });
}

test('a name in quotes is refused saying to drop them, not echoed in a second pair of quotes', async (t) => {
  const h = await filledHarness(t);
  for (const typed of ['"excitations"', '“excitations”', "'excitations'"]) {
    const r = await h.say('alice', `claim ${typed}`);
    t.is(r.tone, 'error');
    t.is(r.title, `Names need no quotes: write excitations rather than ${typed}.`);
  }
  const odd = await h.say('alice', 'claim "a b"');
  t.false(odd.title.includes('""'), odd.title);
  t.regex(odd.title, /^"a is not something the bot understands/);
});
