import type { CommandSpec } from '../src/chat/command-spec.ts';
import { actions, fields, reply, text } from '../src/chat/reply.ts';

export const release: CommandSpec = {
  name: 'release',
  summary: 'Give your VM back: it is destroyed and the pool refilled. Asks to confirm unless --yes.',
  args: [{ name: 'vm', description: 'The VM to release (needed only if you have more than one).' }],
  flags: [{ name: 'yes', description: 'Release without asking to confirm.' }],
  examples: ['release', 'release excitations-k3f9 --yes'],
  permission: 'user',
  handler({ who, args, flags, service }) {
    const { lease, released } = service.release(who, args.vm, flags.has('yes'));
    if (!released) {
      return reply(
        'warning',
        `Release ${lease.vm.name}?`,
        text('The VM will be destroyed; anything outside your home directory is lost.'),
        fields({ label: 'Expires', value: { time: lease.expiresAt } }),
        text(`To confirm, say: release ${lease.vm.name} --yes`),
        actions({ label: `Release ${lease.vm.name}`, command: `release ${lease.vm.name} --yes`, style: 'danger' }),
      );
    }
    return reply('success', `${lease.vm.name} released`, text(`It is being destroyed and pool ${lease.pool} refilled. Your home directory is kept.`));
  },
};
