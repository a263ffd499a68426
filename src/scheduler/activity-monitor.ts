import { activityNote, graceMessage, idlePromptMessage, idleReleasedMessage, withNote } from '../chat/activity-messages.ts';
import { afterProbe, currentActivity, describeJob, emptyActivity, graceAtExpiry, idleStep, rulesOf, unsavedWork, type GraceDecision } from '../core/activity.ts';
import { formatDuration } from '../core/duration.ts';
import { errorMessage } from '../core/error-message.ts';
import type { LeaseView, PoolSpec } from '../core/model.ts';
import { DELIVER_WITHIN_MS, messageKey, noticeFor } from '../core/outbox.ts';
import type { Reply } from '../core/reply.ts';
import type { ActivityProbe, ActivityStore, LeaseActivity, ProbeResult } from '../ports/activity.ts';
import type { Clock } from '../ports/clock.ts';
import type { Logger } from '../ports/logger.ts';
import type { Metrics } from '../ports/metrics.ts';
import type { OutboxMessage } from '../ports/outbox.ts';
import type { Store } from '../ports/store.ts';
import { SCHEDULER_ACTOR } from './outcomes.ts';
import { runLimited } from './run-limited.ts';

export interface ActivitySettings {
  /** Time between two probes of a claimed VM (each jittered by ±`jitter` of it). */
  everyMs: number;
  jitter: number;
  /** Probes at once. */
  concurrency: number;
  /** A probe taking longer is stopped: the VM's activity is unknown. */
  timeoutMs: number;
  /** Where changed files count as unsaved work (outside the persistent home). */
  paths: string[];
  /** A probe this recent serves for the last reminder and for expiry; older, they probe first. */
  freshMs: number;
}

export const DEFAULT_ACTIVITY: ActivitySettings = { everyMs: 15 * 60_000, jitter: 0.2, concurrency: 4, timeoutMs: 2 * 60_000, paths: ['/tmp', '/scratch', '/data/local'], freshMs: 2 * 60_000 };

export interface ActivityMonitorOptions {
  store: Store;
  activity: ActivityStore;
  probe: ActivityProbe;
  clock: Clock;
  log: Logger;
  pools: readonly PoolSpec[];
  settings: ActivitySettings;
  /** How many people wait for a pool (the waitlist). */
  waiting: (pool: string) => number;
  /** Seeded in tests: the jitter's randomness. */
  random?: () => number;
  metrics?: Metrics;
  onMessageQueued?: () => void;
  /** Told when the bot released a holder's idle VM, so the reconciler acts at once. */
  onChange?: (account: string) => void;
}

/** What the reconciler asks at the last reminder and at expiry (see reconciler.ts). */
export interface LeaseActivityHooks {
  /** Probes, and waits for, the leases whose last reminder or expiry is due without a fresh probe. */
  beforeLeases(leases: readonly LeaseView[], now: number): Promise<void>;
  /** In the expiry's transaction: postpone once (the grace), or the job that will be stopped. */
  atExpiry(lease: LeaseView, now: number): { graceUntil: number } | { job: string | null };
  /** The reminder with what runs and what will be lost, at the pool's last stage. */
  reminder(lease: LeaseView, beforeMs: number, body: Reply): Reply;
}

/**
 * Looks at claimed VMs every `everyMs` (jittered, `concurrency` at once) and before the last
 * reminder and teardown, keeps what it saw (a failure is "unknown"), asks holders of idle VMs
 * once, and releases an unanswered idle VM only while others wait for its pool.
 */
export class ActivityMonitor implements LeaseActivityHooks {
  private readonly pools: Map<string, PoolSpec>;
  private readonly nextAt = new Map<string, number>();
  private readonly random: () => number;
  private timer: AbortController | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  /** Aborted by stop(): probes in flight end at once (their VMs' activity stays as last seen). */
  private halt = new AbortController();

  constructor(private readonly options: ActivityMonitorOptions) {
    this.pools = new Map(options.pools.map((p) => [p.name, p]));
    this.random = options.random ?? Math.random;
  }

  /** Probes the leases that are due now; resolves when they are done. Returns how many. */
  async runDue(): Promise<number> {
    const now = this.options.clock.now();
    const leases = this.options.store.activeLeases();
    const live = new Set(leases.map((l) => l.id));
    for (const id of this.nextAt.keys()) if (!live.has(id)) this.nextAt.delete(id);
    const due = leases.filter((lease) => this.dueAt(lease) <= now);
    await runLimited(due, this.options.settings.concurrency, (lease) => this.probeAndRecord(lease));
    return due.length;
  }

  /** When the next lease is due for a probe, or null with none claimed. */
  nextDueAt(): number | null {
    const times = this.options.store.activeLeases().map((l) => this.dueAt(l));
    return times.length ? Math.min(...times) : null;
  }

  start(): void {
    if (this.stopped) this.halt = new AbortController();
    this.stopped = false;
    this.running ??= this.loop().finally(() => (this.running = undefined));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.abort();
    this.halt.abort(new Error('the bot is stopping'));
    await this.running;
  }

  async beforeLeases(leases: readonly LeaseView[], now: number): Promise<void> {
    const stale = leases.filter((lease) => {
      const pool = this.pools.get(lease.pool);
      if (!pool) return false;
      const last = Math.min(...pool.remindBeforeMs, Number.POSITIVE_INFINITY);
      const moment = now >= lease.expiresAt ? lease.expiresAt : Number.isFinite(last) && now >= lease.expiresAt - last ? lease.expiresAt - last : null;
      if (moment === null) return false;
      const lastProbeAt = this.options.activity.leaseActivity(lease.id)?.lastProbeAt ?? null;
      return lastProbeAt === null || lastProbeAt < moment - this.options.settings.freshMs;
    });
    await runLimited(stale, this.options.settings.concurrency, (lease) => this.probeAndRecord(lease));
  }

  atExpiry(lease: LeaseView, now: number): { graceUntil: number } | { job: string | null } {
    const pool = this.pools.get(lease.pool);
    if (!pool) return { job: null };
    const record = this.options.activity.leaseActivity(lease.id);
    const waiting = this.options.waiting(lease.pool);
    const decision: GraceDecision = graceAtExpiry(lease, record, rulesOf(pool), waiting, now);
    if (!decision.grant) {
      if (decision.reason !== 'not-busy' && decision.reason !== 'unknown') {
        this.options.store.audit({ at: now, actor: SCHEDULER_ACTOR, action: 'grace', target: lease.vm.name, result: decision.reason, detail: { user: lease.user, job: decision.job, waiting } });
      }
      return { job: decision.job };
    }
    const { store } = this.options;
    // Stages already due for the new expiry are recorded as done: the grace message says it all.
    for (const beforeMs of pool.remindBeforeMs) if (decision.until - beforeMs <= now) store.recordReminder(lease.id, beforeMs, decision.until, 'superseded', now);
    if (!store.extendLease(lease.id, decision.until, lease.extensionsUsed, false)) return { job: decision.job };
    this.options.activity.saveLeaseActivity({ ...(record ?? emptyActivity(lease)), grace: { at: now, until: decision.until, job: decision.job } });
    store.audit({ at: now, actor: SCHEDULER_ACTOR, action: 'grace', target: lease.vm.name, result: 'ok', detail: { user: lease.user, job: decision.job, until: decision.until } });
    this.queue({ ...this.notice('grace', lease, graceMessage(lease, decision.job, decision.until), now), key: messageKey('grace', lease.id) });
    this.options.metrics?.activity?.({ kind: 'grace', pool: lease.pool });
    this.options.log.info({ vm: lease.vm.name, user: lease.user, job: decision.job, until: decision.until }, 'teardown postponed once: a job is running');
    // The expiry moved: a lease change (told after the tick's transaction, as the scheduler's others are).
    const onChange = this.options.onChange;
    if (onChange) queueMicrotask(() => onChange(lease.user));
    return { graceUntil: decision.until };
  }

  reminder(lease: LeaseView, beforeMs: number, body: Reply): Reply {
    const pool = this.pools.get(lease.pool);
    if (!pool || beforeMs !== Math.min(...pool.remindBeforeMs)) return body;
    const record = this.options.activity.leaseActivity(lease.id);
    const state = currentActivity(record);
    const job = state === 'busy' ? describeJob(record!.lastReport!) : null;
    return withNote(body, activityNote(job, unsavedWork(record?.lastReport?.files), state === 'unknown'));
  }

  /** Runs one probe, bounded by the timeout; a failure or timeout is an unknown result. */
  async probeLease(lease: LeaseView): Promise<ProbeResult> {
    const pool = this.pools.get(lease.pool);
    const at = this.options.clock.now();
    if (!pool) return { ok: false, at, error: `pool ${lease.pool} is not configured` };
    const abort = new AbortController();
    if (this.halt.signal.aborted) return { ok: false, at, error: 'the bot is stopping' };
    const onHalt = () => abort.abort(this.halt.signal.reason);
    this.halt.signal.addEventListener('abort', onHalt, { once: true });
    const timer = new AbortController();
    const timeout = this.options.clock.sleep(this.options.settings.timeoutMs, timer.signal).then(
      () => {
        abort.abort(new Error('timed out'));
        return { ok: false as const, at, error: `no answer within ${formatDuration(this.options.settings.timeoutMs)}` };
      },
      () => undefined,
    );
    const probe = this.options.probe.probe({ lease, pool, paths: this.options.settings.paths, signal: abort.signal }).then(
      (report): ProbeResult => ({ ok: true, report }),
      (error): ProbeResult => ({ ok: false, at, error: errorMessage(error) }),
    );
    try {
      return await Promise.race([probe, timeout.then((r) => r ?? probe)]);
    } finally {
      timer.abort();
      this.halt.signal.removeEventListener('abort', onHalt);
    }
  }

  /** Probes the lease now and records what follows (a prompt, a release), as a due probe would. */
  async probeAndRecord(lease: LeaseView): Promise<void> {
    const result = await this.probeLease(lease);
    // Stopped mid-probe: nothing was learnt, so nothing is recorded (an idle run is not broken).
    if (this.halt.signal.aborted) return;
    const now = this.options.clock.now();
    this.nextAt.set(lease.id, now + this.jittered());
    if (!result.ok) {
      this.options.metrics?.activity?.({ kind: 'probe-failed', pool: lease.pool });
      this.options.log.warn({ vm: lease.vm.name, error: result.error }, 'activity probe failed: the VM’s activity is unknown');
    }
    try {
      this.record(lease, result, now);
    } catch (error) {
      this.options.log.error({ err: error, vm: lease.vm.name }, 'recording a probe failed');
    }
  }

  /** One transaction: the probe's result, and the prompt or release it leads to with its message. */
  private record(lease: LeaseView, result: ProbeResult, now: number): void {
    const { store, activity } = this.options;
    const pool = this.pools.get(lease.pool);
    if (!pool) return;
    let released = false;
    store.transaction(() => {
      const current = store.getLease(lease.id);
      if (!current || current.endedAt !== null) return;
      const { record, idleAddedMs } = afterProbe(activity.leaseActivity(lease.id) ?? emptyActivity(current), result, now);
      if (idleAddedMs > 0) this.options.metrics?.activity?.({ kind: 'idle-time', pool: lease.pool, ms: idleAddedMs });
      const waiting = this.options.waiting(lease.pool);
      const step = idleStep(record, rulesOf(pool), waiting, now);
      let next: LeaseActivity = record;
      if (step?.kind === 'prompt') {
        next = { ...record, promptedAt: now };
        this.queue({ ...this.notice('idle', current, idlePromptMessage(current, step.idleMs), now), key: messageKey('idle', current.id, String(now)), replacesPending: true });
        this.options.metrics?.activity?.({ kind: 'idle-prompt', pool: lease.pool });
      } else if (step?.kind === 'release' && store.endLease(current.id, 'idle', now)) {
        released = true;
        store.audit({ at: now, actor: SCHEDULER_ACTOR, action: 'idle-release', target: current.vm.name, result: 'ok', detail: { user: current.user, idleMs: step.idleMs, waiting } });
        this.queue(noticeFor('teardown', current, idleReleasedMessage(current, step.idleMs, waiting), now));
        this.options.metrics?.activity?.({ kind: 'idle-release', pool: lease.pool });
      }
      activity.saveLeaseActivity(next);
    });
    if (released) this.options.onChange?.(lease.user);
  }

  private notice(kind: 'idle' | 'grace', lease: LeaseView, body: Reply, now: number): OutboxMessage {
    return { key: messageKey(kind, lease.id), kind, leaseId: lease.id, to: { platform: lease.platform, user: lease.user, conversation: lease.conversation }, body, createdAt: now, deliverBy: now + DELIVER_WITHIN_MS };
  }

  private queue(message: OutboxMessage): void {
    if (this.options.store.enqueueMessage(message)) this.options.onMessageQueued?.();
  }

  /** A lease not probed yet is due at a random point of its first period, so probes spread out. */
  private dueAt(lease: LeaseView): number {
    let at = this.nextAt.get(lease.id);
    if (at === undefined) {
      const last = this.options.activity.leaseActivity(lease.id)?.lastProbeAt;
      at = last != null ? last + this.jittered() : Math.max(lease.claimedAt, this.options.clock.now()) + Math.floor(this.random() * this.options.settings.everyMs);
      this.nextAt.set(lease.id, at);
    }
    return at;
  }

  private jittered(): number {
    const { everyMs, jitter } = this.options.settings;
    return Math.round(everyMs * (1 + jitter * (2 * this.random() - 1)));
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      try {
        await this.runDue();
      } catch (error) {
        this.options.log.error({ err: error }, 'activity probes failed; trying again later');
      }
      const next = this.nextDueAt();
      const wait = Math.min(this.options.settings.everyMs, Math.max(1_000, (next ?? Number.POSITIVE_INFINITY) - this.options.clock.now()));
      if (this.stopped) break;
      const timer = new AbortController();
      this.timer = timer;
      try {
        await this.options.clock.sleep(wait, timer.signal);
      } catch {
        break;
      }
    }
  }
}
