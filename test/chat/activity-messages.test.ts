import test from 'ava';
import { activityNote, graceMessage, idlePromptMessage, idleReleasedMessage, withNote } from '../../src/chat/activity-messages.ts';
import { reply, text } from '../../src/chat/reply.ts';
import { renderText } from '../../src/chat/shell/render-text.ts';
import { decodeButtonValue, renderBlocks } from '../../src/chat/slack/render-blocks.ts';
import { decodeActionData, renderCard } from '../../src/chat/teams/render-card.ts';
import type { LeaseView } from '../../src/core/model.ts';

const H = 3_600_000;
const NOW = Date.UTC(2026, 10, 29, 13, 0);
const lease = { id: 'l1', pool: 'excitations', user: 'alice', expiresAt: NOW, vm: { name: 'excitations-ab12' } } as LeaseView;

test('the idle question: in whole hours, with Release and Keep it on all three platforms', (t) => {
  const prompt = idlePromptMessage(lease, 12 * H + 10 * 60_000);
  t.is(prompt.title, 'excitations-ab12 has been idle for 12h. Release it so a colleague can use it?');
  const shell = renderText(prompt, { now: NOW, timeZone: 'UTC' });
  t.regex(shell, /\[Release: release excitations-ab12 --yes\] {2}\[Keep it: keep excitations-ab12\]/);
  const slack = renderBlocks(prompt, { now: NOW, owner: 'alice' }).blocks as unknown as { type: string; elements?: { text: { text: string }; value: string }[] }[];
  const buttons = slack.flatMap((b) => (b.type === 'actions' ? b.elements ?? [] : []));
  t.deepEqual(buttons.map((b) => [b.text.text, decodeButtonValue(b.value)?.command]), [['Release', 'release excitations-ab12 --yes'], ['Keep it', 'keep excitations-ab12']]);
  const { card } = renderCard(prompt, { now: NOW, owner: 'alice' });
  const actions = card.body.filter((e) => e.type === 'ActionSet').flatMap((e) => e.actions as { title: string; data: unknown }[]);
  t.deepEqual(actions.map((a) => [a.title, decodeActionData(a.data)?.command]), [['Release', 'release excitations-ab12 --yes'], ['Keep it', 'keep excitations-ab12']]);
});

test('idle release, grace and the reminder note read as the holder should hear them', (t) => {
  t.regex(idleReleasedMessage(lease, 14 * H + 5 * 60_000, 2).title, /was released: it had been idle for 14h$/);
  t.regex(JSON.stringify(idleReleasedMessage(lease, 14 * H, 2).blocks), /2 colleagues are waiting for pool excitations/);
  const grace = graceMessage(lease, 'python (3h 12m, 390% CPU)', NOW + 2 * H);
  t.is(grace.title, 'excitations-ab12 was due for teardown, but a job is running (python (3h 12m, 390% CPU))');
  t.regex(renderText(grace, { now: NOW, timeZone: 'UTC' }), /Stays until: +Sun 29 Nov, 15:00 UTC/);
  t.deepEqual(activityNote(null, [], false), []);
  t.deepEqual(activityNote(null, [], true), ['The bot could not look at what is running on it just now.']);
  const body = reply('warning', 'x', text('first'), text('details'));
  t.is(withNote(body, []), body);
  t.deepEqual(withNote(body, ['A job is running on it: python.', '5 B in 1 file…']).blocks.map((b) => (b as { text: string }).text), ['first', 'A job is running on it: python.\n5 B in 1 file…', 'details']);
});
