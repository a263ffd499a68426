/**
 * The waitlist's share of the Store: per pool, users waiting for a VM, first come first served,
 * and the ready VM held for one of them. Every method is atomic and joins an enclosing
 * transaction, so a hold is offered in the same transaction as its message is queued.
 */

/** A VM set aside for one waiting user until `until`: nobody else can claim it. */
export interface Hold {
  vmId: string;
  offeredAt: number;
  until: number;
}

export interface QueueEntry {
  /** Increasing: the order of the queue. */
  id: number;
  pool: string;
  user: string;
  /** Where the user is told about holds: the platform and conversation they queued from. */
  platform: string;
  conversation: string;
  joinedAt: number;
  hold: Hold | null;
}

export interface JoinRequest {
  pool: string;
  user: string;
  platform: string;
  conversation: string;
  now: number;
}

export type JoinOutcome = { joined: boolean; entry: QueueEntry; position: number };

export interface WaitlistStore {
  /** Users waiting in the pool's queue, those offered a held VM included. */
  queuedCount(pool: string): number;
  /** Puts the user at the back of the pool's queue; `joined` false if already in it (nothing changes). */
  joinQueue(request: JoinRequest): JoinOutcome;
  /** Removes the user from the pool's queue (a VM held for them is free again); the entry removed, if any. */
  leaveQueue(pool: string, user: string): QueueEntry | undefined;
  /** Entries in queue order (the pool's, the user's, or all). */
  queueEntries(filter?: { pool?: string; user?: string }): QueueEntry[];
  /** The user's 1-based place in the pool's queue, or null when not in it. */
  queuePosition(pool: string, user: string): number | null;
  /**
   * Holds the VM for the entry until `until`, if the entry is still queued without a hold and the
   * VM is ready and held for nobody. Returns whether it did.
   */
  holdVm(entryId: number, vmId: string, now: number, until: number): boolean;
  /** Ready VMs of the pool held for nobody, oldest ready first. */
  unheldReadyVms(pool: string): string[];
  /** All VMs currently held: they are not warm spare capacity and are never retired. */
  heldVmIds(): string[];
  /** The hold is over but the entry keeps its place (the VM failed or went); false if it had none. */
  dropHold(entryId: number): boolean;
  /** Removes an entry (its hold lapsed, it was served); false if it was gone already. */
  removeEntry(entryId: number): boolean;
  /** Entries whose hold ran out at `now`, oldest first. */
  lapsedHolds(now: number): QueueEntry[];
  /**
   * Leases the VM held for the entry to its user and removes the entry, in one transaction:
   * the new lease's id, or null, changing nothing, if the hold is gone or the VM is no longer ready.
   */
  claimHeld(entryId: number, lease: { now: number; leaseMs: number }): string | null;
  /** Extensions a lease was granted while others waited for its pool. */
  queuedExtensions(leaseId: string): number;
  /** Records one more extension granted while others waited. */
  countQueuedExtension(leaseId: string): void;
}
