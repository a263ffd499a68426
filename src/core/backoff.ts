/**
 * Exponential back-off: how long to wait after the `failures`-th failure in a row (the first
 * waits `initialMs`), never longer than `maxMs`. Pure, so planners and tests share it.
 */
export function backoffMs(failures: number, initialMs: number, maxMs: number): number {
  if (failures <= 0) return 0;
  // Capped before it is raised, so a long run of failures cannot overflow to Infinity.
  return Math.min(maxMs, initialMs * 2 ** Math.min(failures - 1, 40));
}
