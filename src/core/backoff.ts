import type { PoolHealth } from './model.ts';
import type { UserSetupFailures } from '../ports/store.ts';

/** How long back-off starts and how long it may grow, from the scheduler's settings. */
export interface BackoffSettings {
  backoffInitialMs: number;
  backoffMaxMs: number;
}

/**
 * Exponential back-off: how long to wait after the `failures`-th failure in a row (the first
 * waits `initialMs`), never longer than `maxMs`. Pure, so planners and tests share it.
 */
export function backoffMs(failures: number, initialMs: number, maxMs: number): number {
  if (failures <= 0) return 0;
  // Capped before it is raised, so a long run of failures cannot overflow to Infinity.
  return Math.min(maxMs, initialMs * 2 ** Math.min(failures - 1, 40));
}

/**
 * A pool's health after an error. Only a failure that counts (a boot or a provisioning run that
 * failed) lengthens the run of failures and pushes the pool's back-off out; any other error is
 * noted for the admins and leaves the back-off as it was.
 */
export function poolHealthAfterError(
  health: PoolHealth,
  error: { message: string; at: number; countsAsFailure: boolean },
  settings: BackoffSettings,
): PoolHealth {
  const failures = error.countsAsFailure ? health.consecutiveFailures + 1 : health.consecutiveFailures;
  return {
    pool: health.pool,
    lastError: error.message,
    lastErrorAt: error.at,
    consecutiveFailures: failures,
    backoffUntil: error.countsAsFailure ? error.at + backoffMs(Math.max(1, failures), settings.backoffInitialMs, settings.backoffMaxMs) : health.backoffUntil,
    ...(health.spec !== undefined ? { spec: health.spec } : {}),
  };
}

/** A user's run of set-up failures after one more: their claims wait until `retryAt`. */
export function userSetupFailuresAfter(
  previous: UserSetupFailures | undefined,
  failure: { user: string; message: string; at: number },
  settings: BackoffSettings,
): UserSetupFailures {
  const failures = (previous?.failures ?? 0) + 1;
  return {
    user: failure.user,
    failures,
    lastError: failure.message,
    lastFailedAt: failure.at,
    retryAt: failure.at + backoffMs(failures, settings.backoffInitialMs, settings.backoffMaxMs),
  };
}
