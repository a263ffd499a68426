import type { types as slack } from '@slack/bolt';
import { formatDuration } from '../../core/duration.ts';
import type { LeaseView, PoolSpec } from '../../core/model.ts';
import type { PoolOverview } from '../../core/service.ts';
import { leaseBlocks } from '../lease-card.ts';
import { reply, type Reply } from '../reply.ts';
import { COMMAND_ACTION, encodeButtonValue, escape, fitBlocks, idSource, LIMITS, replyBlocks, slackDate } from './render-blocks.ts';

export interface HomeInput {
  now: number;
  /** The facility account whose home this is. */
  account: string;
  leases: readonly { lease: LeaseView; pool: PoolSpec }[];
  /** Every pool; the home shows those the user may claim from. */
  pools: readonly PoolOverview[];
  /** The outcome of a button clicked in the home tab, shown at the top. */
  notice?: Reply;
}

/** The App Home tab: my VMs as cards with their buttons, then what I may claim and how much is ready. */
export function homeView(input: HomeInput): slack.HomeView {
  const ids = idSource();
  const options = { now: input.now, owner: input.account, ids };
  const blocks: slack.KnownBlock[] = [];
  if (input.notice) blocks.push(...replyBlocks(input.notice, options), { type: 'divider' });

  blocks.push(header('Your analysis VMs'));
  if (input.leases.length === 0) {
    blocks.push(section('You have no VM at the moment. Claim one from a pool below, or with `/daaas claim <pool>`.'));
  }
  for (const { lease, pool } of input.leases) {
    blocks.push(...replyBlocks(reply('info', lease.vm.name, ...leaseBlocks(lease, pool, input.now)), options), { type: 'divider' });
  }

  const mine = input.pools.filter((p) => p.mayClaim);
  blocks.push(header('Pools you may claim'));
  if (mine.length === 0) blocks.push(section('There is no pool you may claim from. See every pool with `/daaas pools`; each names whom to ask for access.'));
  for (const { pool, counts } of mine) {
    const inUse = counts.claimed;
    const facts = [`${counts.ready} ready`, `${inUse} in use`, `max ${pool.max}`, `lease ${formatDuration(pool.leaseMs)}`, ...(pool.gpu ? ['GPU'] : [])];
    const block = section(`*${escape(pool.name)}*${pool.description ? ` — ${escape(pool.description)}` : ''}\n${facts.join(' · ')}`);
    block.accessory = {
      type: 'button',
      text: { type: 'plain_text', text: 'Claim' },
      action_id: `${COMMAND_ACTION}:${ids.next()}`,
      value: encodeButtonValue({ command: `claim ${pool.name}`, owner: input.account }),
      ...(counts.ready > 0 ? { style: 'primary' as const } : {}),
    };
    blocks.push(block);
  }
  blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `Updated ${slackDate(input.now)}. Type \`/daaas help\` for every command.` }] });
  return { type: 'home', blocks: fitBlocks(blocks, LIMITS.homeBlocks) };
}

/** The home of someone the bot cannot map to an account: why, and whom to ask. */
export function messageHomeView(message: Reply, now: number): slack.HomeView {
  return { type: 'home', blocks: fitBlocks(replyBlocks(message, { now }), LIMITS.homeBlocks) };
}

function header(text: string): slack.HeaderBlock {
  return { type: 'header', text: { type: 'plain_text', text } };
}

function section(text: string): slack.SectionBlock {
  return { type: 'section', text: { type: 'mrkdwn', text } };
}
