import type { HistoryCutoffs, PrunedCounts } from '../core/retention.ts';

/** The store's forgetting of old history (see core/retention.ts), in small batches. */
export interface HistoryStore {
  /**
   * Deletes at most `limit` old rows of each kind (reminder records, leases, VMs, audit
   * records), oldest first, in one short transaction; says how many went.
   */
  pruneHistory(cutoffs: HistoryCutoffs, limit: number): PrunedCounts;
}
