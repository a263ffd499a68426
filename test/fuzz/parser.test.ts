/**
 * Property tests of the command parser: whatever text arrives, it either yields words and
 * flags made only of the characters commands use, or refuses with a short BAD_INPUT message;
 * it never throws anything else. Seeded (see SEED in hostile.ts); a failure prints the seed,
 * the path and the smallest input found.
 */
import test from 'ava';
import fc from 'fast-check';
import { MAX_INPUT_LENGTH, parseInput, type ParsedInput } from '../../src/chat/parse.ts';
import { UserError } from '../../src/core/errors.ts';
import { anyText, CONTROL_CHARS, fcParams, hostilePiece, INJECTIONS, insertSomewhere, isWellFormed, prefix, randomCase, SEED, separator, TRICKY_UNICODE, validWord } from './hostile.ts';

const RUNS = 500;
const WORD = /^[\p{L}\p{N}._:@-]{1,64}$/u;
/** Everything a message the parser accepts may hold, once an optional /daaas prefix is gone. */
const ACCEPTABLE = /^[\p{L}\p{N}._:@\- \t\n\u00a0]*$/u;

type Outcome = { ok: true; parsed: ParsedInput } | { ok: false; error: UserError };

/** Runs the parser; anything thrown other than a UserError fails the property on the spot. */
function parse(raw: string): Outcome {
  try {
    return { ok: true, parsed: parseInput(raw) };
  } catch (error) {
    if (error instanceof UserError) return { ok: false, error };
    throw new Error(`parseInput threw ${String(error)} on ${JSON.stringify(raw)}`);
  }
}

function refusal(raw: string): UserError {
  const outcome = parse(raw);
  if (outcome.ok) throw new Error(`accepted ${JSON.stringify(raw)} as ${JSON.stringify({ words: outcome.parsed.words, flags: [...outcome.parsed.flags] })}`);
  return outcome.error;
}

const params = (numRuns = RUNS) => fcParams(numRuns);

test.before((t) => t.log(`fast-check seed ${SEED} (FC_SEED=<n> to change)`));

test('any text: words and flags, or a short BAD_INPUT refusal; never another exception', (t) => {
  fc.assert(
    fc.property(anyText, (raw) => {
      const outcome = parse(raw);
      if (!outcome.ok) {
        const { error } = outcome;
        if (error.code !== 'BAD_INPUT') throw new Error(`code ${error.code} for ${JSON.stringify(raw)}`);
        if (error.message.trim() === '') throw new Error('empty refusal');
        // A refusal quotes at most 40 characters of the offending word: a short, readable answer.
        if (error.message.length > 200) throw new Error(`a refusal of ${error.message.length} characters: ${error.message.slice(0, 80)}…`);
        if ((error.hint ?? '').length > 100) throw new Error('a long hint');
        return;
      }
      for (const word of outcome.parsed.words) if (!WORD.test(word) || word.startsWith('-')) throw new Error(`word ${JSON.stringify(word)} from ${JSON.stringify(raw)}`);
      for (const flag of outcome.parsed.flags) if (!WORD.test(flag) || flag !== flag.toLowerCase()) throw new Error(`flag ${JSON.stringify(flag)} from ${JSON.stringify(raw)}`);
    }),
    params(),
  );
  t.pass();
});

test('accepted text holds only letters, digits, ._:@- and spaces, besides the /daaas prefix', (t) => {
  // Every hostile piece inserted into a plausible command: the parser lets through only what a
  // pool or VM name may hold, whatever the payload and wherever it sits.
  const command = fc.tuple(prefix, fc.constantFrom('claim physics', 'release physics-ab12 --yes', 'extend', 'admin log physics-ab12', 'help release', 'status'));
  fc.assert(
    fc.property(command, hostilePiece, fc.nat(), ([pre, body], piece, at) => {
      const raw = `${pre}${body.slice(0, at % (body.length + 1))} ${piece}${body.slice(at % (body.length + 1))}`;
      const outcome = parse(raw);
      if (!outcome.ok) return;
      const rest = raw.trim().replace(/^\/?daaas(?=$|\s)\s*/i, '');
      if (!ACCEPTABLE.test(rest)) throw new Error(`accepted ${JSON.stringify(raw)}, which holds ${JSON.stringify([...rest].filter((c) => !ACCEPTABLE.test(c)).join(''))}`);
    }),
    params(),
  );
  t.pass();
});

test('every injection attempt with a character outside names is refused, wherever it is put', (t) => {
  const hostile = INJECTIONS.filter((p) => !ACCEPTABLE.test(p));
  t.true(hostile.length > 40, 'the list holds shell, template, SQL, YAML, Slack and HTML attempts');
  fc.assert(
    fc.property(fc.constantFrom(...hostile), fc.constantFrom('claim physics', 'release --yes', 'extend physics-ab12', 'admin log x', ''), fc.nat(), (payload, body, at) => {
      const cut = at % (body.length + 1);
      for (const raw of [`${body.slice(0, cut)}${payload}${body.slice(cut)}`, `${body} ${payload}`, `/daaas ${payload} ${body}`]) {
        const error = refusal(raw);
        if (error.code !== 'BAD_INPUT') throw new Error(`${JSON.stringify(raw)}: ${error.code}`);
      }
    }),
    params(),
  );
});

test('a control or invisible character anywhere is refused as such, however short the message', (t) => {
  const text = fc.string({ unit: 'grapheme-ascii', maxLength: 100 });
  fc.assert(
    fc.property(text, fc.constantFrom(...CONTROL_CHARS), fc.nat(), (body, control, at) => {
      const cut = at % (body.length + 1);
      const error = refusal(body.slice(0, cut) + control + body.slice(cut));
      if (error.message !== 'That message holds control or invisible characters; please type the command again.') throw new Error(error.message);
    }),
    params(),
  );
  t.pass();
});

test(`anything longer than ${MAX_INPUT_LENGTH} characters is refused, saying how long it was, even a valid command`, (t) => {
  const long = fc.oneof(
    fc.integer({ min: MAX_INPUT_LENGTH + 1, max: 20_000 }).map((n) => `claim ${'physics '.repeat(n)}`.slice(0, n)),
    fc.string({ unit: 'grapheme', minLength: MAX_INPUT_LENGTH + 1, maxLength: 1_500 }).filter((s) => s.length > MAX_INPUT_LENGTH),
    fc.integer({ min: 1, max: 200 }).map((n) => `status${' '.repeat(MAX_INPUT_LENGTH - 6 + n)}`),
  );
  fc.assert(
    fc.property(long, (raw) => {
      const error = refusal(raw);
      if (error.message !== `That message is ${raw.length} characters long; commands are at most ${MAX_INPUT_LENGTH}.`) throw new Error(error.message);
    }),
    params(200),
  );
  // The boundary itself: exactly the maximum is read.
  t.deepEqual(parseInput(`status${' '.repeat(MAX_INPUT_LENGTH - 6)}`).words, ['status']);
});

test('valid commands parse to exactly their words and lower-cased flags, however spaced and cased', (t) => {
  const token = fc.oneof(
    { arbitrary: validWord().map((w) => ({ word: w })), weight: 3 },
    { arbitrary: validWord(64).chain((w) => randomCase(w)).map((w) => ({ flag: w })), weight: 1 },
  );
  const command = fc
    .tuple(prefix, fc.array(fc.tuple(token, separator), { maxLength: 12 }), separator)
    // A first word that begins with "daaas" is the subject of its own test below.
    .filter(([, tokens]) => !('word' in (tokens[0]?.[0] ?? {})) || !/^daaas/i.test((tokens[0]![0] as { word: string }).word));
  fc.assert(
    fc.property(command, ([pre, tokens, tail]) => {
      const raw = pre + tokens.map(([tok, sep]) => ('word' in tok ? tok.word : `--${tok.flag}`) + sep).join('') + tail;
      fc.pre(raw.length <= MAX_INPUT_LENGTH);
      const outcome = parse(raw);
      if (!outcome.ok) throw new Error(`refused ${JSON.stringify(raw)}: ${outcome.error.message}`);
      const words = tokens.flatMap(([tok]) => ('word' in tok ? [tok.word] : []));
      const flags = new Set(tokens.flatMap(([tok]) => ('flag' in tok ? [tok.flag.toLowerCase()] : [])));
      if (JSON.stringify(outcome.parsed.words) !== JSON.stringify(words)) throw new Error(`words ${JSON.stringify(outcome.parsed.words)}, expected ${JSON.stringify(words)}`);
      if (JSON.stringify([...outcome.parsed.flags].sort()) !== JSON.stringify([...flags].sort())) throw new Error(`flags ${JSON.stringify([...outcome.parsed.flags])}, expected ${JSON.stringify([...flags])}`);
    }),
    params(),
  );
  t.pass();
});

test('a leading /daaas changes nothing: the same words, flags or refusal', (t) => {
  fc.assert(
    fc.property(fc.oneof(anyText, validWord().map((w) => `claim ${w} --yes`)), fc.constantFrom('/daaas ', 'daaas ', '/DAAAS\t'), (raw, pre) => {
      // Text that itself starts with the prefix would lose it once alone and keep it after another.
      fc.pre(!/^\s*\/?daaas/i.test(raw) && (pre + raw).length <= MAX_INPUT_LENGTH);
      const plain = parse(raw);
      const prefixed = parse(pre + raw);
      if (plain.ok !== prefixed.ok) throw new Error(`${JSON.stringify(raw)} ${plain.ok ? 'accepted' : 'refused'} alone, but not after ${JSON.stringify(pre)}`);
      if (plain.ok && prefixed.ok && JSON.stringify([plain.parsed.words, [...plain.parsed.flags]]) !== JSON.stringify([prefixed.parsed.words, [...prefixed.parsed.flags]])) {
        throw new Error(`${JSON.stringify(raw)} parsed differently after the prefix`);
      }
    }),
    params(),
  );
  t.pass();
});

test('words longer than 64 characters are refused, with the word cut to 40 in the answer', (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 65, max: 200 }), fc.constantFrom('a', 'Ж', '7', '.'), (n, c) => {
      const error = refusal(`claim ${'x'}${c.repeat(n - 1)}`);
      if (!error.message.startsWith(`"x${c.repeat(39)}…" is not something the bot understands`)) throw new Error(error.message);
    }),
    params(200),
  );
  t.pass();
});

// ---- Found by these properties, and fixed: kept so they stay fixed. ----

test('a refusal quoting a long word cuts it by character, never splitting an emoji into half a character', (t) => {
  // Well-formed text in must give a well-formed answer out: a lone surrogate is not a
  // character, and Slack and Teams show it as garbage (or refuse the JSON that carries it).
  const wellFormed = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 80 }).filter(isWellFormed);
  fc.assert(
    fc.property(fc.constantFrom('claim ', 'release ', 'admin log ', ''), wellFormed, (command, word) => {
      const outcome = parse(command + word);
      if (!outcome.ok && !isWellFormed(outcome.error.message)) {
        throw new Error(`the answer to ${JSON.stringify(command + word)} is not well-formed: ${JSON.stringify(outcome.error.message)}`);
      }
    }),
    { ...params(), examples: [['claim ', `${'a'.repeat(39)}😀x`]] },
  );
  t.pass();
});

test('the /daaas prefix is removed only as a word of its own ("daaas.claim" stays one word)', (t) => {
  // Words are split on whitespace only; the prefix is a word of its own. An ASCII \b would also
  // match before ".", "-", ":", "@" and non-ASCII letters, and part of the first word would go.
  fc.assert(
    fc.property(fc.constantFrom('.', '-', ':', '@', 'é', 'Ж'), validWord(20), (joint, rest) => {
      const raw = `daaas${joint}${rest} physics`;
      const outcome = parse(raw);
      if (!outcome.ok) throw new Error(`${JSON.stringify(raw)} refused: ${outcome.error.message}`);
      if (outcome.parsed.words[0] !== `daaas${joint}${rest}`) throw new Error(`${JSON.stringify(raw)} gave the words ${JSON.stringify(outcome.parsed.words)}`);
    }),
    params(200),
  );
  t.pass();
});

test('the generators hold what the properties rely on', (t) => {
  // Guards the generators themselves, so a broken list cannot make the properties vacuous.
  for (const c of ['\u0000', '\u001b', '\u0085', '\u200b', '\u200d', '\u202e', '\u2066', '\ufeff']) t.true(CONTROL_CHARS.includes(c), JSON.stringify(c));
  for (const c of ['שלום', 'e\u0301', '👩‍👩‍👧', '𝒜', '\u061c']) t.true(TRICKY_UNICODE.includes(c), JSON.stringify(c));
  const samples = fc.sample(insertSomewhere('claim physics', '$(id)'), { seed: SEED, numRuns: 50 });
  t.true(samples.every((s) => s.includes('$(id)') && s.length <= 'claim physics'.length + 7));
  t.true(fc.sample(validWord(), { seed: SEED, numRuns: 200 }).every((w) => WORD.test(w) && !w.startsWith('-')));
});
