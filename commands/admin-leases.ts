import { YES_FLAG, type CommandSpec } from '../src/chat/command-spec.ts';
import { reply, table, text } from '../src/chat/reply.ts';

export const adminLeases: CommandSpec = {
  name: 'admin leases',
  summary: 'Admins: every live lease (or one pool’s): holder, VM, pool, expiry, extensions used, home ready.',
  args: [{ name: 'pool', description: 'Only this pool’s leases.' }],
  flags: [YES_FLAG],
  examples: ['admin leases', 'admin leases excitations'],
  permission: 'admin',
  handler({ args, service, now }) {
    const leases = service.admin.leases(args.pool);
    const scope = args.pool ? ` in ${service.pool(args.pool).name}` : '';
    if (leases.length === 0) return reply('info', `No live leases${scope}`, text('Nobody holds a VM at the moment.'));
    const rows = leases.map((l) => [
      l.user,
      l.vm.name,
      l.pool,
      { time: l.expiresAt },
      { duration: Math.max(0, l.expiresAt - now) },
      String(l.extensionsUsed),
      l.homeReadyAt === null ? 'no' : 'yes',
    ]);
    return reply(
      'info',
      `${leases.length} live lease${leases.length === 1 ? '' : 's'}${scope}`,
      table(['holder', 'VM', 'pool', 'expires', 'time left', 'extensions used', 'home ready'], rows),
      text('End one: admin release <vm> --reason TEXT · extend one: admin extend <vm> <duration> --reason TEXT'),
    );
  },
};
