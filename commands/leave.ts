import type { CommandSpec } from '../src/chat/command-spec.ts';
import { reply, text } from '../src/chat/reply.ts';

export const leave: CommandSpec = {
  name: 'leave',
  summary: 'Leave a pool’s queue; a VM held for you passes to the next in line.',
  args: [{ name: 'pool', description: 'The queue to leave (needed only if you wait in more than one).' }],
  examples: ['leave', 'leave excitations'],
  permission: 'user',
  handler({ who, args, service }) {
    const left = service.leave(who, args.pool);
    const behind = left.behind === 0 ? 'Nobody was behind you.' : `${left.behind === 1 ? 'The 1 person' : `The ${left.behind} people`} behind you moved up.`;
    if (left.passed) {
      return reply('success', `You passed ${left.passed} on and left the queue for ${left.pool}`, text(`${left.othersWait ? 'It goes to the next in line.' : 'Nobody else waits for one, so it goes back to the pool.'} ${behind} Claim again to queue again: claim ${left.pool}`));
    }
    return reply('success', `You left the queue for ${left.pool}`, text(`${behind} Claim again to queue again: claim ${left.pool}`));
  },
};
