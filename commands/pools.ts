import type { CommandSpec } from '../src/chat/command-spec.ts';
import { reply, table, text } from '../src/chat/reply.ts';

export const pools: CommandSpec = {
  name: 'pools',
  summary: 'Every pool: VMs ready to claim, on their way, in use, the maximum, lease length, GPU.',
  args: [],
  examples: ['pools'],
  permission: 'user',
  handler({ who, service }) {
    const overview = service.overview(who);
    const rows = overview.map(({ pool, counts, mayClaim }) => [
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
      ...overview.flatMap(({ pool, control }) => {
        // What admins changed for now: a closed pool, another warm size.
        if (control.drained) return [text(`${pool.name} is closed for maintenance: ${control.drained.reason}. Ask ${pool.owner.name} (${pool.owner.contact}).`)];
        if (control.size !== null) return [text(`${pool.name} keeps ${control.size} VMs warm for now (set by an admin; usually ${pool.size}).`)];
        return [];
      }),
      text('Claim with: claim <pool>'),
    );
  },
};
