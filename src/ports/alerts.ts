import type { Alert, AlertKind, AlertStatus } from '../core/alerts.ts';
import type { VmState } from '../core/model.ts';

/** A conversation alerts go to besides the configured ones, set from chat with `admin alerts here`. */
export interface AlertConversation {
  platform: string;
  conversation: string;
  setBy: string;
  setAt: number;
}

/**
 * The alerts' share of the store: the incidents (pending, open, resolved), where alerts go, and
 * what the alert watch reads that no other part needs. Every method joins an enclosing
 * transaction, so an alert's new state commits with its outbox messages.
 */
export interface AlertStore {
  /** Pending and open alerts, oldest first. */
  liveAlerts(): Alert[];
  /** Resolved alerts, newest first. */
  resolvedAlerts(limit: number): Alert[];
  /** Stores a new alert (its id is given here). */
  addAlert(alert: Omit<Alert, 'id'>): Alert;
  /** Saves an alert's new state. */
  saveAlert(alert: Alert): void;
  /** Forgets a pending alert whose condition went away before it was raised. */
  dropAlert(id: number): void;
  /** Forgets resolved alerts resolved before `before`. Returns how many. */
  pruneAlerts(before: number): number;
  alertConversations(): AlertConversation[];
  /** Alerts go (also) to this conversation of its platform; one per platform, the latest wins. */
  setAlertConversation(entry: AlertConversation): void;
  /** Per pool, the last claim refused because nothing was ready (empty, failing, cloud down) at or after `since`. */
  refusedClaimsSince(since: number): Map<string, number>;
  /** Per pool, its VMs in each state but deleted: one grouped count, cheap at every tick. */
  vmStateCounts(): Map<string, Partial<Record<VmState, number>>>;
  /** Per pool, the live leases whose expiry is after `from` and at or before `to`. */
  leasesEndingBetween(from: number, to: number): Map<string, number>;
  /** Users whose set-up failed `atLeast` times in a row, with their last error. */
  usersFailingSetup(atLeast: number): { user: string; failures: number; lastError: string; lastFailedAt: number }[];
}

export type { Alert, AlertKind, AlertStatus };
