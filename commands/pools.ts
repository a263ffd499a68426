import type { CommandSpec } from '../src/chat/command-spec.ts';
import { reply, table, text } from '../src/chat/reply.ts';

export const pools: CommandSpec = {
  name: 'pools',
  summary: 'Every pool: VMs ready to claim, on their way, in use, the maximum, lease length, GPU.',
  args: [],
  examples: ['pools'],
  permission: 'user',
  handler({ who, service }) {
    const rows = service.overview(who).map(({ pool, counts, mayClaim }) => [
      pool.name,
      String(counts.ready),
      String(counts.booting + counts.provisioning),
      String(counts.claimed),
      String(pool.max),
      { duration: pool.leaseMs },
      pool.gpu ? 'yes' : 'no',
      mayClaim ? 'yes' : 'no',
    ]);
    return reply(
      'info',
      'Pools',
      table(['pool', 'ready', 'coming', 'in use', 'max', 'lease', 'GPU', 'you may claim'], rows),
      text('Claim with: claim <pool>'),
    );
  },
};
