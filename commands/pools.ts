import type { CommandSpec } from '../src/chat/command-spec.ts';
import { describePoolSize } from '../src/core/pool-size-text.ts';
import { reply, table, text } from '../src/chat/reply.ts';

export const pools: CommandSpec = {
  name: 'pools',
  summary: 'Every pool: VMs ready to claim, on their way, in use, the maximum, lease length, GPU.',
  args: [],
  examples: ['pools'],
  permission: 'user',
  handler({ who, service, now }) {
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
      ...overview.flatMap(({ pool, control, sizeWhy }) => {
        // A closed pool; another warm size than the configured one, and why (an admin, a schedule).
        if (control.drained) return [text(`${pool.name} is closed for maintenance: ${control.drained.reason}. Ask ${pool.owner.name} (${pool.owner.contact}).`)];
        if (sizeWhy.source !== 'configured') return [text(`${pool.name} warm size ${describePoolSize(sizeWhy, now, service.sizes.settings.timeZone)} (usually ${pool.size}).`)];
        return [];
      }),
      // Demand beyond the warm pool: how many wait (a claim queues behind them).
      ...overview.flatMap(({ pool }) => {
        const waiting = service.queueLength(pool.name);
        return waiting > 0 ? [text(`${pool.name}: ${waiting === 1 ? '1 person waits' : `${waiting} people wait`} for a VM; a claim queues behind them.`)] : [];
      }),
      text('Claim with: claim <pool>'),
    );
  },
};
