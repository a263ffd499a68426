/**
 * Alerts to the people who run the service, as pure rules: what is wrong now (observations)
 * against what has been said (the alerts kept in the store) gives what to do this tick: start
 * watching a condition, raise an alert, repeat it, resolve it, or forget a condition that went
 * away before it was worth an alert. Nothing here reads a clock or the store.
 */

/** What an alert is about. */
export const ALERT_KINDS = ['pool-empty', 'circuit-open', 'cloud-unreachable', 'quota', 'image-missing', 'setup-failing', 'leases-expiring'] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];

/**
 * `pending`: the condition holds but not yet for long enough (or nobody asked yet);
 * `open`: raised, repeated while it lasts; `resolved`: over, kept for `admin alerts`.
 */
export type AlertStatus = 'pending' | 'open' | 'resolved';

/** One incident: a kind, about a pool and/or a subject (a user), from `since` to `resolvedAt`. */
export interface Alert {
  id: number;
  kind: AlertKind;
  /** The pool it is about; '' when about the whole service (the cloud). */
  pool: string;
  /** What else tells two incidents of a kind apart (the user whose set-up fails); usually ''. */
  subject: string;
  status: AlertStatus;
  /** When the condition was first seen. */
  since: number;
  raisedAt: number | null;
  /** When a message about it was last queued (raised or repeated). */
  lastSentAt: number | null;
  /** Messages queued about it so far (raise and repeats). */
  sent: number;
  resolvedAt: number | null;
  /** The latest description of what is wrong. */
  detail: string;
}

/** A condition that holds now. */
export interface Observation {
  kind: AlertKind;
  pool: string;
  subject: string;
  /** What is wrong, in words an operator acts on. */
  detail: string;
  /** When it started, when the observer knows better than "first seen" (the cloud's last answer). */
  since?: number;
  /**
   * Raised only once someone has been refused or kept waiting since the condition started: the
   * last time someone asked (null: nobody has). Absent: no one needs to have asked.
   */
  lastAskedAt?: number | null;
}

export interface AlertSettings {
  /** How often an open alert is said again while it lasts. */
  repeatMs: number;
  /** How long a pool stays empty, while someone asks for it, before it is an alert. */
  emptyForMs: number;
  /** How long the cloud stays unreachable before it is an alert. */
  unreachableForMs: number;
}

export const DEFAULT_ALERT_SETTINGS: AlertSettings = { repeatMs: 3_600_000, emptyForMs: 5 * 60_000, unreachableForMs: 3 * 60_000 };

export type AlertDecision =
  | { type: 'watch'; observation: Observation; since: number }
  | { type: 'raise'; alert: Alert; observation: Observation; since: number }
  | { type: 'repeat'; alert: Alert; observation: Observation }
  | { type: 'resolve'; alert: Alert; lastedMs: number }
  | { type: 'forget'; alert: Alert };

/** Kinds and pool/subject identify one incident among the live alerts. */
export function alertKey(a: { kind: AlertKind; pool: string; subject: string }): string {
  return `${a.kind}:${a.pool}:${a.subject}`;
}

/** How long a condition must hold before it is raised. */
export function holdMs(kind: AlertKind, settings: AlertSettings): number {
  if (kind === 'pool-empty') return settings.emptyForMs;
  if (kind === 'cloud-unreachable') return settings.unreachableForMs;
  return 0;
}

/**
 * The decisions of one tick. `live` are the pending and open alerts; `observations` the
 * conditions that hold now (one per key: the first wins).
 */
export function evaluateAlerts(live: readonly Alert[], observations: readonly Observation[], now: number, settings: AlertSettings): AlertDecision[] {
  const decisions: AlertDecision[] = [];
  const byKey = new Map(live.filter((a) => a.status !== 'resolved').map((a) => [alertKey(a), a]));
  const seen = new Set<string>();
  for (const observation of observations) {
    const key = alertKey(observation);
    if (seen.has(key)) continue;
    seen.add(key);
    const alert = byKey.get(key);
    const since = Math.min(observation.since ?? alert?.since ?? now, alert?.since ?? now);
    if (alert?.status === 'open') {
      if (alert.lastSentAt === null || now - alert.lastSentAt >= settings.repeatMs) decisions.push({ type: 'repeat', alert, observation });
      continue;
    }
    const held = now - since >= holdMs(observation.kind, settings);
    const asked = observation.lastAskedAt === undefined || (observation.lastAskedAt !== null && observation.lastAskedAt >= since);
    if (alert && held && asked) decisions.push({ type: 'raise', alert, observation, since });
    else if (!alert && held && asked) decisions.push({ type: 'raise', alert: newAlert(observation, since), observation, since });
    else if (!alert) decisions.push({ type: 'watch', observation, since });
  }
  for (const [key, alert] of byKey) {
    if (seen.has(key)) continue;
    if (alert.status === 'open') decisions.push({ type: 'resolve', alert, lastedMs: now - alert.since });
    else decisions.push({ type: 'forget', alert });
  }
  return decisions;
}

/** An alert not stored yet (id 0): the store gives it its id when it is written. */
function newAlert(o: Observation, since: number): Alert {
  return { id: 0, kind: o.kind, pool: o.pool, subject: o.subject, status: 'pending', since, raisedAt: null, lastSentAt: null, sent: 0, resolvedAt: null, detail: o.detail };
}

/** What each kind is called in messages and in `admin alerts`. */
export const KIND_TITLES: Record<AlertKind, string> = {
  'pool-empty': 'pool empty',
  'circuit-open': 'pool failing (circuit open)',
  'cloud-unreachable': 'cloud unreachable',
  quota: 'quota stopping boots',
  'image-missing': 'image missing',
  'setup-failing': 'set-up failing for a user',
  'leases-expiring': 'leases expiring in bulk',
};

/** "pool empty: excitations" / "cloud unreachable" / "set-up failing for a user: bob". */
export function alertName(a: { kind: AlertKind; pool: string; subject: string }): string {
  const about = [a.pool, a.subject].filter(Boolean).join(', ');
  return about ? `${KIND_TITLES[a.kind]}: ${about}` : KIND_TITLES[a.kind];
}
