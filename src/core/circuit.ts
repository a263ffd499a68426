import type { PoolHealth } from './model.ts';

/** When a failing pool stops booting, and when it tries again. */
export interface CircuitSettings {
  /** Boot or provisioning failures in a row that open the circuit. */
  failureLimit: number;
  /** How long an open circuit waits before one trial boot. */
  circuitRetryMs: number;
}

/**
 * A pool's circuit breaker, worked out from its health alone (no state of its own to keep in
 * step): `closed`, booting as usual; `open`, booting stopped after `failureLimit` failures in a
 * row; `trial`, `circuitRetryMs` after the last failure, one boot is allowed. A VM that gets
 * ready ends the run of failures and so closes it; a failed trial opens it again for as long.
 */
export type Circuit =
  | { state: 'closed' }
  | { state: 'open' | 'trial'; failures: number; lastError: string | null; retryAt: number };

export function circuitOf(health: PoolHealth, now: number, settings: CircuitSettings): Circuit {
  if (health.consecutiveFailures < settings.failureLimit) return { state: 'closed' };
  const retryAt = (health.lastErrorAt ?? now) + settings.circuitRetryMs;
  return { state: now >= retryAt ? 'trial' : 'open', failures: health.consecutiveFailures, lastError: health.lastError, retryAt };
}

/** The pool's health with its circuit closed: what an admin's resume does. */
export function closedCircuit(health: PoolHealth): PoolHealth {
  return { ...health, consecutiveFailures: 0, backoffUntil: null };
}

/**
 * What a pool's VMs are made from (image, flavour, networks), as kept with its health when a
 * boot or provisioning run fails: another fingerprint means another configuration.
 */
export function specFingerprint(pool: { image: string; flavor: string; networks: readonly string[] }): string {
  return JSON.stringify({ image: pool.image, flavor: pool.flavor, networks: [...pool.networks].sort() });
}

/**
 * Whether the pool's failures were counted under another configuration (its image, flavour or
 * networks changed since, e.g. across a restart): they were failures of something else, so an
 * open circuit closes and the count starts again.
 */
export function failedUnderOtherSpec(health: PoolHealth, pool: { image: string; flavor: string; networks: readonly string[] }): boolean {
  return health.consecutiveFailures > 0 && typeof health.spec === 'string' && health.spec !== specFingerprint(pool);
}

/** Three failures in a row open the circuit; one trial boot 30 minutes after the last. */
export const DEFAULT_CIRCUIT: CircuitSettings = { failureLimit: 3, circuitRetryMs: 30 * 60_000 };
