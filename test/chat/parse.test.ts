import test from 'ava';
import { MAX_INPUT_LENGTH, parseInput } from '../../src/chat/parse.ts';
import { UserError } from '../../src/core/errors.ts';
import { createHarness } from '../helpers/harness.ts';

const parsed = (raw: string) => {
  const { words, flags } = parseInput(raw);
  return { words, flags: [...flags].sort() };
};

/** parseInput must refuse `raw` with BAD_INPUT; returns the error for further checks. */
function refused(t: import('ava').ExecutionContext, raw: string): UserError {
  const error = t.throws(() => parseInput(raw), { instanceOf: UserError }, `accepted ${JSON.stringify(raw)}`);
  t.is(error?.code, 'BAD_INPUT', JSON.stringify(raw));
  return error ?? new UserError('BAD_INPUT', '');
}

test('plain words, without any prefix', (t) => {
  t.deepEqual(parsed('claim physics'), { words: ['claim', 'physics'], flags: [] });
  t.deepEqual(parsed('status'), { words: ['status'], flags: [] });
});

test('the /daaas prefix is optional, with or without slash, in any case', (t) => {
  for (const raw of ['/daaas claim physics', 'daaas claim physics', '/DAAAS claim physics', 'DaAaS claim physics', '  /daaas    claim physics']) {
    t.deepEqual(parsed(raw), { words: ['claim', 'physics'], flags: [] }, raw);
  }
});

test('the prefix alone, empty and blank input give no words', (t) => {
  for (const raw of ['/daaas', 'daaas', '', '   ', '\t', '/daaas   ']) {
    t.deepEqual(parsed(raw), { words: [], flags: [] }, JSON.stringify(raw));
  }
});

test('the prefix is stripped once, only at the start, and only as a whole word', (t) => {
  t.deepEqual(parsed('claim daaas'), { words: ['claim', 'daaas'], flags: [] });
  t.deepEqual(parsed('daaasclaim physics'), { words: ['daaasclaim', 'physics'], flags: [] });
  // A second prefix is a token like any other: the slash makes it unparseable.
  refused(t, '/daaas /daaas claim');
  refused(t, '/claim physics');
});

test('words keep their case; the dispatcher and service compare case-insensitively', (t) => {
  t.deepEqual(parsed('Claim PHYSICS'), { words: ['Claim', 'PHYSICS'], flags: [] });
});

test('--flags are collected apart from words, lower-cased, in any position', (t) => {
  t.deepEqual(parsed('release physics-k3f9 --yes'), { words: ['release', 'physics-k3f9'], flags: ['yes'] });
  t.deepEqual(parsed('release --YES physics-k3f9'), { words: ['release', 'physics-k3f9'], flags: ['yes'] });
  t.deepEqual(parsed('/daaas --yes release'), { words: ['release'], flags: ['yes'] });
  t.deepEqual(parsed('release --yes --yes --force'), { words: ['release'], flags: ['force', 'yes'] });
});

test('single-dash options, bare dashes and flags with values are refused', (t) => {
  for (const raw of ['release -y', 'release --', 'release -', 'release --yes=1', 'release --"yes"', 'release -rf']) refused(t, raw);
});

test('spaces, tabs, newlines and no-break spaces all separate words', (t) => {
  for (const raw of ['claim   physics', 'claim\tphysics', '\tclaim \t physics\t', 'claim\nphysics', 'claim\u00a0physics', ' \u00a0claim physics\n']) {
    t.deepEqual(parsed(raw), { words: ['claim', 'physics'], flags: [] }, JSON.stringify(raw));
  }
});

test('names may use letters, digits, dots, dashes, underscores, colons and @', (t) => {
  t.deepEqual(parsed('release physics-k3f9.v2_a:b@c'), { words: ['release', 'physics-k3f9.v2_a:b@c'], flags: [] });
});

test('unicode letters and digits are allowed in words', (t) => {
  t.deepEqual(parsed('claim ünïcode'), { words: ['claim', 'ünïcode'], flags: [] });
  t.deepEqual(parsed('claim 物理'), { words: ['claim', '物理'], flags: [] });
});

test('a word may not start with a dash', (t) => {
  refused(t, 'claim -physics');
});

test('words are at most 64 characters', (t) => {
  t.deepEqual(parsed(`claim ${'a'.repeat(64)}`).words, ['claim', 'a'.repeat(64)]);
  refused(t, `claim ${'a'.repeat(65)}`);
});

test(`input of exactly MAX_INPUT_LENGTH (${MAX_INPUT_LENGTH}) characters is read`, (t) => {
  const raw = `claim physics${' '.repeat(MAX_INPUT_LENGTH - 'claim physics'.length)}`;
  t.is(raw.length, MAX_INPUT_LENGTH);
  t.deepEqual(parsed(raw).words, ['claim', 'physics']);
});

test('over-long input is refused, naming its length and the limit', (t) => {
  const raw = `claim ${'x'.repeat(MAX_INPUT_LENGTH)}`;
  const error = refused(t, raw);
  t.true(error.message.includes(String(raw.length)), error.message);
  t.true(error.message.includes(String(MAX_INPUT_LENGTH)), error.message);
  // The length check comes first: even long whitespace is refused rather than trimmed.
  const blank = refused(t, ' '.repeat(MAX_INPUT_LENGTH + 1));
  t.true(blank.message.includes(String(MAX_INPUT_LENGTH + 1)));
});

const INVISIBLE: [string, string][] = [
  ['NUL', '\u0000'],
  ['BEL', '\u0007'],
  ['backspace', '\u0008'],
  ['vertical tab', '\u000b'],
  ['carriage return', '\r'],
  ['ESC', '\u001b'],
  ['ANSI colour', '\u001b[31m'],
  ['DEL', '\u007f'],
  ['C1 NEL', '\u0085'],
  ['C1 CSI', '\u009b'],
  ['zero-width space', '\u200b'],
  ['zero-width non-joiner', '\u200c'],
  ['zero-width joiner', '\u200d'],
  ['left-to-right mark', '\u200e'],
  ['right-to-left mark', '\u200f'],
  ['line separator', '\u2028'],
  ['paragraph separator', '\u2029'],
  ['LRE', '\u202a'],
  ['RLE', '\u202b'],
  ['PDF', '\u202c'],
  ['LRO', '\u202d'],
  ['RLO (bidi override)', '\u202e'],
  ['LRI', '\u2066'],
  ['RLI', '\u2067'],
  ['FSI', '\u2068'],
  ['PDI', '\u2069'],
  ['BOM / zero-width no-break space', '\ufeff'],
];

for (const [what, char] of INVISIBLE) {
  test(`control or invisible character refused: ${what}`, (t) => {
    for (const raw of [`claim physics${char}`, `${char}claim physics`, `claim phy${char}sics`, `claim${char} physics`]) {
      const error = refused(t, raw);
      t.regex(error.message, /control or invisible characters/, JSON.stringify(raw));
      // The refusal does not echo the input back, so the character cannot reach the output.
      t.false(error.message.includes(char));
    }
  });
}

const HOSTILE: [string, string][] = [
  ['x;rm -rf /', 'x;rm'],
  ['claim x;rm -rf /', 'x;rm'],
  ['claim $(id)', '$(id)'],
  ['claim ${HOME}', '${HOME}'],
  ["claim {{ lookup('pipe','id') }}", '{{'],
  ["{{lookup('pipe','id')}}", "{{lookup('pipe','id')}}"],
  ['claim ../../etc/passwd', '../../etc/passwd'],
  ['claim ../../etc', '../../etc'],
  ['release /etc/passwd', '/etc/passwd'],
  ['claim physics|id', 'physics|id'],
  ['claim physics&&id', 'physics&&id'],
  ['claim physics>out', 'physics>out'],
  ['claim <physics>', '<physics>'],
  ['claim `id`', '`id`'],
  ['claim physics`id`', 'physics`id`'],
  ['claim phy\\sics', 'phy\\sics'],
  ['claim *', '*'],
  ['claim %s%s%n', '%s%s%n'],
  ['claim physics,imaging', 'physics,imaging'],
  ['claim physics#', 'physics#'],
  ['claim <!channel>', '<!channel>'],
  ['claim \u2003physics', '\u2003physics'],
  ['claim 🚀', '🚀'],
];

for (const [raw, token] of HOSTILE) {
  test(`hostile or odd token refused: ${JSON.stringify(raw)}`, (t) => {
    const error = refused(t, raw);
    t.true(error.message.includes(`"${token}"`), `${error.message} should name ${token}`);
    t.regex(error.message, /names use letters, digits, dots, dashes and underscores/);
    t.is(error.hint, 'See: help');
  });
}

test('a name in quotes is refused saying to drop them; a token in quotes is not shown in a second pair', (t) => {
  for (const quoted of ['"physics"', "'physics'", '“physics”']) {
    const error = refused(t, `claim ${quoted}`);
    t.is(error.message, `Names need no quotes: write physics rather than ${quoted}.`);
    t.is(error.hint, 'See: help');
  }
  for (const token of ['"phy sics', '"$(id)"', "'a'b'"]) {
    const error = refused(t, `claim ${token}`);
    t.false(/""|''/.test(error.message), error.message);
    t.regex(error.message, /names use letters, digits, dots, dashes and underscores/);
  }
});

test('-h is --help', (t) => {
  t.deepEqual([...parseInput('claim physics -h').flags], ['help']);
  t.deepEqual([...parseInput('claim -H physics').flags], ['help']);
  t.deepEqual(parseInput('claim -h').words, ['claim']);
});

test('a refused long token is shown cut at 40 characters', (t) => {
  const token = `$(${'a'.repeat(60)})`;
  const error = refused(t, `claim ${token}`);
  t.true(error.message.includes(`"${token.slice(0, 40)}…"`), error.message);
  t.false(error.message.includes(token));
});

test('dot-only names are made of allowed characters and parse, but never name a pool or VM', async (t) => {
  t.deepEqual(parsed('claim ..'), { words: ['claim', '..'], flags: [] });
  t.deepEqual(parsed('release ...etc'), { words: ['release', '...etc'], flags: [] });
  const h = createHarness();
  t.teardown(() => h.close());
  await h.run(15_000);
  const before = h.store.listVms().map((v) => `${v.name}:${v.state}`);
  t.regex((await h.say('alice', 'claim ..')).title, /There is no pool called "\.\."/);
  t.regex((await h.say('alice', 'release ...etc --yes')).title, /No VM called "\.\.\.etc" is claimed/);
  t.regex((await h.say('alice', 'extend ..')).title, /No VM called "\.\." is claimed/);
  t.deepEqual(
    h.store.listVms().map((v) => `${v.name}:${v.state}`),
    before,
  );
});

test('a unicode pool name parses but is an unknown pool', async (t) => {
  const h = createHarness();
  t.teardown(() => h.close());
  await h.run(15_000);
  const reply = await h.say('alice', 'claim ünïcode');
  t.is(reply.tone, 'error');
  t.is(reply.title, 'There is no pool called "ünïcode".');
  t.is(h.store.activeLeases().length, 0);
});

test('--reason takes the words after it, up to the next flag, as free text with ordinary punctuation', (t) => {
  const r = parseInput('admin release physics-k3f9 --reason image rebuild, back at 15:00 (sorry!) --yes');
  t.deepEqual(r.words, ['admin', 'release', 'physics-k3f9']);
  t.deepEqual([...r.flags].sort(), ['reason', 'yes']);
  t.is(r.values.get('reason'), 'image rebuild, back at 15:00 (sorry!)');
  t.is(parseInput('admin drain physics --reason "new image"').values.get('reason'), 'new image');
  t.is(parseInput('admin drain --reason new image physics').values.get('reason'), 'new image physics', 'words after --reason belong to it');
  t.deepEqual(parseInput('claim physics').values, new Map());
});

test('--reason without a text, too long, or with markup or shell syntax is refused', (t) => {
  for (const raw of ['admin drain physics --reason', 'admin drain physics --reason --yes', `admin drain physics --reason ${'word '.repeat(45)}`, 'admin drain physics --reason <!channel>', 'admin drain physics --reason $(reboot)', 'admin drain physics --reason `id`', 'admin drain physics --reason *bold*']) {
    refused(t, raw);
  }
});
