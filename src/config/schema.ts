import { z } from 'zod';
import { parseDurationMs } from '../core/duration.ts';

/** "48h", "10m", "90s", "2d", "1h30m" → milliseconds. */
const duration = z
  .string({ error: 'expected a duration such as 90s, 10m, 48h or 2d' })
  .transform((text, ctx) => {
    const ms = parseDurationMs(text);
    if (ms === undefined || ms <= 0) {
      ctx.addIssue({ code: 'custom', message: `"${text}" is not a duration: write e.g. 90s, 10m, 48h or 2d` });
      return z.NEVER;
    }
    return ms;
  });

const name = z.string().regex(/^[a-z][a-z0-9-]{0,30}[a-z0-9]$/, 'use 2–32 lower-case letters, digits and dashes, starting with a letter');
const account = z.string().regex(/^(\*|[A-Za-z0-9][A-Za-z0-9._-]{0,63})$/, 'not a valid account name');
const count = (min: number) => z.number().int(`must be a whole number`).min(min).max(100_000);
const fraction = z.number().min(0).max(1);

const poolFields = {
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
  groups: z.array(name).min(1),
  connect: z.string().min(1).max(500),
  owner: z.strictObject({ name: z.string().min(1), contact: z.string().min(1) }),
};

const pool = z.strictObject({
  ...poolFields,
  description: poolFields.description.default(''),
  gpu: poolFields.gpu.default(false),
  networks: poolFields.networks.optional(),
  lease: duration.optional(),
  remindBefore: poolFields.remindBefore.optional(),
  extensionStep: duration.optional(),
  maxExtensions: poolFields.maxExtensions.optional(),
  maxLeasesPerUser: poolFields.maxLeasesPerUser.optional(),
  connect: poolFields.connect.optional(),
});

const defaults = z.strictObject({
  lease: duration.default(48 * 3_600_000),
  remindBefore: poolFields.remindBefore.default([24 * 3_600_000, 3_600_000, 600_000]),
  extensionStep: duration.default(24 * 3_600_000),
  maxExtensions: count(0).default(2),
  maxLeasesPerUser: count(1).default(1),
  networks: poolFields.networks.default([]),
  connect: poolFields.connect.default('ssh {account}@{address}'),
});

const simulatedCloud = z.strictObject({
  bootTime: duration.default(5_000),
  bootFailureRate: fraction.default(0),
  apiFailureRate: fraction.default(0),
  latency: z.union([z.literal(0), duration]).default(20),
  quota: z.strictObject({ instances: count(0), cores: count(0) }).default({ instances: 100, cores: 1_000 }),
  flavors: z.record(z.string().min(1), z.strictObject({ vcpus: count(1), gpus: count(0).default(0) })),
  images: z.array(z.string().min(1)).min(1),
});

export const configSchema = z
  .strictObject({
    instance: name.default('daaas'),
    access: z
      .strictObject({
        admins: z.array(account).default([]),
        localUserIsAdmin: z.boolean().default(false),
        groups: z.record(name, z.array(account)).default({}),
      })
      .prefault({}),
    defaults: defaults.prefault({}),
    scheduler: z
      .strictObject({
        schedule: z.string().default('* * * * *'),
        maxConcurrentBoots: count(1).default(10),
        readinessTimeout: duration.default(600_000),
        failedRetention: duration.default(300_000),
        backoffInitial: duration.default(30_000),
        backoffMax: duration.default(1_800_000),
        poll: duration.default(2_000),
      })
      .prefault({}),
    cloud: z.strictObject({
      driver: z.literal('simulated', { error: 'the only cloud driver so far is "simulated"' }),
      simulated: simulatedCloud,
    }),
    provisioner: z
      .strictObject({
        driver: z.literal('simulated', { error: 'the only provisioner so far is "simulated"' }),
        simulated: z
          .strictObject({ provisionTime: duration.default(4_000), failureRate: fraction.default(0) })
          .prefault({}),
      })
      .prefault({ driver: 'simulated' }),
    pools: z.record(name, pool).refine((pools) => Object.keys(pools).length > 0, 'at least one pool is needed'),
  })
  .superRefine((config, ctx) => {
    for (const [poolName, p] of Object.entries(config.pools)) {
      const at = (key: string) => ['pools', poolName, key];
      if (p.size > p.max) ctx.addIssue({ code: 'custom', path: at('size'), message: `size ${p.size} is larger than max ${p.max}` });
      const leaseMs = p.lease ?? config.defaults.lease;
      for (const before of p.remindBefore ?? config.defaults.remindBefore) {
        if (before >= leaseMs) ctx.addIssue({ code: 'custom', path: at('remindBefore'), message: 'every reminder must come before the lease ends (shorter than the lease)' });
      }
      for (const group of p.groups) {
        if (!(group in config.access.groups)) ctx.addIssue({ code: 'custom', path: at('groups'), message: `group "${group}" is not defined under access.groups` });
      }
      if (!(p.flavor in config.cloud.simulated.flavors)) ctx.addIssue({ code: 'custom', path: at('flavor'), message: `flavor "${p.flavor}" is not one of the simulated cloud's flavors` });
      if (!config.cloud.simulated.images.includes(p.image)) ctx.addIssue({ code: 'custom', path: at('image'), message: `image "${p.image}" is not one of the simulated cloud's images` });
    }
  });

export type RawConfig = z.output<typeof configSchema>;
