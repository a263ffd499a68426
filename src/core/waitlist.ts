/**
 * The waitlist's pure rules: a pool's queue settings with their defaults, how long a place in
 * the queue is likely to wait, and whether a lease may be extended while others wait.
 */
import type { PoolSpec } from './model.ts';

/** While people wait for a pool: extend as usual, at most once more, or not at all. */
export type ExtendWhileQueued = 'allow' | 'once' | 'refuse';

export interface QueueSettings {
  /** Whether a claim on an empty pool joins its queue (else it is refused as before). */
  queue: boolean;
  /** How long a ready VM is held for the head of the queue. */
  holdForMs: number;
  /** Lease the VM at once instead of offering it. */
  autoAssign: boolean;
  extendWhileQueued: ExtendWhileQueued;
}

export const DEFAULT_HOLD_MS = 10 * 60_000;

/** A pool's queue settings; a pool that does not say (one built without the configuration) has no queue. */
export function queueSettings(pool: PoolSpec): QueueSettings {
  return {
    queue: pool.queue ?? false,
    holdForMs: pool.holdForMs ?? DEFAULT_HOLD_MS,
    autoAssign: pool.autoAssign ?? false,
    extendWhileQueued: pool.extendWhileQueued ?? 'once',
  };
}

export interface WaitEstimateInput {
  now: number;
  /** How many waiting without a VM held for them are ahead of this place, plus one. */
  place: number;
  /** When each VM on its way (booting, provisioning) was created, oldest first. */
  inFlightCreatedAt: readonly number[];
  /** Creation-to-ready times actually seen in the pool (any order); empty before the first. */
  readyTimesMs: readonly number[];
  /** Boot + provisioning time assumed before any VM was seen getting ready. */
  defaultReadyMs: number;
  /** VMs that may boot at once for this pool: min(max - existing, maxConcurrentBoots), at least 1. */
  bootsAtOnce: number;
}

/** The median of what was seen, or the default before anything was. */
export function typicalReadyMs(readyTimesMs: readonly number[], defaultReadyMs: number): number {
  if (readyTimesMs.length === 0) return defaultReadyMs;
  const sorted = [...readyTimesMs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/**
 * When this place is likely to be offered a VM: the VMs on their way serve the places in
 * order, each ready about a typical boot-to-ready time after its creation; places beyond them
 * wait for further waves of boots, `bootsAtOnce` per wave, each taking the typical time.
 */
export function estimateWaitMs(i: WaitEstimateInput): number {
  const typical = typicalReadyMs(i.readyTimesMs, i.defaultReadyMs);
  const inFlight = [...i.inFlightCreatedAt].sort((a, b) => a - b);
  if (i.place <= inFlight.length) return Math.max(0, inFlight[i.place - 1]! + typical - i.now);
  const beyond = i.place - inFlight.length;
  const waves = Math.ceil(beyond / Math.max(1, i.bootsAtOnce));
  // A wave starts when the VMs now on their way are ready (boot slots free up then), or now.
  const start = inFlight.length > 0 ? Math.max(0, inFlight[inFlight.length - 1]! + typical - i.now) : 0;
  return start + waves * typical;
}

export type ExtensionVerdict = { ok: true } | { ok: false; reason: string };

/**
 * Whether a holder may extend while `waiting` people queue for the pool, having extended
 * `whileQueued` times while others waited. An admin's extension is never limited by this.
 */
export function extensionWhileQueued(policy: ExtendWhileQueued, waiting: number, whileQueued: number): ExtensionVerdict {
  if (waiting === 0 || policy === 'allow') return { ok: true };
  const people = waiting === 1 ? '1 person is' : `${waiting} people are`;
  if (policy === 'refuse') return { ok: false, reason: `${people} waiting for a VM of this pool, and it allows no extensions while anyone waits` };
  if (whileQueued === 0) return { ok: true };
  return { ok: false, reason: `${people} waiting for a VM of this pool, and you have extended once already while others wait (the most it allows)` };
}
