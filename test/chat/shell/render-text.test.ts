import test from 'ava';
import { actions, fields, reply, table, text, type Reply } from '../../../src/chat/reply.ts';
import { renderText, renderValue } from '../../../src/chat/shell/render-text.ts';
import { filledHarness } from '../../helpers/replies.ts';

const NOW = Date.UTC(2026, 0, 5, 9, 0, 0); // Monday 5 January 2026, 09:00 UTC
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const utc = { now: NOW, timeZone: 'UTC' };

test('each tone has its mark before the title', (t) => {
  const marks: [Reply['tone'], string][] = [
    ['success', '✔'],
    ['info', '•'],
    ['warning', '!'],
    ['error', '✖'],
  ];
  for (const [tone, mark] of marks) t.is(renderText(reply(tone, 'Title here'), utc), `${mark} Title here`);
});

test('text blocks are indented, every line of them', (t) => {
  t.is(renderText(reply('info', 'T', text('one'), text('two\nthree')), utc), '• T\n  one\n  two\n  three');
});

test('fields are aligned on the longest label', (t) => {
  const out = renderText(reply('info', 'T', fields({ label: 'VM', value: 'physics-k3f9' }, { label: 'Extensions left', value: '2 of 2' }, { label: 'Pool', value: 'physics' })), utc);
  t.is(out, ['• T', '  VM:              physics-k3f9', '  Extensions left: 2 of 2', '  Pool:            physics'].join('\n'));
  const lines = out.split('\n').slice(1);
  const valueColumns = lines.map((l, i) => l.indexOf(['physics-k3f9', '2 of 2', 'physics'][i]!));
  t.deepEqual(new Set(valueColumns).size, 1, 'values start in one column');
});

test('table columns are padded to the widest cell, with a dash rule and no trailing blanks', (t) => {
  const out = renderText(
    reply('info', 'Pools', table(['pool', 'ready', 'GPU'], [['physics', '3', 'no'], ['imaging-long-name', '10', { duration: DAY }]])),
    utc,
  );
  t.is(
    out,
    [
      '• Pools',
      '  pool               ready  GPU',
      '  -----------------  -----  ---',
      '  physics            3      no',
      '  imaging-long-name  10     1d',
    ].join('\n'),
  );
  for (const line of out.split('\n')) t.is(line, line.trimEnd());
});

test('a table is as wide as its header when the cells are short', (t) => {
  const out = renderText(reply('info', 'T', table(['name', 'x'], [['a', 'b']])), utc);
  t.is(out, ['• T', '  name  x', '  ----  -', '  a     b'].join('\n'));
});

test('a table with no rows still shows its header', (t) => {
  t.is(renderText(reply('info', 'T', table(['pool', 'ready'], [])), utc), ['• T', '  pool  ready', '  ----  -----'].join('\n'));
});

test('times are absolute in the given zone, with a relative part in the future', (t) => {
  const at = NOW + 2 * DAY;
  t.is(renderValue({ time: at }, utc), 'Wed 7 Jan, 09:00 UTC (in 2d)');
  t.is(renderValue({ time: at }, { now: NOW, timeZone: 'Europe/Zurich' }), 'Wed 7 Jan, 10:00 CET (in 2d)');
  t.is(renderValue({ time: at }, { now: NOW, timeZone: 'Asia/Tokyo' }), 'Wed 7 Jan, 18:00 GMT+9 (in 2d)');
  t.is(renderValue({ time: NOW + 90 * 60_000 }, utc), 'Mon 5 Jan, 10:30 UTC (in 1h 30m)');
});

test('a time in another zone can fall on another day', (t) => {
  const at = Date.UTC(2026, 0, 5, 23, 30);
  t.is(renderValue({ time: at }, utc), 'Mon 5 Jan, 23:30 UTC (in 14h 30m)');
  t.is(renderValue({ time: at }, { now: NOW, timeZone: 'Europe/Zurich' }), 'Tue 6 Jan, 00:30 CET (in 14h 30m)');
});

test('past times read "ago", the present reads "in 0ms"', (t) => {
  t.is(renderValue({ time: NOW - 3 * HOUR }, utc), 'Mon 5 Jan, 06:00 UTC (3h ago)');
  t.is(renderValue({ time: NOW - DAY - 5 * 60_000 }, utc), 'Sun 4 Jan, 08:55 UTC (1d 5m ago)');
  t.is(renderValue({ time: NOW }, utc), 'Mon 5 Jan, 09:00 UTC (in 0ms)');
});

test('relative times use "now" from the options, not the machine clock', (t) => {
  const at = NOW + DAY;
  t.is(renderValue({ time: at }, { now: NOW, timeZone: 'UTC' }), 'Tue 6 Jan, 09:00 UTC (in 1d)');
  t.is(renderValue({ time: at }, { now: NOW + 2 * DAY, timeZone: 'UTC' }), 'Tue 6 Jan, 09:00 UTC (1d ago)');
});

test('durations use the two largest units', (t) => {
  t.is(renderValue({ duration: 48 * HOUR }, utc), '2d');
  t.is(renderValue({ duration: 26 * HOUR + 10 * 60_000 }, utc), '1d 2h');
  t.is(renderValue({ duration: 90 * 60_000 }, utc), '1h 30m');
  // Past one minute, durations are rounded to the minute for people.
  t.is(renderValue({ duration: 90_000 }, utc), '2m');
  t.is(renderValue({ duration: 45_000 }, utc), '45s');
  t.is(renderValue({ duration: 0 }, utc), '0ms');
});

test('strings are shown as they are', (t) => {
  t.is(renderValue('10.16.0.3', utc), '10.16.0.3');
});

test('times and durations render inside fields and tables', (t) => {
  const out = renderText(
    reply('info', 'T', fields({ label: 'Expires', value: { time: NOW + DAY } }, { label: 'Left', value: { duration: DAY } }), table(['lease'], [[{ duration: 12 * HOUR }]])),
    utc,
  );
  t.is(out, ['• T', '  Expires: Tue 6 Jan, 09:00 UTC (in 1d)', '  Left:    1d', '  lease', '  -----', '  12h'].join('\n'));
});

test('actions render as [label: command] on one line', (t) => {
  const out = renderText(
    reply(
      'success',
      'T',
      actions({ label: 'Extend +1d', command: 'extend physics-k3f9', style: 'primary' }, { label: 'Release', command: 'release physics-k3f9', style: 'danger' }),
    ),
    utc,
  );
  t.is(out, '✔ T\n  [Extend +1d: extend physics-k3f9]  [Release: release physics-k3f9]');
});

test('blocks are rendered in order, under the title', (t) => {
  const out = renderText(reply('warning', 'Release x?', text('Sure?'), fields({ label: 'A', value: 'b' }), actions({ label: 'Go', command: 'go' })), utc);
  t.is(out, ['! Release x?', '  Sure?', '  A: b', '  [Go: go]'].join('\n'));
});

test('help and admin pools fit an 80-column terminal: the widest column wraps; narrower still, rows become records', async (t) => {
  const h = await filledHarness(t);
  const now = h.clock.now();
  const words = (s: string) => s.split(/\s+/).map((w) => w.replace(/:$/, '')).filter((w) => w && !/^-+$/.test(w));
  for (const [who, command] of [['alice', 'help'], ['root', 'admin pools'], ['root', 'help admin']] as const) {
    const answer = await h.say(who, command);
    // The tables alone: text blocks are the terminal's to wrap.
    const tables = reply(answer.tone, command, ...answer.blocks.filter((b) => b.type === 'table'));
    t.true(tables.blocks.length > 0);
    const wide = renderText(tables, { now, timeZone: 'UTC' });
    t.true(wide.split('\n').some((l) => l.length > 80), `${command} is wider than 80 columns unbounded`);
    t.is(renderText(tables, { now, timeZone: 'UTC', width: 500 }), wide, 'a wide terminal changes nothing');
    for (const width of [80, 60, 40]) {
      const fitted = renderText(tables, { now, timeZone: 'UTC', width });
      t.deepEqual(fitted.split('\n').filter((l) => l.length > width), [], `${command} at ${width} columns`);
      // Nothing is lost: every word of the table is still there, in order.
      const kept = words(fitted).join(' ');
      // (Rows shown as records keep the first column's cells as headings, without its name.)
      const firstColumns = new Set(tables.blocks.flatMap((b) => (b.type === 'table' ? [b.columns[0]] : [])));
      for (const word of words(wide)) if (!firstColumns.has(word)) t.true(kept.includes(word), `${word} kept in ${command} at ${width} columns`);
    }
  }
});

test('a table narrower than the terminal is as before; a long word in a wrapped column is cut, not lost', (t) => {
  const message = reply('info', 'T', table(['name', 'what'], [['a', 'short'], ['b', `${'x'.repeat(30)} tail`]]));
  t.is(renderText(message, { now: 0, width: 80 }), renderText(message, { now: 0 }));
  const fitted = renderText(message, { now: 0, width: 24 }).split('\n');
  t.deepEqual(fitted, ['• T', '  name  what', '  ----  ----------------', '  a     short', '  b     xxxxxxxxxxxxxxxx', '        xxxxxxxxxxxxxx', '        tail']);
});
