import { YES_FLAG, type CommandSpec } from '../src/chat/command-spec.ts';
import { reply, table, text } from '../src/chat/reply.ts';
import { formatDuration } from '../src/core/duration.ts';
import type { Circuit } from '../src/core/circuit.ts';
import type { PoolControl, PoolSpec } from '../src/core/model.ts';

export const adminPools: CommandSpec = {
  name: 'admin pools',
  summary: 'Admins: each pool in detail — every VM state, oldest lease, last error, image owner.',
  args: [],
  examples: ['admin pools'],
  flags: [YES_FLAG],
  permission: 'admin',
  handler({ who, service, now }) {
    const reports = service.admin.report(who);
    const cloud = service.cloudStatus();
    const figures = service.metrics();
    const rows = reports.map(({ pool, counts, health, note, oldestLease, typicalReadyMs, control, size, circuit }) => [
      pool.name,
      `${counts.ready}/${size}`,
      String(counts.booting),
      String(counts.provisioning),
      String(counts.claimed),
      String(counts.failed),
      `${counts.total}/${pool.max}`,
      oldestLease ? `${oldestLease.vm.name} (${oldestLease.user}, ${formatDuration(now - oldestLease.claimedAt)})` : '-',
      formatDuration(typicalReadyMs),
      formatDuration(figures.emptyMs.get(pool.name) ?? 0),
      [...controlNotes(pool, control, now), circuitNote(pool, circuit, now), health.lastError ? `${health.lastError} (${formatDuration(now - (health.lastErrorAt ?? now))} ago)` : '', circuit.state === 'closed' ? (note ?? '') : ''].filter(Boolean).join('; ') || '-',
    ]);
    const owners = reports.map(({ pool }) => `${pool.name}: ${pool.image} on ${pool.flavor}, maintained by ${pool.owner.name} <${pool.owner.contact}>`);
    const seen = cloud.lastObservedAt === null ? 'not yet' : `${formatDuration(now - cloud.lastObservedAt)} ago`;
    return reply(
      cloud.lastError ? 'warning' : 'info',
      'Pools (admin)',
      table(['pool', 'ready', 'booting', 'provisioning', 'claimed', 'failed', 'total/max', 'oldest lease', 'boot→ready', 'time empty', 'last error / note'], rows),
      text(cloud.lastError ? `Cloud: NOT answering — ${cloud.lastError}` : `Cloud: last observed ${seen}.`),
      text(
        figures.claimLatencyMs
          ? `Claims: median ${formatMs(figures.claimLatencyMs.p50)}, 95th percentile ${formatMs(figures.claimLatencyMs.p95)} (last ${figures.claimLatencyMs.count}, command in to reply out).`
          : 'Claims: none yet since the bot started.',
      ),
      text(`Images:\n${owners.map((o) => `  ${o}`).join('\n')}`),
    );
  },
};

/** What admins changed about the pool at run time, first in its notes. */
function controlNotes(pool: PoolSpec, control: PoolControl, now: number): string[] {
  return [
    control.size !== null ? `size ${control.size} set by an admin (configured ${pool.size}; admin resize ${pool.name} reset)` : '',
    control.drained ? `DRAINED by ${control.drained.by} ${formatDuration(now - control.drained.at)} ago: ${control.drained.reason}` : '',
    control.paused ? `PAUSED by ${control.paused.by} ${formatDuration(now - control.paused.at)} ago` : '',
  ];
}

/** A failing pool first: its booting stopped, when it tries again, how to close it, where its logs are. */
function circuitNote(pool: PoolSpec, circuit: Circuit, now: number): string {
  if (circuit.state === 'closed') return '';
  const when = circuit.state === 'open' ? `one trial boot in ${formatDuration(circuit.retryAt - now)}` : 'trying one boot';
  return `FAILING: ${circuit.failures} failures in a row, booting stopped (${when}; admin resume ${pool.name} closes it; admin log <vm> for a run's log)`;
}

/** Sub-millisecond latencies matter here, so not rounded to the minute like durations. */
function formatMs(ms: number): string {
  return ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`;
}
