/**
 * Activity keys: how often claimed VMs are looked at (`activity`), and per pool (or in
 * `defaults`) when an idle VM's holder is asked and when it goes back (`idle`), and the one
 * grace a busy VM gets at expiry (`graceWhenBusy`).
 */
import { z } from 'zod';
import { DEFAULT_GRACE_WHEN_BUSY_MS, DEFAULT_IDLE_AFTER_MS } from '../core/activity.ts';
import type { PoolSpec } from '../core/model.ts';
import { count, duration, fraction } from './schema-values.ts';

const path = z.string().regex(/^(\/[A-Za-z0-9._-]+)+$/, 'must be an absolute path of plain names, e.g. /scratch');
const off = z.literal('off');
/** `0` or `off` turns a duration off. */
const durationOrOff = z.union([z.literal(0), off, duration], { error: 'expected a duration such as 30m or 2h, or off' });

export const activitySettings = z
  .strictObject({
    /** Time between two probes of a claimed VM. */
    every: duration.default(15 * 60_000),
    /** Each probe's time is moved by up to this fraction of `every`, so probes spread out. */
    jitter: fraction.default(0.2),
    /** Probes at once (a runner of their own: provisioning never waits for them). */
    concurrency: count(1).default(4),
    /** A probe taking longer is stopped, and the VM's activity is unknown (never idle). */
    timeout: duration.default(2 * 60_000),
    /** Where files changed during the lease count as unsaved work (the persistent home never does). */
    paths: z.array(path).max(20).default(['/tmp', '/scratch', '/data/local']),
    /** The simulated probe (embedded default): a JSON file scripting VMs ({"<vm>": {"state": "busy"}}), read at every probe. */
    simulatedFile: z.string().min(1).optional(),
  })
  .prefault({});

export const idleRules = z.strictObject({
  /** No session and no busy process of the holder for this long: the holder is asked once. */
  after: duration.optional(),
  /** Unanswered this long after asking, while someone waits for the pool: released. Off by default. */
  releaseAfter: durationOrOff.optional(),
});

/** Keys a pool and `defaults` may carry. */
export const poolActivityFields = {
  idle: idleRules.optional(),
  graceWhenBusy: durationOrOff.optional(),
};

type IdleRules = z.output<typeof idleRules>;
type Off = number | 'off';

const offToZero = (v: Off | undefined) => (v === undefined ? undefined : v === 'off' ? 0 : v);

/** A pool's activity rules from its keys, else the defaults' keys, else the built-in defaults. */
export function poolActivity(p: { idle?: IdleRules | undefined; graceWhenBusy?: Off | undefined }, d: { idle?: IdleRules | undefined; graceWhenBusy?: Off | undefined }): Pick<PoolSpec, 'idle' | 'graceWhenBusyMs'> {
  const release = offToZero(p.idle?.releaseAfter ?? d.idle?.releaseAfter);
  return {
    idle: { afterMs: p.idle?.after ?? d.idle?.after ?? DEFAULT_IDLE_AFTER_MS, releaseAfterMs: release ? release : null },
    graceWhenBusyMs: offToZero(p.graceWhenBusy ?? d.graceWhenBusy) ?? DEFAULT_GRACE_WHEN_BUSY_MS,
  };
}

export type RawActivitySettings = z.output<typeof activitySettings>;
