import type { CommandSpec } from '../src/chat/command-spec.ts';
import { reply, text } from '../src/chat/reply.ts';
import { formatDuration } from '../src/core/duration.ts';

export const keep: CommandSpec = {
  name: 'keep',
  summary: 'Keep an idle VM: the bot does not ask about it again until it has been idle for another idle period.',
  args: [{ name: 'vm', description: 'The VM to keep (needed only if you have more than one).' }],
  examples: ['keep', 'keep excitations-k3f9'],
  permission: 'user',
  handler({ who, args, service }) {
    const { lease, quietForMs } = service.activity.keep(who, args.vm);
    return reply(
      'success',
      `You keep ${lease.vm.name}`,
      text(`The bot will not ask about it again unless it is idle for another ${formatDuration(quietForMs)}. It is still torn down when its lease ends: release it when you are done.`),
    );
  },
};
