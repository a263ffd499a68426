import type { CommandSpec } from '../src/chat/command-spec.ts';
import { reply, table, text } from '../src/chat/reply.ts';
import { formatDuration } from '../src/core/duration.ts';

export const adminPools: CommandSpec = {
  name: 'admin pools',
  summary: 'Admins: each pool in detail — every VM state, oldest lease, last error, image owner.',
  args: [],
  examples: ['admin pools'],
  permission: 'admin',
  handler({ who, service, now }) {
    const reports = service.adminReport(who);
    const cloud = service.cloudStatus();
    const rows = reports.map(({ pool, counts, health, note, oldestLease, typicalReadyMs }) => [
      pool.name,
      `${counts.ready}/${pool.size}`,
      String(counts.booting),
      String(counts.provisioning),
      String(counts.claimed),
      String(counts.failed),
      `${counts.total}/${pool.max}`,
      oldestLease ? `${oldestLease.vm.name} (${oldestLease.user}, ${formatDuration(now - oldestLease.claimedAt)})` : '-',
      formatDuration(typicalReadyMs),
      [health.lastError ? `${health.lastError} (${formatDuration(now - (health.lastErrorAt ?? now))} ago)` : '', note ?? ''].filter(Boolean).join('; ') || '-',
    ]);
    const owners = reports.map(({ pool }) => `${pool.name}: ${pool.image} on ${pool.flavor}, maintained by ${pool.owner.name} <${pool.owner.contact}>`);
    const seen = cloud.lastObservedAt === null ? 'not yet' : `${formatDuration(now - cloud.lastObservedAt)} ago`;
    return reply(
      cloud.lastError ? 'warning' : 'info',
      'Pools (admin)',
      table(['pool', 'ready', 'booting', 'provisioning', 'claimed', 'failed', 'total/max', 'oldest lease', 'boot→ready', 'last error / note'], rows),
      text(cloud.lastError ? `Cloud: NOT answering — ${cloud.lastError}` : `Cloud: last observed ${seen}.`),
      text(`Images:\n${owners.map((o) => `  ${o}`).join('\n')}`),
    );
  },
};
