import test from 'ava';
import { COMMANDS } from '../../commands/index.ts';
import { usage } from '../../src/chat/command-spec.ts';
import { filledHarness, tableOf, tableRows, texts } from '../helpers/replies.ts';

const USER_COMMANDS = COMMANDS.filter((c) => c.permission === 'user');

test('help lists every user command with its usage, summary and an example', async (t) => {
  const h = await filledHarness(t);
  const r = await h.say('alice', 'help');
  t.is(r.tone, 'info');
  t.is(r.title, 'DAaaS: analysis VMs on demand');
  t.deepEqual(tableOf(r)?.columns, ['command', 'what it does', 'example']);
  const rows = tableRows(r);
  t.deepEqual(
    rows.map((row) => row.command),
    ['claim <pool>', 'leave [pool]', 'status', 'extend [vm]', 'release [vm] [--yes]', 'keep [vm]', 'pools', 'help [command] [subcommand]'],
  );
  t.deepEqual(rows, USER_COMMANDS.map((c) => ({ command: usage(c), 'what it does': c.summary, example: `/daaas ${c.examples[0]}` })));
  for (const row of rows) t.regex(String(row.example), /^\/daaas \w+/);
  t.true(texts(r).includes('Type a command, with or without /daaas in front.'));
  t.true(texts(r).includes('More on one command: help <command>'));
});

test('help hides admin commands from non-admins and shows them to admins', async (t) => {
  const h = await filledHarness(t);
  const forAlice = await h.say('alice', 'help');
  t.false(JSON.stringify(forAlice).includes('admin'), 'no admin command in the user help');
  const forRoot = tableRows(await h.say('root', 'help')).map((row) => row.command);
  t.deepEqual(forRoot, COMMANDS.map((c) => usage(c)));
  t.true(forRoot.includes('admin pools [--yes]'));
});

test('help release shows usage, summary, arguments and flags (aligned) and examples', async (t) => {
  const h = await filledHarness(t);
  const r = await h.say('alice', 'help release');
  t.is(r.tone, 'info');
  t.is(r.title, 'release [vm] [--yes]');
  t.deepEqual(
    r.blocks.map((b) => (b.type === 'text' ? b.text : b.type)),
    [
      'Give your VM back: it is destroyed and the pool refilled. Asks to confirm unless --yes.',
      '  [vm]   The VM to release (needed only if you have more than one).\n  --yes  Release without asking to confirm.',
      'Examples:\n  /daaas release\n  /daaas release excitations-k3f9 --yes',
    ],
  );
});

test('help for a command shows required arguments in angle brackets, and no argument section when there are none', async (t) => {
  const h = await filledHarness(t);
  const claim = await h.say('alice', 'help claim');
  t.is(claim.title, 'claim <pool>');
  t.true(texts(claim).includes('  <pool>  The pool to claim from.'));
  const pools = await h.say('alice', 'help POOLS');
  t.is(pools.title, 'pools');
  t.deepEqual(pools.blocks.map((b) => (b.type === 'text' ? b.text.split('\n')[0] : b.type)), [USER_COMMANDS.find((c) => c.name === 'pools')!.summary, 'Examples:']);
});

test('help for an unknown command is refused', async (t) => {
  const h = await filledHarness(t);
  const r = await h.say('alice', 'help nothing');
  t.is(r.tone, 'error');
  t.is(r.title, 'There is no command "nothing" to explain.');
  t.is(texts(r), 'See every command with: help');
});

test('help for an admin command is refused to non-admins and given to admins', async (t) => {
  const h = await filledHarness(t);
  const alice = await h.say('alice', 'help admin pools');
  t.is(alice.tone, 'error');
  t.is(alice.title, 'There is no command "admin pools" to explain.');
  const root = await h.say('root', 'help admin pools');
  t.is(root.tone, 'info');
  t.is(root.title, 'admin pools [--yes]');
  t.true(texts(root).includes('/daaas admin pools'));
});

test('every command has at least one example, and examples parse as that command', async (t) => {
  for (const c of COMMANDS) {
    t.true(c.examples.length > 0, c.name);
    for (const e of c.examples) t.true(e === c.name || e.startsWith(`${c.name} `), `${c.name}: ${e}`);
  }
});

test('help admin lists the admin commands to admins, and is no command to anyone else', async (t) => {
  const h = await filledHarness(t);
  const root = await h.say('root', 'help admin');
  t.is(root.tone, 'info');
  t.is(root.title, 'Admin commands');
  const admin = COMMANDS.filter((c) => c.permission === 'admin');
  t.deepEqual(tableRows(root).map((row) => row.command), admin.map((c) => usage(c)));
  t.true(texts(root).includes('More on one command: help admin <command>'));
  const alice = await h.say('alice', 'help admin');
  t.is(alice.tone, 'error');
  t.is(alice.title, 'There is no command "admin" to explain.');
  t.false(JSON.stringify(alice).includes('admin pools'));
  t.false(JSON.stringify(await h.say('alice', 'help')).includes('admin'));
});
