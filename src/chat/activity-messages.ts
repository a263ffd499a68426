/** What the holder is told about their VM's activity: the idle question, an idle release, the grace. */
import { formatDuration } from '../core/duration.ts';
import type { LeaseView } from '../core/model.ts';
import { actions, reply, text, type Reply } from './reply.ts';

/** "excitations-ab12 has been idle for 12h. Release it so a colleague can use it?" with Release and Keep it. */
export function idlePromptMessage(lease: LeaseView, idleMs: number): Reply {
  return reply(
    'info',
    `${lease.vm.name} has been idle for ${roughly(idleMs)}. Release it so a colleague can use it?`,
    text('Nobody has been logged in and nothing of yours has been running on it. Your home directory is kept when it goes; anything else on the VM is lost.'),
    actions(
      { label: 'Release', command: `release ${lease.vm.name} --yes`, style: 'danger' },
      { label: 'Keep it', command: `keep ${lease.vm.name}`, style: 'primary' },
    ),
  );
}

export function idleReleasedMessage(lease: LeaseView, idleMs: number, waiting: number): Reply {
  return reply(
    'info',
    `${lease.vm.name} was released: it had been idle for ${roughly(idleMs)}`,
    text(
      `You did not answer whether you still needed it, and ${waiting === 1 ? 'a colleague is' : `${waiting} colleagues are`} waiting for pool ${lease.pool}. ` +
        `Your home directory is kept. Claim a new VM any time: claim ${lease.pool}`,
    ),
  );
}

/** "excitations-ab12 was due for teardown, but a job is running (python …). It stays until 15:00; extend it if the job needs longer." */
export function graceMessage(lease: LeaseView, job: string, until: number): Reply {
  return reply(
    'warning',
    `${lease.vm.name} was due for teardown, but a job is running (${job})`,
    text(`It stays ${formatDuration(until - lease.expiresAt)} longer, once; extend it if the job needs longer, or it is torn down then.`),
    { type: 'fields', fields: [{ label: 'Stays until', value: { time: until } }] },
    actions({ label: 'Extend', command: `extend ${lease.vm.name}`, style: 'primary' }),
  );
}

/** The last reminder's extra lines: what runs and what will be lost. */
export function activityNote(job: string | null, unsaved: readonly string[], unknown: boolean): string[] {
  const lines: string[] = [];
  if (job) lines.push(`A job is running on it: ${job}.`);
  else if (unknown) lines.push('The bot could not look at what is running on it just now.');
  return [...lines, ...unsaved];
}

/** A reply with lines added before its details (the reminder card). */
export function withNote(body: Reply, lines: readonly string[]): Reply {
  if (lines.length === 0) return body;
  return { ...body, blocks: [body.blocks[0]!, text(lines.join('\n')), ...body.blocks.slice(1)] };
}

/** Idle time as people say it: whole hours from an hour on (12h, not 12h 10m). */
function roughly(ms: number): string {
  return formatDuration(ms >= 3_600_000 ? Math.floor(ms / 3_600_000) * 3_600_000 : ms);
}
