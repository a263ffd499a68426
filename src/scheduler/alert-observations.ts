/**
 * What is wrong now, read from the store and the reconciler's last look at the cloud: the
 * observations the alert rules (core/alerts.ts) weigh against the alerts already said.
 */
import type { Observation } from '../core/alerts.ts';
import type { Circuit } from '../core/circuit.ts';
import { formatDuration } from '../core/duration.ts';
import type { PoolSpec } from '../core/model.ts';
import type { CloudStatus } from '../core/service.ts';
import type { AlertStore } from '../ports/alerts.ts';
import type { Store } from '../ports/store.ts';

/** Set-up failures in a row for one user that are "again and again". */
export const SETUP_FAILURES_ALERT = 3;
/** A user's set-up failures older than this no longer make an alert. */
const SETUP_FAILURES_WITHIN_MS = 24 * 3_600_000;
/** Leases ending within this window count as "about to expire". */
const EXPIRING_WITHIN_MS = 3_600_000;

export interface ObserveInputs {
  store: Store;
  alerts: AlertStore;
  pools: readonly PoolSpec[];
  circuit: (pool: string) => Circuit;
  cloud: CloudStatus;
  /** Users waiting for a VM of the pool, when the bot keeps a waitlist. */
  queuedCount?: (pool: string) => number;
  /** Claims refused from this moment on count as someone asking. */
  askedSince: number;
  now: number;
}

/** A Nova or simulated-cloud refusal naming a missing image ("Image x could not be found."). */
const IMAGE_MISSING = /\bimage\b[^;]*\b(could not be found|not found|no such image)/i;

export function observeAlerts(i: ObserveInputs): Observation[] {
  const { store, now } = i;
  const out: Observation[] = [];
  if (i.cloud.lastError !== null) {
    out.push({
      kind: 'cloud-unreachable',
      pool: '',
      subject: '',
      detail: `The cloud does not answer: ${i.cloud.lastError}. Nothing is booted or deleted until it does; users with ready VMs are not affected.`,
      ...(i.cloud.lastObservedAt !== null ? { since: i.cloud.lastObservedAt } : {}),
    });
  }
  const refused = i.alerts.refusedClaimsSince(i.askedSince);
  const controls = new Map(store.poolControls().map((c) => [c.pool, c]));
  // Grouped counts, not every VM and lease: this runs after every tick.
  const states = i.alerts.vmStateCounts();
  const ending = i.alerts.leasesEndingBetween(now, now + EXPIRING_WITHIN_MS);
  for (const pool of i.pools) {
    const count = states.get(pool.name) ?? {};
    const health = store.poolHealth(pool.name);
    const circuit = i.circuit(pool.name);
    // The run log of the VM that failed last (failed ones are forgotten, with their detail, after a while).
    const lastFailed = circuit.state === 'closed' ? undefined : store.listVms({ pool: pool.name, states: ['failed', 'deleted'] }).filter((vm) => vm.detail && !vm.readyAt).sort((a, b) => a.stateSince - b.stateSince).at(-1);
    const runLog = lastFailed ? ` The last failed VM's run log: admin log ${lastFailed.name}.` : '';
    const owner = `${pool.owner.name} (${pool.owner.contact})`;

    const queued = i.queuedCount?.(pool.name) ?? 0;
    const askedAt = queued > 0 ? now : (refused.get(pool.name) ?? null);
    if (!controls.get(pool.name)?.drained && !count.ready) {
      const coming = (count.booting ?? 0) + (count.provisioning ?? 0);
      const waiting = queued > 0 ? `; ${queued} waiting for one` : '';
      out.push({
        kind: 'pool-empty',
        pool: pool.name,
        subject: '',
        detail: `No VM is ready in ${pool.name} (${coming} on the way${waiting}) and users asked for one.${i.cloud.notes.get(pool.name) ? ` The pool is ${i.cloud.notes.get(pool.name)}.` : ''}`,
        lastAskedAt: askedAt,
      });
    }
    if (circuit.state !== 'closed') {
      out.push({
        kind: 'circuit-open',
        pool: pool.name,
        subject: '',
        detail: `${pool.name} stopped booting after ${circuit.failures} boots or provisioning runs failed in a row${circuit.lastError ? `; the last: ${circuit.lastError}` : ''}.${runLog} ${circuit.state === 'open' ? `One trial boot in ${formatDuration(Math.max(0, circuit.retryAt - now))}` : 'A trial boot is under way'}; admin resume ${pool.name} closes it now. Image maintained by ${owner}.`,
      });
    }
    const note = i.cloud.notes.get(pool.name);
    if (note?.startsWith('cloud quota exhausted')) {
      out.push({ kind: 'quota', pool: pool.name, subject: '', detail: `${pool.name} cannot boot: ${note}. Free quota in the project or lower a pool's size (admin resize).` });
    }
    if (health.consecutiveFailures > 0 && health.lastError && IMAGE_MISSING.test(health.lastError)) {
      out.push({ kind: 'image-missing', pool: pool.name, subject: '', detail: `The image of ${pool.name} (${pool.image}) is missing from the cloud: ${health.lastError}. Ask ${owner}.` });
    }
    const expiring = ending.get(pool.name) ?? 0;
    const live = Object.entries(count).reduce((n, [state, k]) => n + (state === 'failed' ? 0 : (k ?? 0)), 0);
    if (expiring >= 2 && expiring * 2 > live) {
      out.push({ kind: 'leases-expiring', pool: pool.name, subject: '', detail: `${expiring} of the ${live} VMs of ${pool.name} have leases ending within the hour; expect a wave of teardowns and of claims.` });
    }
  }
  for (const failing of i.alerts.usersFailingSetup(SETUP_FAILURES_ALERT)) {
    if (now - failing.lastFailedAt > SETUP_FAILURES_WITHIN_MS) continue;
    out.push({
      kind: 'setup-failing',
      pool: '',
      subject: failing.user,
      detail: `Setting up VMs for ${failing.user} failed ${failing.failures} times in a row; the last: ${failing.lastError}. Their account or home directory likely needs a look.`,
    });
  }
  return out;
}
