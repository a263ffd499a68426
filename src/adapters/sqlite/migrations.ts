/**
 * Versioned schema. Append a migration, never edit one that has shipped: a store opened by a
 * newer bot is upgraded in one transaction, and one written by a newer bot is refused.
 */
export const MIGRATIONS: readonly string[] = [
  // 1: VMs, leases, reminders, pool health and the audit trail.
  `
  CREATE TABLE vms (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    pool        TEXT NOT NULL,
    state       TEXT NOT NULL,
    server_id   TEXT,
    address     TEXT,
    image       TEXT NOT NULL,
    flavor      TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    state_since INTEGER NOT NULL,
    ready_at    INTEGER,
    detail      TEXT
  );
  CREATE INDEX vms_pool_state ON vms (pool, state);

  CREATE TABLE leases (
    id              TEXT PRIMARY KEY,
    vm_id           TEXT NOT NULL REFERENCES vms (id),
    pool            TEXT NOT NULL,
    user            TEXT NOT NULL,
    platform        TEXT NOT NULL,
    conversation    TEXT NOT NULL,
    claimed_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    extensions_used INTEGER NOT NULL DEFAULT 0,
    ended_at        INTEGER,
    end_reason      TEXT
  );
  -- The database itself refuses a second live lease on one VM: no double booking, whatever the code.
  CREATE UNIQUE INDEX leases_one_live_per_vm ON leases (vm_id) WHERE ended_at IS NULL;
  CREATE INDEX leases_live_by_user ON leases (user, pool) WHERE ended_at IS NULL;

  CREATE TABLE reminders (
    lease_id   TEXT NOT NULL REFERENCES leases (id),
    before_ms  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    status     TEXT NOT NULL,
    at         INTEGER NOT NULL,
    PRIMARY KEY (lease_id, before_ms, expires_at)
  );

  CREATE TABLE pool_health (
    pool                 TEXT PRIMARY KEY,
    last_error           TEXT,
    last_error_at        INTEGER,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    backoff_until        INTEGER
  );

  CREATE TABLE audit (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    at     INTEGER NOT NULL,
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    result TEXT NOT NULL,
    detail TEXT
  );
  CREATE INDEX audit_at ON audit (at);
  `,
  // 2: a lease's VM is personalised (account, home directory) after the claim, in the background.
  // Leases from before this version were handed over whole, so they count as personalised.
  `
  ALTER TABLE leases ADD COLUMN home_ready_at INTEGER;
  UPDATE leases SET home_ready_at = claimed_at;
  `,
  // 3: where each Teams user can be reached for reminders (their last conversation reference),
  // and whether Teams refused them for good (the app removed or blocked).
  `
  CREATE TABLE teams_conversations (
    user_key           TEXT PRIMARY KEY,
    account            TEXT NOT NULL,
    reference          TEXT NOT NULL,
    updated_at         INTEGER NOT NULL,
    unreachable_at     INTEGER,
    unreachable_reason TEXT
  );
  CREATE INDEX teams_conversations_account ON teams_conversations (account);
  `,
  // 4: personalisations that failed for a user's own reasons (account refused or not makeable),
  // so that one user's repeated failures back off instead of draining a pool.
  `
  CREATE TABLE user_setup_failures (
    user           TEXT PRIMARY KEY,
    failures       INTEGER NOT NULL,
    last_error     TEXT NOT NULL,
    last_failed_at INTEGER NOT NULL,
    retry_at       INTEGER NOT NULL
  );
  `,
  // 5: chat deliveries already handled (Slack's retried events, Teams' repeated messages and
  // invokes) until they expire, with the answer a repeat gets again: repeats are recognised
  // across a restart.
  `
  CREATE TABLE inbound_deliveries (
    key        TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL,
    answer     TEXT
  );
  CREATE INDEX inbound_deliveries_expiry ON inbound_deliveries (expires_at);
  `,
  // 6: the outbox. Every message the bot sends on its own is written here in the transaction of
  // the change that causes it, and delivered from here, outside the reconcile tick.
  `
  CREATE TABLE outbox (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    key          TEXT NOT NULL UNIQUE,
    kind         TEXT NOT NULL,
    lease_id     TEXT,
    platform     TEXT NOT NULL,
    user         TEXT NOT NULL,
    conversation TEXT NOT NULL,
    body         TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    deliver_by   INTEGER NOT NULL,
    status       TEXT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_at      INTEGER NOT NULL,
    last_error   TEXT,
    done_at      INTEGER
  );
  CREATE INDEX outbox_due ON outbox (next_at, id) WHERE status = 'pending';
  CREATE INDEX outbox_lease ON outbox (lease_id, kind) WHERE status = 'pending';
  `,
  // 7: what admins change about a pool at run time (warm size, drained, paused), so that it
  // outlives a restart without the configuration being edited.
  `
  CREATE TABLE pool_controls (
    pool           TEXT PRIMARY KEY,
    size           INTEGER,
    drained_reason TEXT,
    drained_by     TEXT,
    drained_at     INTEGER,
    paused_by      TEXT,
    paused_at      INTEGER
  );
  `,
  // 8: the SSH host key the bot gave each VM at boot, pinned for every play that reaches it.
  `
  ALTER TABLE vms ADD COLUMN host_key TEXT;
  `,
  // 9: forgetting old history in small batches, oldest first: ended leases, deleted VMs (and
  // whether a lease still names one).
  `
  CREATE INDEX leases_ended ON leases (ended_at) WHERE ended_at IS NOT NULL;
  CREATE INDEX leases_vm ON leases (vm_id);
  CREATE INDEX vms_deleted ON vms (state_since) WHERE state = 'deleted';
  `,
  // 10: the waitlist: per pool, users waiting for a VM in order of arrival (id), and the ready VM
  // held for one of them until held_until. One entry per user and pool, one hold per VM.
  `
  CREATE TABLE waitlist (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    pool         TEXT NOT NULL,
    user         TEXT NOT NULL,
    platform     TEXT NOT NULL,
    conversation TEXT NOT NULL,
    joined_at    INTEGER NOT NULL,
    held_vm_id   TEXT REFERENCES vms (id),
    offered_at   INTEGER,
    held_until   INTEGER
  );
  CREATE UNIQUE INDEX waitlist_one_per_user ON waitlist (pool, user);
  CREATE UNIQUE INDEX waitlist_one_hold_per_vm ON waitlist (held_vm_id) WHERE held_vm_id IS NOT NULL;
  CREATE INDEX waitlist_pool_order ON waitlist (pool, id);
  `,
  // 11: alerts to the people who run the service: each incident (pending while its condition
  // has not held long enough, open, resolved), the conversations set with `admin alerts here`,
  // and the fingerprint of the pool's configuration its health was counted under (a changed
  // image or flavour closes a pool's open circuit).
  `
  CREATE TABLE alerts (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    kind         TEXT NOT NULL,
    pool         TEXT NOT NULL,
    subject      TEXT NOT NULL,
    status       TEXT NOT NULL,
    since        INTEGER NOT NULL,
    raised_at    INTEGER,
    last_sent_at INTEGER,
    sent         INTEGER NOT NULL DEFAULT 0,
    resolved_at  INTEGER,
    detail       TEXT NOT NULL
  );
  CREATE UNIQUE INDEX alerts_one_live ON alerts (kind, pool, subject) WHERE status IN ('pending', 'open');
  CREATE INDEX alerts_resolved ON alerts (resolved_at) WHERE status = 'resolved';
  CREATE TABLE alert_conversations (
    platform     TEXT PRIMARY KEY,
    conversation TEXT NOT NULL,
    set_by       TEXT NOT NULL,
    set_at       INTEGER NOT NULL
  );
  ALTER TABLE pool_health ADD COLUMN spec TEXT;
  `,
  // 12: what the activity monitor knows of each lease: its latest probe (report or error), the
  // current idle run and idle time, the idle prompt and Keep, and the one grace given at expiry
  // (kept so that a restart neither grants a second nor forgets the first). Goes with its lease.
  `
  CREATE TABLE lease_activity (
    lease_id      TEXT PRIMARY KEY REFERENCES leases (id) ON DELETE CASCADE,
    pool          TEXT NOT NULL,
    last_probe_at INTEGER,
    last_report   TEXT,
    last_error    TEXT,
    idle_since    INTEGER,
    idle_ms       INTEGER NOT NULL DEFAULT 0,
    prompted_at   INTEGER,
    kept_at       INTEGER,
    grace_at      INTEGER,
    grace_until   INTEGER,
    grace_job     TEXT
  );
  `,
  // 13: extensions granted to a lease while others waited for its pool (extendWhileQueued: once).
  `
  CREATE TABLE queued_extensions (
    lease_id TEXT PRIMARY KEY,
    count    INTEGER NOT NULL
  );
  `,
  // 14: who set a pool's warm size with admin resize, and when ("7: set by admin alice").
  `
  ALTER TABLE pool_controls ADD COLUMN size_by TEXT;
  ALTER TABLE pool_controls ADD COLUMN size_at INTEGER;
  `,
  // 15: reads proportional to change. When the tick must next read each lease (its next reminder
  // stage or expiry; 0 = at once, as a new claim or an extension is), by an index over the active
  // ones; the VMs a cloud change names, by server id; VMs by state (the tick reads those not
  // handed out, never the claimed fleet).
  `
  ALTER TABLE leases ADD COLUMN next_due_at INTEGER NOT NULL DEFAULT 0;
  CREATE INDEX leases_due ON leases (next_due_at) WHERE ended_at IS NULL;
  CREATE INDEX vms_server ON vms (server_id);
  CREATE INDEX vms_state ON vms (state, created_at);
  `,
  // 16: a claim takes the pool's oldest ready VM through an index in that order, instead of
  // sorting every ready VM of the pool for each claim (a burst of claims was quadratic).
  `
  CREATE INDEX vms_ready_oldest ON vms (pool, ready_at, id) WHERE state = 'ready';
  `,
];
