/**
 * The store after a simulated year of a busy facility: 200 claims a day, each VM booted for its
 * claim and deleted after it, with the rows the bot writes for them (the VM, the lease, two
 * reminder records, four outbox messages of a real card's size, and the audit records of the
 * claim, some extensions and releases). Measured twice: with nothing ever forgotten, and with
 * the bot's own pruning (the outbox's settled messages after 7 days, history after 90 days,
 * the audit trail after 400), run once a simulated day; and the longest batch, which is as long
 * as a tick can wait for the store because of pruning.
 */
import { randomUUID } from 'node:crypto';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { SqliteHistory } from '../src/adapters/sqlite/history.ts';
import { SqliteStore } from '../src/adapters/sqlite/sqlite-store.ts';
import { fields, reply, text } from '../src/chat/reply.ts';
import { DEFAULT_RETENTION, moreToPrune, retentionCutoffs } from '../src/core/retention.ts';
import { round, tempDir, type SectionResult } from './lib.ts';

const DAY = 86_400_000;
const BATCH = 500;
const OUTBOX_KEEP_MS = 7 * DAY;

/** A message body the size of a real reminder card. */
const BODY = JSON.stringify(
  reply(
    'warning',
    'excitations-7xk2 will be torn down in 1h',
    text('Save your work to your home directory: it is kept when the VM goes. Extend it with: extend excitations-7xk2'),
    fields({ label: 'VM', value: 'excitations-7xk2' }, { label: 'Address', value: '10.20.30.40' }, { label: 'Expires', value: { time: Date.UTC(2026, 0, 1) } }, { label: 'Extensions left', value: '1 of 2 (each +1d)' }),
  ),
);

function simulate(path: string, days: number, claimsPerDay: number, prune: boolean): { bytes: number; rows: Record<string, number>; longestBatchMs: number; batches: number } {
  const store = new SqliteStore(path);
  const db = store.db;
  const history = new SqliteHistory(store);
  const vm = db.prepare(`INSERT INTO vms (id, name, pool, state, server_id, address, image, flavor, created_at, state_since, ready_at, detail) VALUES (?, ?, 'excitations', 'deleted', ?, ?, 'excitations-base', 'm1.large', ?, ?, ?, NULL)`);
  const lease = db.prepare(`INSERT INTO leases (id, vm_id, pool, user, platform, conversation, claimed_at, expires_at, extensions_used, ended_at, end_reason, home_ready_at) VALUES (?, ?, 'excitations', ?, 'slack', ?, ?, ?, ?, ?, ?, ?)`);
  const reminder = db.prepare(`INSERT INTO reminders (lease_id, before_ms, expires_at, status, at) VALUES (?, ?, ?, 'sent', ?)`);
  const outbox = db.prepare(`INSERT INTO outbox (key, kind, lease_id, platform, user, conversation, body, created_at, deliver_by, status, attempts, next_at, done_at) VALUES (?, ?, ?, 'slack', ?, ?, ?, ?, ?, 'sent', 1, ?, ?)`);
  const audit = db.prepare(`INSERT INTO audit (at, actor, action, target, result, detail) VALUES (?, ?, ?, ?, 'ok', NULL)`);
  const start = Date.UTC(2026, 0, 1);
  let longestBatchMs = 0;
  let batches = 0;
  for (let day = 0; day < days; day++) {
    store.transaction(() => {
      for (let i = 0; i < claimsPerDay; i++) {
        const claimed = start + day * DAY + Math.floor((i / claimsPerDay) * DAY);
        const ended = claimed + 2 * DAY;
        const vmId = randomUUID();
        const name = `excitations-${vmId.slice(0, 4)}`;
        const user = `user.${i % 300}`;
        vm.run(vmId, `${name}${day}-${i}`, randomUUID(), `10.20.${i % 250}.${day % 250}`, claimed - 600_000, ended + 60_000, claimed - 300_000);
        const leaseId = randomUUID();
        const extensions = i % 3 === 0 ? 1 : 0;
        lease.run(leaseId, vmId, user, `D${user}`, claimed, ended, extensions, ended, i % 2 ? 'released' : 'expired', claimed + 120_000);
        reminder.run(leaseId, 3_600_000, ended, ended - 3_600_000);
        reminder.run(leaseId, 600_000, ended, ended - 600_000);
        for (const [kind, at] of [['home-ready', claimed + 120_000], ['reminder', ended - 3_600_000], ['reminder', ended - 600_000], ['teardown', ended + 60_000]] as const) {
          outbox.run(`${leaseId}:${kind}:${at}`, kind, leaseId, user, `D${user}`, BODY, at, at + DAY, at, at + 500);
        }
        audit.run(claimed, user, 'claim', 'excitations');
        if (extensions) audit.run(claimed + DAY, user, 'extend', name);
        if (i % 2) audit.run(ended, user, 'release', name);
      }
    });
    if (!prune) continue;
    const now = start + (day + 1) * DAY;
    store.pruneMessages(now - OUTBOX_KEEP_MS);
    for (;;) {
      const t0 = performance.now();
      const counts = history.pruneHistory(retentionCutoffs(now, DEFAULT_RETENTION), BATCH);
      longestBatchMs = Math.max(longestBatchMs, performance.now() - t0);
      batches++;
      if (!moreToPrune(counts, BATCH)) break;
    }
  }
  db.pragma('wal_checkpoint(TRUNCATE)');
  const rows: Record<string, number> = {};
  for (const table of ['vms', 'leases', 'reminders', 'outbox', 'audit']) rows[table] = (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
  store.close();
  return { bytes: statSync(path).size, rows, longestBatchMs, batches };
}

export async function retentionSize(quick: boolean): Promise<SectionResult> {
  const days = 365;
  const claimsPerDay = quick ? 50 : 200;
  const dir = tempDir();
  try {
    const kept = simulate(join(dir.path, 'kept.db'), days, claimsPerDay, false);
    const pruned = simulate(join(dir.path, 'pruned.db'), days, claimsPerDay, true);
    const mb = (bytes: number) => `${round(bytes / 2 ** 20, 1)} MB`;
    return {
      rows: [
        { section: 'retention', measure: `store after a year, ${claimsPerDay} claims/day, nothing forgotten`, value: mb(kept.bytes), target: '—', verdict: 'info' },
        { section: 'retention', measure: `store after a year, ${claimsPerDay} claims/day, pruned (history 90d, audit 400d, outbox 7d)`, value: mb(pruned.bytes), target: '—', verdict: 'info' },
        { section: 'retention', measure: `longest pruning batch (≤ ${BATCH} rows of each kind)`, value: `${round(pruned.longestBatchMs, 1)} ms`, target: '< 50 ms', verdict: pruned.longestBatchMs < 50 ? 'pass' : 'miss' },
      ],
      data: { days, claimsPerDay, batch: BATCH, kept, pruned },
      notes: [
        `A year at ${claimsPerDay} claims a day: ${mb(kept.bytes)} if nothing were forgotten (${kept.rows.leases} leases, ${kept.rows.outbox} outbox messages, ${kept.rows.audit} audit records); ${mb(pruned.bytes)} with the bot's pruning, which holds about 90 days of history and a year of audit. Freed pages are reused, not returned: the file stays near its largest size unless VACUUMed.`,
      ],
    };
  } finally {
    dir.remove();
  }
}
