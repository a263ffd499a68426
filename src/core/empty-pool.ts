/** Why no VM could be handed out at once, and when one is expected: the answer to a claim on an empty pool. */
import type { Circuit } from './circuit.ts';
import { formatDuration } from './duration.ts';
import { UserError } from './errors.ts';
import type { PoolSpec, Vm } from './model.ts';
import type { CloudStatus } from './service-types.ts';

export interface EmptyPoolFacts {
  pool: PoolSpec;
  /** The pool's live VMs. */
  vms: readonly Vm[];
  status: CloudStatus;
  /** The pool's usual time from boot to ready. */
  typicalMs: number;
  circuit: Circuit;
  now: number;
}

export function emptyPoolError({ pool, vms, status, typicalMs: typical, circuit, now }: EmptyPoolFacts): UserError {
  const coming = vms.filter((vm: Vm) => vm.state === 'booting' || vm.state === 'provisioning');
  const note = status.notes.get(pool.name);
  if (circuit.state !== 'closed' && coming.length === 0) {
    return new UserError(
      'POOL_FAILING',
      `No VM is ready in ${pool.name}, and none is being made: its last ${circuit.failures} VMs failed to start${circuit.lastError ? ` (${circuit.lastError})` : ''}, so the bot stopped booting it.`,
      `Ask ${pool.owner.name} (${pool.owner.contact}), who maintains its image.`,
    );
  }
  let when: string;
  if (coming.length > 0) {
    const eta = Math.max(Math.min(...coming.map((vm) => vm.createdAt + typical)), now + 5_000);
    when = `The next VM is expected in about ${formatDuration(eta - now)}.`;
  } else if (note) {
    when = `No new VM is on its way yet: the pool is ${note}.`;
  } else {
    when = `A new VM takes about ${formatDuration(typical)} to get ready.`;
  }
  if (status.lastError && coming.length === 0) {
    // Nothing can be made ready until the cloud answers again: say so rather than promise a time.
    return new UserError(
      'CLOUD_UNAVAILABLE',
      `No VM is ready in ${pool.name}, and the cloud is not answering at the moment, so no new one can be made ready until it is back.`,
      `Your request was not queued: try again in a few minutes with: claim ${pool.name}. Admins see the cloud's state in: admin pools`,
    );
  }
  const cloud = status.lastError ? ' The cloud is not answering at the moment, so the refill may take longer.' : '';
  return new UserError('POOL_EMPTY', `No VM is ready in ${pool.name} right now: the pool is refilling. ${when}${cloud}`, `Try again then: claim ${pool.name}`);
}
