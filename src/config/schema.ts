/**
 * The configuration's schema: the document as a whole. Its parts live beside it — value types
 * (schema-values.ts), pools (schema-pool.ts), back ends (schema-backends.ts), chat platforms
 * (schema-chat.ts) — and the checks across keys in config-checks.ts.
 */
import { z } from 'zod';
import { ansibleProvisioner, directory, openstackCloud, simulatedCloud } from './schema-backends.ts';
import { activitySettings } from './schema-activity.ts';
import { alerts } from './schema-alerts.ts';
import { slack, teams } from './schema-chat.ts';
import { defaults, pool } from './schema-pool.ts';
import { accountOrDirectoryGroup, count, duration, fraction, member, name } from './schema-values.ts';

export { crossCheck, identityCheck } from './config-checks.ts';

export const configSchema = z
  .strictObject({
    instance: name.default('daaas'),
    access: z
      .strictObject({
        admins: z.array(accountOrDirectoryGroup).default([]),
        localUserIsAdmin: z.boolean().default(false),
        /** How long, claim to expiry, `admin extend` may make a lease. */
        adminMaxLease: duration.default(7 * 86_400_000),
        directory: directory.optional(),
        groups: z.record(z.string(), z.array(member)).default({}),
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
        /** A full walk of the cloud's list at least this often; between walks a tick reads only what changed. */
        resyncEvery: duration.default(600_000),
        /** The IANA zone pools' schedule windows are read in (checked in schedule-check.ts). */
        timezone: z.string().default('UTC'),
        /** Boot or provisioning failures in a row that stop a pool booting (its circuit opens). */
        failureLimit: count(1).default(3),
        /** How long an open circuit waits, from the last failure, before one trial boot. */
        circuitRetry: duration.default(1_800_000),
      })
      .prefault({}),
    alerts: alerts.prefault({}),
    cloud: z.discriminatedUnion(
      'driver',
      [
        z.strictObject({ driver: z.literal('simulated'), simulated: simulatedCloud }),
        z.strictObject({ driver: z.literal('openstack'), openstack: openstackCloud.prefault({}) }),
      ],
      { error: (issue) => (issue.code === 'invalid_union' ? 'must be "simulated" (the embedded default) or "openstack"' : undefined) },
    ),
    provisioner: z
      .discriminatedUnion(
        'driver',
        [
          z.strictObject({
            driver: z.literal('simulated'),
            simulated: z
              .strictObject({ provisionTime: duration.default(4_000), personaliseTime: z.union([z.literal(0), duration]).default(2_000), failureRate: fraction.default(0) })
              .prefault({}),
          }),
          z.strictObject({ driver: z.literal('ansible'), ansible: ansibleProvisioner.prefault({}) }),
        ],
        { error: (issue) => (issue.code === 'invalid_union' ? 'must be "simulated" (the embedded default) or "ansible"' : undefined) },
      )
      .prefault({ driver: 'simulated' }),
    slack: slack.prefault({}),
    teams: teams.prefault({}),
    /** How long ended leases, their reminder records and deleted VMs are kept before they are forgotten. */
    retention: duration.default(90 * 86_400_000),
    /** How long the audit trail is kept: who did what, longer than the rest of the history. */
    auditRetention: duration.default(400 * 86_400_000),
    /** How claimed VMs are looked at (schema-activity.ts); per pool idle and graceWhenBusy in schema-pool.ts. */
    activity: activitySettings,
    pools: z.record(z.string(), pool).refine((pools) => Object.keys(pools).length > 0, 'at least one pool is needed'),
  });

export type RawConfig = z.output<typeof configSchema>;

