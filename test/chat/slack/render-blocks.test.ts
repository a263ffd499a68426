import test from 'ava';
import { actions, fields, reply, table, text, type Reply } from '../../../src/chat/reply.ts';
import { decodeButtonValue, encodeButtonValue, LIMITS, notificationText, renderBlocks, slackDate } from '../../../src/chat/slack/render-blocks.ts';
import { filledHarness } from '../../helpers/replies.ts';

const NOW = Date.UTC(2026, 0, 5, 9, 0, 0);

type AnyBlock = { type: string; text?: { text: string }; fields?: { text: string }[]; elements?: Record<string, unknown>[]; accessory?: Record<string, unknown> };
const blocksOf = (r: Reply, owner?: string) => renderBlocks(r, { now: NOW, ...(owner ? { owner } : {}) }).blocks as unknown as AnyBlock[];
const buttons = (blocks: AnyBlock[]) => blocks.flatMap((b) => (b.type === 'actions' ? (b.elements ?? []) : []));
const allText = (blocks: AnyBlock[]) => JSON.stringify(blocks);

test('times use Slack date formatting for the reader’s zone, with a UTC fallback', (t) => {
  t.is(slackDate(Date.UTC(2026, 10, 28, 21, 23, 45)), '<!date^1795901025^{date_short_pretty} {time}|Sat 28 Nov, 21:23 UTC>');
  const blocks = blocksOf(reply('info', 'x', fields({ label: 'Expires', value: { time: NOW + 3_600_000 } }, { label: 'Time left', value: { duration: 3_600_000 } })));
  const section = blocks[1]!;
  t.deepEqual(section.fields?.map((f) => f.text), ['*Expires*\n<!date^1767607200^{date_short_pretty} {time}|Mon 5 Jan, 10:00 UTC>', '*Time left*\n1h']);
});

test('a claim renders as a card: title, fields, Extend and Release buttons that carry the command and the owner', async (t) => {
  const h = await filledHarness(t);
  const claim = await h.say('alice', 'claim physics');
  const vm = h.store.activeLeases({ user: 'alice' })[0]!.vm.name;
  const message = renderBlocks(claim, { now: h.clock.now(), owner: 'alice' });
  const blocks = message.blocks as unknown as AnyBlock[];
  t.regex(blocks[0]!.text!.text, new RegExp(`:white_check_mark: \\*${vm} is yours for 2d\\*`));
  t.true(blocks.length <= LIMITS.messageBlocks);
  // The notification text says what happened and when it ends.
  t.is(message.text, `${vm} is yours for 2d (expires: Wed 7 Jan, 09:00 UTC)`);

  const [extend, release] = buttons(blocks);
  t.is(extend!.type, 'button');
  t.deepEqual(decodeButtonValue(extend!.value as string), { command: `extend ${vm}`, owner: 'alice' });
  t.is(extend!.style, 'primary');
  t.is(extend!.confirm, undefined);
  t.not(extend!.action_id, release!.action_id, 'action ids are unique within a message');
  // Release asks in Slack's own confirmation dialog; once accepted, the command needs no second "are you sure".
  t.deepEqual(decodeButtonValue(release!.value as string), { command: `release ${vm} --yes`, owner: 'alice' });
  t.is(release!.style, 'danger');
  const confirm = release!.confirm as { title: { text: string }; text: { text: string }; confirm: { text: string }; deny: { text: string }; style: string };
  t.is(confirm.title.text, `Release ${vm}?`);
  t.regex(confirm.text.text, /destroyed/);
  t.is(confirm.confirm.text, 'Release');
  t.is(confirm.deny.text, 'Cancel');
  t.is(confirm.style, 'danger');
});

test('the answer to a typed "release" (a button already carrying --yes) is not asked twice', (t) => {
  const [button] = buttons(blocksOf(reply('warning', 'Release vm-1?', actions({ label: 'Release vm-1', command: 'release vm-1 --yes', style: 'danger' }))));
  t.is(button!.confirm, undefined);
  t.is(decodeButtonValue(button!.value as string)?.command, 'release vm-1 --yes');
});

test('a Connect line with a web address gets a button that opens it', (t) => {
  const blocks = blocksOf(reply('info', 'x', text('Connect: Remote desktop: https://10.16.0.1:8443/ · SSH: ssh alice@10.16.0.1')));
  const accessory = blocks[1]!.accessory!;
  t.is(accessory.type, 'button');
  t.is(accessory.url, 'https://10.16.0.1:8443/');
  t.regex(String(accessory.action_id), /^daaas-link:/);
  t.is(blocksOf(reply('info', 'x', text('Connect: ssh alice@10.16.0.1')))[1]!.accessory, undefined);
});

test('mrkdwn control characters are escaped', (t) => {
  const blocks = blocksOf(reply('error', 'a <b> & c', text('<!channel> hi')));
  t.is(blocks[0]!.text!.text, ':x: *a &lt;b&gt; &amp; c*');
  t.is(blocks[1]!.text!.text, '&lt;!channel&gt; hi');
});

test('Block Kit limits: at most 50 blocks, 3000 characters a section, 10 fields a section', (t) => {
  const many = blocksOf(reply('info', 'many', ...Array.from({ length: 80 }, (_, i) => text(`line ${i}`))));
  t.is(many.length, LIMITS.messageBlocks);
  t.is(many.at(-1)!.type, 'context');
  t.regex(allText(many.slice(-1)), /32 more parts not shown/);

  const long = blocksOf(reply('info', 'long', text(Array.from({ length: 400 }, (_, i) => `a fairly long line of text number ${i}`).join('\n'))));
  t.true(long.length > 2);
  for (const b of long) t.true(b.text!.text.length <= LIMITS.sectionText);
  t.true(blocksOf(reply('info', 'x', text('y'.repeat(5000))))[1]!.text!.text.length <= LIMITS.sectionText);

  const wide = blocksOf(reply('info', 'wide', fields(...Array.from({ length: 23 }, (_, i) => ({ label: `f${i}`, value: `v${i}` })))));
  t.deepEqual(wide.slice(1).map((b) => b.fields?.length), [10, 10, 3]);

  const rows = Array.from({ length: 300 }, (_, i) => [`pool-${i}`, String(i), { duration: 172_800_000 }]);
  const tbl = blocksOf(reply('info', 'Pools', table(['pool', 'ready', 'lease'], rows)));
  t.true(tbl.length > 2);
  for (const b of tbl.slice(1)) {
    t.true(b.text!.text.length <= LIMITS.sectionText);
    t.regex(b.text!.text, /^```\n[\s\S]*\n```$/);
  }
  t.regex(tbl[1]!.text!.text, /pool\s+ready\s+lease\n-+/);
  t.regex(tbl[1]!.text!.text, /pool-0\s+0\s+2d/);

  const manyButtons = buttons(blocksOf(reply('info', 'x', actions(...Array.from({ length: 30 }, (_, i) => ({ label: 'L'.repeat(100), command: `extend vm-${i}` }))))));
  t.is(manyButtons.length, 30);
  for (const b of manyButtons) t.true((b.text as { text: string }).text.length <= LIMITS.buttonText);
});

test('button values round-trip, and anything else is not taken for a command', (t) => {
  t.deepEqual(decodeButtonValue(encodeButtonValue({ command: 'extend vm-1', owner: 'alice' })), { command: 'extend vm-1', owner: 'alice' });
  t.deepEqual(decodeButtonValue(encodeButtonValue({ command: 'pools' })), { command: 'pools' });
  for (const raw of [undefined, '', 'extend vm-1', '{"command": 3}', '[]', 'null', '{"command": "  "}']) t.is(decodeButtonValue(raw), undefined, String(raw));
});

test('the notification text is escaped like the blocks: a quoted <!channel> pings nobody', (t) => {
  const text = notificationText(reply('error', '"<!channel>" is not something the bot understands'));
  t.is(text, '"&lt;!channel&gt;" is not something the bot understands');
});
