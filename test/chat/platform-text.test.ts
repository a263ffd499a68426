import test from 'ava';
import { chunk, notificationLine, notYoursRefusal, truncate, utcTime } from '../../src/chat/platform-text.ts';
import { fields, reply, text } from '../../src/chat/reply.ts';

const AT = Date.UTC(2026, 0, 7, 9, 0);

test('the notification line is the title with the first time in UTC, cut to the limit', (t) => {
  const answer = reply('success', 'physics-7xk2 is yours for 2d', fields({ label: 'VM', value: 'physics-7xk2' }, { label: 'Expires', value: { time: AT } }));
  t.is(notificationLine(answer, 200), 'physics-7xk2 is yours for 2d (expires: Wed 7 Jan, 09:00 UTC)');
  t.is(notificationLine(answer, 12), 'physics-7xk…');
  t.is(notificationLine(reply('info', 'Pools'), 200), 'Pools');
  t.is(utcTime(AT), 'Wed 7 Jan, 09:00 UTC');
});

test('truncate and chunk keep within a platform\'s limits', (t) => {
  t.is(truncate('abc', 3), 'abc');
  t.is(truncate('abcd', 3), 'ab…');
  t.deepEqual(chunk([1, 2, 3, 4, 5], 2), [[1, 2], [3, 4], [5]]);
});

test('pressing a button on someone else\'s VM is answered kindly, naming the holder and how to claim', (t) => {
  const refused = notYoursRefusal('alice', reply('error', 'physics-7xk2 is not yours.'), 'Claim your own with: claim <pool>');
  t.is(refused.tone, 'info');
  t.deepEqual(refused.blocks, [text('It acts on a VM held by alice, and only its holder can extend or release it, so nothing was changed. (physics-7xk2 is not yours.)'), text('Claim your own with: claim <pool>')]);
});
