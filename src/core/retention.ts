/**
 * What history is old enough to forget. The bot keeps what it needs to run (live leases, VMs
 * that exist) for ever; what is over it keeps for `history` (deleted VMs, ended leases and
 * their reminder records), and the audit trail, which answers "who did what", for `audit`.
 */
export interface RetentionSettings {
  /** How long ended leases, their reminder records and deleted VMs are kept. */
  historyMs: number;
  /** How long audit records are kept. */
  auditMs: number;
}

export const DEFAULT_RETENTION: RetentionSettings = { historyMs: 90 * 86_400_000, auditMs: 400 * 86_400_000 };

/**
 * The moments before which history is old, at `now`:
 * - a lease ended before `historyBefore` is old, and so are its reminder records;
 * - a VM deleted before `historyBefore` is old once no lease of it is left;
 * - an audit record made before `auditBefore` is old.
 */
export interface HistoryCutoffs {
  historyBefore: number;
  auditBefore: number;
}

export function retentionCutoffs(now: number, settings: RetentionSettings): HistoryCutoffs {
  return { historyBefore: now - settings.historyMs, auditBefore: now - settings.auditMs };
}

/** Rows forgotten by one batch, by kind. */
export interface PrunedCounts {
  reminders: number;
  leases: number;
  vms: number;
  audit: number;
}

/** Whether a batch that deleted `counts` rows, at most `limit` of each kind, may have left more. */
export function moreToPrune(counts: PrunedCounts, limit: number): boolean {
  return counts.reminders >= limit || counts.leases >= limit || counts.vms >= limit || counts.audit >= limit;
}

export function prunedTotal(counts: PrunedCounts): number {
  return counts.reminders + counts.leases + counts.vms + counts.audit;
}
