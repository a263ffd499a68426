/** A pool's keys, and the defaults every pool takes what it leaves out from. */
import { z } from 'zod';
import { poolActivityFields } from './schema-activity.ts';
import { count, DEFAULT_LEASE_MS, DEFAULT_REMINDERS_MS, duration, groupRef } from './schema-values.ts';

export const poolFields = {
  description: z.string().max(200),
  image: z.string().min(1),
  flavor: z.string().min(1),
  gpu: z.boolean(),
  networks: z.array(z.string().min(1)),
  size: count(0),
  max: count(1),
  lease: duration,
  remindBefore: z.array(duration).max(10),
  extensionStep: duration,
  maxExtensions: count(0),
  maxLeasesPerUser: count(1),
  groups: z.array(groupRef).min(1),
  connect: z.string().min(1).max(500),
  owner: z.strictObject({ name: z.string().min(1), contact: z.string().min(1) }),
  /** The waitlist: a claim on an empty pool queues; a ready VM is held for the first in line. */
  queue: z.boolean(),
  holdFor: duration,
  autoAssign: z.boolean(),
  extendWhileQueued: z.enum(['allow', 'once', 'refuse'], { error: 'extendWhileQueued is allow, once or refuse' }),
};

/** A scheduled warm size: from each time `cron` fires (in scheduler.timezone), for `for`, keep `size`. */
export const sizeWindow = z.strictObject({
  cron: z.string().min(1),
  for: duration,
  size: count(0),
  name: z.string().min(1).max(60).optional(),
});

export const pool = z.strictObject({
  ...poolFields,
  /** Windows in which the warm size is another; the configuration check refuses overlaps. */
  schedule: z.array(sizeWindow).max(50).optional(),
  /** The least time before a window starts that it is filled. */
  leadTime: duration.optional(),
  description: poolFields.description.default(''),
  gpu: poolFields.gpu.default(false),
  networks: poolFields.networks.optional(),
  lease: duration.optional(),
  remindBefore: poolFields.remindBefore.optional(),
  extensionStep: duration.optional(),
  maxExtensions: poolFields.maxExtensions.optional(),
  maxLeasesPerUser: poolFields.maxLeasesPerUser.optional(),
  connect: poolFields.connect.optional(),
  queue: poolFields.queue.optional(),
  holdFor: duration.optional(),
  autoAssign: poolFields.autoAssign.optional(),
  extendWhileQueued: poolFields.extendWhileQueued.optional(),
  /** Idle VMs (idle.after, idle.releaseAfter) and the grace of a busy one at expiry (schema-activity.ts). */
  ...poolActivityFields,
});

export const defaults = z.strictObject({
  lease: duration.default(DEFAULT_LEASE_MS),
  remindBefore: poolFields.remindBefore.default(DEFAULT_REMINDERS_MS),
  extensionStep: duration.default(24 * 3_600_000),
  maxExtensions: count(0).default(2),
  maxLeasesPerUser: count(1).default(1),
  networks: poolFields.networks.default([]),
  connect: poolFields.connect.default('ssh {account}@{address}'),
  queue: poolFields.queue.default(true),
  holdFor: duration.default(10 * 60_000),
  autoAssign: poolFields.autoAssign.default(false),
  extendWhileQueued: poolFields.extendWhileQueued.default('once'),
  ...poolActivityFields,
});

