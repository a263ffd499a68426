import { YES_FLAG, type CommandSpec } from '../src/chat/command-spec.ts';
import { describePoolSize } from '../src/core/pool-size-text.ts';
import { reply, table, text } from '../src/chat/reply.ts';
import { formatDuration } from '../src/core/duration.ts';
import type { PoolActivityView } from '../src/core/activity-actions.ts';
import type { Circuit } from '../src/core/circuit.ts';
import type { PoolControl, PoolSpec } from '../src/core/model.ts';
import type { PoolSize } from '../src/core/pool-size.ts';

export const adminPools: CommandSpec = {
  name: 'admin pools',
  summary: 'Admins: each pool in detail — every VM state, people waiting, oldest lease, last error, image owner.',
  args: [],
  examples: ['admin pools'],
  flags: [YES_FLAG],
  permission: 'admin',
  handler({ who, service, now }) {
    const reports = service.admin.report(who);
    const cloud = service.cloudStatus();
    const figures = service.metrics();
    const zone = service.sizes.settings.timeZone;
    const rows = reports.map(({ pool, counts, health, note, oldestLease, typicalReadyMs, control, size, sizeWhy, circuit }) => [
      pool.name,
      `${counts.ready}/${size}`,
      String(counts.booting),
      String(counts.provisioning),
      String(counts.claimed),
      String(service.queueLength(pool.name)),
      String(counts.failed),
      `${counts.total}/${pool.max}`,
      oldestLease ? `${oldestLease.vm.name} (${oldestLease.user}, ${formatDuration(now - oldestLease.claimedAt)})` : '-',
      formatDuration(typicalReadyMs),
      formatDuration(figures.emptyMs.get(pool.name) ?? 0),
      [sizeNote(pool, sizeWhy, now, zone), ...controlNotes(pool, control, now), circuitNote(pool, circuit, now), health.lastError ? `${health.lastError} (${formatDuration(now - (health.lastErrorAt ?? now))} ago)` : '', circuit.state === 'closed' ? (note ?? '') : ''].filter(Boolean).join('; ') || '-',
    ]);
    // Pools removed from the configuration, until nothing of them is left (core/retired-pools.ts).
    for (const { pool, counts, leases, note } of service.admin.retiredPools()) {
      const oldest = [...leases].sort((a, b) => a.claimedAt - b.claimedAt)[0];
      const last = leases.at(-1);
      rows.push([
        `${pool} (removed from configuration)`,
        `${counts.ready}/0`,
        String(counts.booting),
        String(counts.provisioning),
        String(counts.claimed),
        '-',
        String(counts.failed),
        `${counts.total}/0`,
        oldest ? `${oldest.vm.name} (${oldest.user}, ${formatDuration(now - oldest.claimedAt)})` : '-',
        '-',
        '-',
        `${note}${last ? `; the last lease ends in ${formatDuration(Math.max(0, last.expiresAt - now))}` : ''}`,
      ]);
    }
    // A failing pool's last failures, each with the command that shows its run's log.
    const failing = reports
      .filter((r) => r.failures.length > 0)
      .map(({ pool, failures }) => `${pool.name} is FAILING; its last failures:\n${failures.map((f) => `  ${f.vm} (${formatDuration(now - f.at)} ago): ${f.error}${f.booted ? ` — admin log ${f.vm}` : ''}`).join('\n')}`);
    const owners = reports.map(({ pool }) => `${pool.name}: ${pool.image} on ${pool.flavor}, maintained by ${pool.owner.name} <${pool.owner.contact}>`);
    const seen = cloud.lastObservedAt === null ? 'not yet' : `${formatDuration(now - cloud.lastObservedAt)} ago`;
    return reply(
      cloud.lastError ? 'warning' : 'info',
      'Pools (admin)',
      table(['pool', 'ready', 'booting', 'provisioning', 'claimed', 'waiting', 'failed', 'total/max', 'oldest lease', 'boot→ready', 'time empty', 'last error / note'], rows),
      ...failing.map((f) => text(f)),
      text(cloud.lastError ? `Cloud: NOT answering — ${cloud.lastError}` : `Cloud: last observed ${seen}.`),
      text(
        figures.claimLatencyMs
          ? `Claims: median ${formatMs(figures.claimLatencyMs.p50)}, 95th percentile ${formatMs(figures.claimLatencyMs.p95)} (last ${figures.claimLatencyMs.count}, command in to reply out).`
          : 'Claims: none yet since the bot started.',
      ),
      text(activityLine(service.activity.pools())),
      text(`Images:\n${owners.map((o) => `  ${o}`).join('\n')}`),
    );
  },
};

/** Claimed VMs per pool by what their latest probe saw, and the idle VM-hours of live leases. */
function activityLine(pools: Map<string, PoolActivityView>): string {
  const parts = [...pools].filter(([, a]) => a.busy + a.inUse + a.idle + a.unknown > 0).map(([name, a]) => {
    const counts = [a.busy ? `${a.busy} busy` : '', a.inUse ? `${a.inUse} in use` : '', a.idle ? `${a.idle} idle` : '', a.unknown ? `${a.unknown} unknown` : ''].filter(Boolean).join(', ');
    return `  ${name}: ${counts}; idle ${(a.idleMs / 3_600_000).toFixed(1)} VM-hours`;
  });
  return parts.length ? `Claimed VMs (latest probe):\n${parts.join('\n')}` : 'Claimed VMs: none.';
}

/** A warm size other than the configured one, first in the notes: "size 12 until 18:00: weekday mornings (configured 5)". */
function sizeNote(pool: PoolSpec, why: PoolSize, now: number, timeZone: string): string {
  if (why.source === 'configured' || why.source === 'drained') return '';
  return `size ${describePoolSize(why, now, timeZone)} (configured ${pool.size}${why.source === 'admin' ? `; admin resize ${pool.name} reset` : ''})`;
}

/** What admins changed about the pool at run time (drained, paused), in its notes. */
function controlNotes(pool: PoolSpec, control: PoolControl, now: number): string[] {
  return [
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
