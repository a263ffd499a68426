import test from 'ava';
import { holdLapsedMessage, holdOfferMessage, queueBlocks, queuedReply } from '../../src/chat/queue-card.ts';
import { renderText } from '../../src/chat/shell/render-text.ts';
import { decodeButtonValue, renderBlocks } from '../../src/chat/slack/render-blocks.ts';
import { decodeActionData, renderCard } from '../../src/chat/teams/render-card.ts';
import type { PoolSpec } from '../../src/core/model.ts';

const NOW = Date.UTC(2026, 0, 5, 9);
const POOL = { name: 'physics', holdForMs: 600_000 } as PoolSpec;

/** Every button of a Slack message: its label, command, owner, and whether it asks first. */
function slackButtons(message: ReturnType<typeof renderBlocks>) {
  return message.blocks.flatMap((b) => (b.type === 'actions' ? b.elements : [])).map((e) => {
    const button = e as { text: { text: string }; value: string; confirm?: unknown; style?: string };
    return { label: button.text.text, ...decodeButtonValue(button.value), confirms: button.confirm !== undefined, style: button.style };
  });
}

/** Every Action.Execute of a Teams card, wherever it sits. */
function teamsActions(card: unknown): { title: string; command: string; owner?: string }[] {
  const found: { title: string; command: string; owner?: string }[] = [];
  const visit = (node: unknown) => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (typeof node !== 'object' || node === null) return;
    const n = node as Record<string, unknown>;
    if (n.type === 'Action.Execute') found.push({ title: n.title as string, ...decodeActionData({ verb: n.verb, data: n.data })! });
    for (const value of Object.values(n)) visit(value);
  };
  visit(card);
  return found;
}

test('the hold offer carries Claim it and Pass on every platform, tied to its holder', (t) => {
  const offer = holdOfferMessage(POOL, 'physics-k3f9', NOW + 600_000);
  const shell = renderText(offer, { now: NOW, timeZone: 'UTC' });
  t.regex(shell, /^✔ A VM of physics is ready for you: physics-k3f9$/m);
  t.regex(shell, /\[Claim it: claim physics\] {2}\[Pass: leave physics\]/);
  t.regex(shell, /Held until: .* \(in 10m\)/);

  t.deepEqual(slackButtons(renderBlocks(offer, { now: NOW, owner: 'alice' })), [
    { label: 'Claim it', command: 'claim physics', owner: 'alice', confirms: false, style: 'primary' },
    { label: 'Pass', command: 'leave physics', owner: 'alice', confirms: true, style: 'danger' },
  ]);
  t.deepEqual(teamsActions(renderCard(offer, { now: NOW, owner: 'alice' }).card), [
    { title: 'Claim it', command: 'claim physics', owner: 'alice' },
    { title: 'Pass', command: 'leave physics', owner: 'alice' },
  ]);
});

test('a queued claim offers Leave the queue; a lapsed hold offers to claim again; status shows places', (t) => {
  const queued = queuedReply(POOL, 3, 95_000, true, false);
  t.is(queued.title, 'You are number 3 in the queue for physics');
  t.regex(renderText(queued, { now: NOW, timeZone: 'UTC' }), /Expected wait: about 2m\n {2}\[Leave the queue: leave physics\]/);
  t.deepEqual(slackButtons(renderBlocks(queued, { now: NOW })).map((b) => [b.label, b.command, b.confirms]), [['Leave the queue', 'leave physics', true]]);
  t.deepEqual(teamsActions(renderCard(queued, { now: NOW }).card).map((a) => a.command), ['leave physics']);
  t.is(queuedReply(POOL, 2, 0, false, true).title, 'You are already in the queue for physics: number 2');
  t.regex(JSON.stringify(queuedReply(POOL, 1, 500, true, true)), /about 1s/, 'never "about 0s"');

  const lapsed = holdLapsedMessage(POOL, 'physics-k3f9');
  t.regex(renderText(lapsed, { now: NOW }), /you have left the queue for physics\. Claim again to queue again\.\n {2}\[Claim physics: claim physics\]/);

  const blocks = queueBlocks([
    { entry: { id: 1, pool: 'physics', user: 'alice', platform: 'test', conversation: 'c', joinedAt: NOW - 60_000, hold: null }, position: 2 },
    { entry: { id: 2, pool: 'imaging', user: 'alice', platform: 'test', conversation: 'c', joinedAt: NOW - 1_000, hold: { vmId: 'v', offeredAt: NOW, until: NOW + 600_000 } }, position: 1 },
  ]);
  const text = renderText({ tone: 'info', title: 't', blocks }, { now: NOW, timeZone: 'UTC' });
  t.regex(text, /physics +2 +.*\(1m ago\) +not yet/);
  t.regex(text, /imaging +1 +.*\(in 10m\)/);
  t.regex(text, /\[Leave the queue: leave physics\] {2}\[Claim imaging: claim imaging\]/);
  t.deepEqual(queueBlocks([]), []);
});
