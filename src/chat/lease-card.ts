import type { LeaseView, PoolSpec } from '../core/model.ts';
import type { Personalisation } from '../ports/provisioner.ts';
import { formatDuration } from '../core/duration.ts';
import { actions, fields, reply, text, type Block, type Reply } from './reply.ts';

/** The pool's connection instructions with this VM's details filled in. */
export function connectText(pool: PoolSpec, lease: LeaseView): string {
  const values: Record<string, string> = { address: lease.vm.address ?? 'unknown', name: lease.vm.name, account: lease.user, pool: pool.name };
  return pool.connect.replace(/\{(\w+)\}/g, (whole, key: string) => values[key] ?? whole);
}

/** What a user sees of one of their VMs: in claim answers, status, reminders. */
export function leaseBlocks(lease: LeaseView, pool: PoolSpec, now: number): Block[] {
  const left = pool.maxExtensions - lease.extensionsUsed;
  return [
    fields(
      { label: 'VM', value: lease.vm.name },
      { label: 'Pool', value: pool.name },
      { label: 'Address', value: lease.vm.address ?? 'not known yet' },
      { label: 'Expires', value: { time: lease.expiresAt } },
      { label: 'Time left', value: { duration: Math.max(0, lease.expiresAt - now) } },
      { label: 'Extensions left', value: `${left} of ${pool.maxExtensions} (each +${formatDuration(pool.extensionStepMs)})` },
      { label: 'Home directory', value: lease.homeReadyAt === null ? 'being set up…' : 'ready' },
    ),
    text(`Connect: ${connectText(pool, lease)}`),
    actions(
      ...(left > 0 ? [{ label: `Extend +${formatDuration(pool.extensionStepMs)}`, command: `extend ${lease.vm.name}`, style: 'primary' as const }] : []),
      { label: 'Release', command: `release ${lease.vm.name}`, style: 'danger' as const },
    ),
  ];
}

export function reminderMessage(lease: LeaseView, pool: PoolSpec, now: number): Reply {
  const left = formatDuration(lease.expiresAt - now);
  const canExtend = lease.extensionsUsed < pool.maxExtensions;
  return reply(
    'warning',
    `${lease.vm.name} will be torn down in ${left}`,
    text(
      canExtend
        ? `Your VM expires soon. Extend it if you still need it, or release it when you are done.`
        : `Your VM expires soon and cannot be extended further: save your work to your home directory.`,
    ),
    ...leaseBlocks(lease, pool, now),
  );
}

export function homeReadyMessage(lease: LeaseView, pool: PoolSpec, done: Personalisation, now: number): Reply {
  const home = done.homeCreated ? `Your home directory ${done.home} was created for you` : `Your home directory ${done.home} is in place`;
  const legacy = done.legacyLinked ? ' and your home from the previous remote-desktop service is linked in it' : '';
  return reply('success', `${lease.vm.name} is ready for you`, text(`${home}${legacy}.`), ...leaseBlocks({ ...lease, homeReadyAt: now }, pool, now));
}

/**
 * Personalising failed. `userTied`: the reason is the user's account, not the VM, so claiming
 * again soon would fail the same way: say when they may, and whom to ask.
 */
export function setupFailedMessage(lease: LeaseView, why: string, userTied?: { retryInMs: number; contact: { name: string; contact: string } }): Reply {
  if (userTied) {
    return reply(
      'error',
      `${lease.vm.name} could not be set up for you`,
      text(
        `Preparing your account on it failed (${why}). This is about your account, not the VM, so a new claim would fail the same way until it is fixed: ask ${userTied.contact.name} (${userTied.contact.contact}). ` +
          `Nothing of yours was lost and your claim is back; you can claim again in ${formatDuration(userTied.retryInMs)}.`,
      ),
    );
  }
  return reply(
    'error',
    `${lease.vm.name} could not be set up for you`,
    text(`Preparing your account and home directory on it failed (${why}). Nothing of yours was lost. The VM is withdrawn and your claim is back: claim again with "claim ${lease.pool}".`),
    actions({ label: `Claim ${lease.pool}`, command: `claim ${lease.pool}`, style: 'primary' }),
  );
}

export function teardownMessage(lease: LeaseView, why: string): Reply {
  return reply(
    'info',
    `${lease.vm.name} has been torn down`,
    text(`${why} Your home directory is kept. Claim a new VM any time: claim ${lease.pool}`),
  );
}

/** An admin ended the holder's lease: who, and why. */
export function adminReleasedMessage(lease: LeaseView, admin: string, reason: string | null): Reply {
  return teardownMessage(lease, `An admin, ${admin}, ended your lease${reason ? `: ${reason}` : ' (no reason given)'}.`);
}

/** An admin extended the holder's lease, beyond the pool's usual limits if need be. */
export function adminExtendedMessage(lease: LeaseView, admin: string, reason: string | null, byMs: number): Reply {
  return reply(
    'success',
    `${lease.vm.name} was extended by ${formatDuration(byMs)}`,
    text(`An admin, ${admin}, extended your lease${reason ? `: ${reason}` : ''}.`),
    fields({ label: 'Expires', value: { time: lease.expiresAt } }),
  );
}

/** The lease's pool was removed from the configuration: the VM stays until its lease ends, never longer. */
export function poolRetiringMessage(lease: LeaseView, now: number): Reply {
  return reply(
    'warning',
    `Pool ${lease.pool} is being retired`,
    text(
      `It was removed from the bot's configuration. You keep ${lease.vm.name} until its lease ends, but it can no longer be extended: ` +
        'it is torn down then. Save your work to your home directory, which is kept.',
    ),
    fields({ label: 'VM', value: lease.vm.name }, { label: 'Expires', value: { time: lease.expiresAt } }, { label: 'Time left', value: { duration: Math.max(0, lease.expiresAt - now) } }),
  );
}
