import { YES_FLAG, type CommandSpec } from '../src/chat/command-spec.ts';
import { reply, table, text } from '../src/chat/reply.ts';
import type { LeaseActivityView } from '../src/core/activity-actions.ts';
import { formatDuration } from '../src/core/duration.ts';

export const adminLeases: CommandSpec = {
  name: 'admin leases',
  summary: 'Admins: every live lease (or one pool’s): holder, VM, pool, expiry, extensions used, home ready, busy or idle.',
  args: [{ name: 'pool', description: 'Only this pool’s leases.' }],
  flags: [YES_FLAG],
  examples: ['admin leases', 'admin leases excitations'],
  permission: 'admin',
  handler({ args, service, now }) {
    const leases = service.admin.leases(args.pool);
    const scope = args.pool ? ` in ${args.pool.toLowerCase()}` : '';
    if (leases.length === 0) return reply('info', `No live leases${scope}`, text('Nobody holds a VM at the moment.'));
    const activity = service.activity.leases(leases);
    const rows = leases.map((l) => [
      l.user,
      l.vm.name,
      l.pool,
      { time: l.expiresAt },
      { duration: Math.max(0, l.expiresAt - now) },
      String(l.extensionsUsed),
      l.homeReadyAt === null ? 'no' : 'yes',
      activityCell(activity.get(l.id)),
      `${((activity.get(l.id)?.idleTotalMs ?? 0) / 3_600_000).toFixed(1)}`,
    ]);
    return reply(
      'info',
      `${leases.length} live lease${leases.length === 1 ? '' : 's'}${scope}`,
      table(['holder', 'VM', 'pool', 'expires', 'time left', 'extensions used', 'home ready', 'activity', 'idle h'], rows),
      text('End one: admin release <vm> --reason TEXT · extend one: admin extend <vm> <duration> --reason TEXT'),
    );
  },
};

/** BUSY with the job, in use (a session), idle for how long, or unknown (no probe answered); a grace given is said. */
function activityCell(view: LeaseActivityView | undefined): string {
  if (!view) return 'unknown';
  const what =
    view.activity === 'busy' ? `BUSY: ${view.job}` : view.activity === 'in-use' ? 'in use' : view.activity === 'idle' ? `idle ${formatDuration(view.idleForMs)}` : 'unknown';
  return view.graceUntil !== null ? `${what} (grace given)` : what;
}
