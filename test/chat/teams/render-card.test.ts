import test from 'ava';
import { actions, fields, reply, table, text } from '../../../src/chat/reply.ts';
import { cardDate, decodeActionData, LIMITS, renderCard, summaryText, verbFor, type AdaptiveCard, type CardElement } from '../../../src/chat/teams/render-card.ts';
import { TEST_CONFIG } from '../../helpers/harness.ts';
import { filledHarness } from '../../helpers/replies.ts';

const NOW = Date.UTC(2026, 0, 5, 9, 0, 0);

function elements(card: AdaptiveCard, type: string): CardElement[] {
  return card.body.filter((e) => e.type === type);
}

function actionsOf(card: AdaptiveCard): Record<string, unknown>[] {
  return elements(card, 'ActionSet').flatMap((e) => e.actions as Record<string, unknown>[]);
}

test('a claim becomes a 1.5 card: title, facts with local-time expiry, connect link, Extend as Action.Execute with a Submit fallback', async (t) => {
  const config = TEST_CONFIG.replace('  lease: 48h\n', '  lease: 48h\n  connect: "Remote desktop: https://{address}:8443/ · SSH: ssh {account}@{address}"\n');
  const h = await filledHarness(t, { config });
  const answer = await h.say('alice', 'claim physics');
  const lease = h.store.activeLeases({ user: 'alice' })[0]!;
  const { card, summary, text: plain } = renderCard(answer, { now: h.clock.now(), owner: 'alice' });

  t.is(card.type, 'AdaptiveCard');
  t.is(card.version, '1.5');
  t.like(card.body[0], { type: 'TextBlock', text: `✔ ${lease.vm.name} is yours for 2d`, weight: 'Bolder', color: 'Good' });
  const facts = (elements(card, 'FactSet')[0]!.facts as { title: string; value: string }[]);
  const byTitle = Object.fromEntries(facts.map((f) => [f.title, f.value]));
  t.is(byTitle.VM, lease.vm.name);
  t.is(byTitle.Expires, cardDate(lease.expiresAt));
  t.is(byTitle.Expires, '{{DATE(2026-01-07T09:00:15Z, SHORT)}} {{TIME(2026-01-07T09:00:15Z)}}');
  t.is(byTitle['Time left'], '2d');

  const all = actionsOf(card);
  t.like(all.find((a) => a.type === 'Action.OpenUrl'), { title: 'Connect', url: `https://${lease.vm.address}:8443/` });
  const extend = all.find((a) => a.type === 'Action.Execute')!;
  t.like(extend, { title: 'Extend +1d', verb: 'daaas.extend', data: { command: `extend ${lease.vm.name}`, owner: 'alice' }, style: 'positive' });
  t.deepEqual(extend.fallback, {
    type: 'Action.Submit',
    title: 'Extend +1d',
    data: { type: 'Action.Submit', verb: 'daaas.extend', data: { command: `extend ${lease.vm.name}`, owner: 'alice' } },
    style: 'positive',
  });

  t.is(summary, `${lease.vm.name} is yours for 2d (expires: Wed 7 Jan, 09:00 UTC)`);
  t.is(card.fallbackText, plain);
  t.regex(plain, /Expires: +Wed 7 Jan, 09:00 UTC \(in 2d\)/);
});

test('Release folds out a confirmation in the card whose button sends release --yes; a confirmed action is a plain button', (t) => {
  const card = renderCard(reply('success', 'x', actions({ label: 'Release', command: 'release vm-1', style: 'danger' })), { now: NOW, owner: 'alice' }).card;
  const [show] = actionsOf(card);
  t.is(show!.type, 'Action.ShowCard');
  t.is(show!.title, 'Release');
  const inner = show!.card as AdaptiveCard & { actions: Record<string, unknown>[] };
  t.regex(JSON.stringify(inner.body), /Release vm-1\?.*destroyed; anything outside your home directory is lost/);
  t.like(inner.actions[0], { type: 'Action.Execute', title: 'Yes, release vm-1', verb: 'daaas.release', style: 'destructive', data: { command: 'release vm-1 --yes', owner: 'alice' } });

  const confirmed = renderCard(reply('warning', 'Release vm-1?', actions({ label: 'Release vm-1', command: 'release vm-1 --yes', style: 'danger' })), { now: NOW }).card;
  t.like(actionsOf(confirmed)[0], { type: 'Action.Execute', data: { command: 'release vm-1 --yes' }, style: 'destructive' });
  t.false('owner' in (actionsOf(confirmed)[0]!.data as object), 'no owner, no owner check');
});

test('tables become Table elements (full width) with a fixed-width text fallback, times localised per reader', (t) => {
  const answer = reply('info', 'Pools', table(['pool', 'ready', 'oldest'], [['physics', '3', { time: NOW + 3_600_000 }], ['imaging', '1', '-']]));
  const { card } = renderCard(answer, { now: NOW });
  t.deepEqual(card.msteams, { width: 'Full' });
  const tableEl = elements(card, 'Table')[0]!;
  t.like(tableEl, { firstRowAsHeader: true });
  const rows = tableEl.rows as { cells: { items: { text: string; weight?: string }[] }[] }[];
  t.deepEqual(rows.map((r) => r.cells.map((c) => c.items[0]!.text)), [
    ['pool', 'ready', 'oldest'],
    ['physics', '3', '{{DATE(2026-01-05T10:00:00Z, SHORT)}} {{TIME(2026-01-05T10:00:00Z)}}'],
    ['imaging', '1', '-'],
  ]);
  t.is(rows[0]!.cells[0]!.items[0]!.weight, 'Bolder');
  t.like(tableEl.fallback, { type: 'TextBlock', fontType: 'Monospace' });
  t.regex((tableEl.fallback as { text: string }).text, /physics +3 +Mon 5 Jan, 10:00 UTC \(in 1h\)/);
});

test('a card too large for Teams keeps its title and says what was cut', (t) => {
  const rows = Array.from({ length: 400 }, (_, i) => [`pool-${i}`, 'x'.repeat(60), String(i)]);
  const { card } = renderCard(reply('info', 'Many pools', table(['pool', 'note', 'n'], rows)), { now: NOW });
  t.true(JSON.stringify(card).length <= LIMITS.cardChars);
  t.regex(JSON.stringify(card), /…and \d+ more rows not shown here/);
  t.like(card.body[0], { text: '• Many pools' });
});

test('text lines are separate blocks; errors are red; the summary names the expiry in UTC', (t) => {
  const { card, summary } = renderCard(reply('error', 'No', text('first\nsecond'), fields({ label: 'Expires', value: { time: NOW } })), { now: NOW });
  t.like(card.body[0], { color: 'Attention', text: '✖ No' });
  t.deepEqual(elements(card, 'TextBlock').slice(1).map((e) => e.text), ['first', 'second']);
  t.is(summary, 'No (expires: Mon 5 Jan, 09:00 UTC)');
  t.is(summaryText(reply('info', 'Plain')), 'Plain');
});

test('the command a click carries is read from Action.Execute data and Action.Submit values, and only ours', (t) => {
  t.deepEqual(decodeActionData({ verb: 'daaas.extend', data: { command: 'extend vm-1', owner: 'alice' } }), { command: 'extend vm-1', owner: 'alice' });
  t.deepEqual(decodeActionData({ type: 'Action.Submit', verb: 'daaas.extend', data: { command: 'extend vm-1' } }), { command: 'extend vm-1' });
  t.deepEqual(decodeActionData({ command: 'status' }), { command: 'status' });
  t.is(decodeActionData({ verb: 'someone.else', data: { command: 'extend vm-1' } }), undefined);
  t.is(decodeActionData({ verb: 'daaas.extend', data: { command: '' } }), undefined);
  t.is(decodeActionData('extend vm-1'), undefined);
  t.is(decodeActionData(null), undefined);
  t.is(verbFor('Release vm-1 --yes'), 'daaas.release');
  t.is(cardDate(Date.UTC(2026, 0, 7, 9, 0, 15, 999)), '{{DATE(2026-01-07T09:00:15Z, SHORT)}} {{TIME(2026-01-07T09:00:15Z)}}');
});
