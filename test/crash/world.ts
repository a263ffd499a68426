/**
 * What the crash harness knows of a bot's world: the fast configuration it runs with, and a
 * read-only snapshot of its persisted state (the SQLite store and the simulated cloud's JSON
 * file), taken between lives or while the bot runs, never changing either.
 */
import Database from 'better-sqlite3';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const INSTANCE = 'crash';
export const TAG = `daaas:${INSTANCE}`;
export const USERS = ['alice', 'bob', 'carol', 'dave'] as const;

export interface PoolShape {
  image: string;
  size: number;
  max: number;
  leaseMs: number;
  remindMs: number[];
  stepMs: number;
  maxExtensions: number;
}

/**
 * Two small pools with leases of a few seconds, so reminders, extensions and expiries all
 * happen while the bot is being killed: about as long as one life or two, so some leases
 * expire while the bot is up, some while it is down, and some outlive a kill. Each user may
 * hold one VM per pool; `max` leaves room for every user's lease plus a full pool, so the
 * pools can converge while leases are held. imaging keeps none warm: each claim of it queues, a
 * VM is booted for the queue and held for the first in line, so joining, holding, passing and
 * claiming a held VM all happen between kills.
 */
export const POOLS: Record<string, PoolShape> = {
  physics: { image: 'physics-base', size: 2, max: 6, leaseMs: 10_000, remindMs: [7_000, 3_000], stepMs: 4_000, maxExtensions: 2 },
  imaging: { image: 'imaging-base', size: 0, max: 5, leaseMs: 6_000, remindMs: [4_000], stepMs: 3_000, maxExtensions: 1 },
};

export function configYaml(): string {
  const pools = Object.entries(POOLS)
    .map(
      ([name, p]) => `
  ${name}:
    image: ${p.image}
    flavor: m1.large
    size: ${p.size}
    max: ${p.max}
    lease: ${p.leaseMs}ms
    remindBefore: [${p.remindMs.map((ms) => `${ms}ms`).join(', ')}]
    extensionStep: ${p.stepMs}ms
    maxExtensions: ${p.maxExtensions}
    maxLeasesPerUser: 1
    queue: true
    holdFor: 1500ms
    groups: [scientists]
    owner: { name: Crash harness, contact: crash@facility.example }`,
    )
    .join('');
  const quota = Object.values(POOLS).reduce((n, p) => n + p.max, 0);
  return `instance: ${INSTANCE}
access:
  admins: []
  localUserIsAdmin: false
  groups: { scientists: [${USERS.join(', ')}] }
scheduler:
  poll: 100ms
  maxConcurrentBoots: 10
  readinessTimeout: 20s
  failedRetention: 1s
  backoffInitial: 200ms
  backoffMax: 1s
  # Random failures (5 % of boots and provisioning runs) must not stop a pool: no circuit breaker.
  failureLimit: 1000
cloud:
  driver: simulated
  simulated:
    bootTime: 200ms
    bootFailureRate: 0.05
    latency: 2ms
    quota: { instances: ${quota}, cores: ${quota * 4} }
    flavors: { m1.large: { vcpus: 4 } }
    images: [${Object.values(POOLS)
      .map((p) => p.image)
      .join(', ')}]
provisioner:
  driver: simulated
  simulated: { provisionTime: 150ms, personaliseTime: 100ms, failureRate: 0.05 }
pools:${pools}
`;
}

export interface VmRow {
  id: string;
  name: string;
  pool: string;
  state: string;
  server_id: string | null;
}

export interface LeaseRow {
  id: string;
  vm_id: string;
  pool: string;
  user: string;
  claimed_at: number;
  expires_at: number;
  extensions_used: number;
  home_ready_at: number | null;
  ended_at: number | null;
  end_reason: string | null;
}

export interface ReminderRow {
  lease_id: string;
  before_ms: number;
  expires_at: number;
  status: string;
}

export interface OutboxRow {
  key: string;
  kind: string;
  lease_id: string | null;
  /** Whom it is for (read from the store; test snapshots may leave it out). */
  user?: string;
  status: string;
  created_at: number;
  deliver_by: number;
}

export interface WaitlistRow {
  id: number;
  pool: string;
  user: string;
  held_vm_id: string | null;
  held_until: number | null;
}

export interface AuditCount {
  actor: string;
  action: string;
  result: string;
  n: number;
}

export interface ServerRow {
  id: string;
  name: string;
  metadata: Record<string, string>;
  tags: string[];
  fault: string | null;
}

export interface Snapshot {
  vms: VmRow[];
  leases: LeaseRow[];
  reminders: ReminderRow[];
  /** The outbox: every message the bot sends on its own, with how its delivery went. */
  outbox: OutboxRow[];
  audit: AuditCount[];
  /** The pools' queues and the VMs held for those in them (absent from hand-made snapshots). */
  waitlist?: WaitlistRow[];
  /** The simulated cloud's servers that carry this deployment's tag. */
  servers: ServerRow[];
}

const TABLES = ['vms', 'leases', 'reminders', 'outbox', 'audit'];

/**
 * Reads the cloud first, then the store in one read transaction: a server is created only
 * after its record, so read in this order a running bot cannot show a server without a record.
 */
export function readSnapshot(dataDir: string): Snapshot {
  const servers = readServers(join(dataDir, 'sim-cloud.json'));
  const dbPath = join(dataDir, 'daaas.db');
  if (!existsSync(dbPath)) return { vms: [], leases: [], reminders: [], outbox: [], audit: [], servers };
  try {
    return { ...readStore(dbPath), servers };
  } catch (error) {
    // A store the bot died in the middle of creating (a hot journal a read-only connection
    // may not roll back): read a copy, recovered as the next bot would recover it.
    const code = (error as { code?: string }).code ?? '';
    if (!/^SQLITE_(READONLY|CANTOPEN|BUSY)/.test(code)) throw error;
    const scratch = mkdtempSync(join(tmpdir(), 'daaas-crash-copy-'));
    try {
      for (const suffix of ['', '-wal', '-journal']) {
        if (existsSync(dbPath + suffix)) copyFileSync(dbPath + suffix, join(scratch, `daaas.db${suffix}`));
      }
      return { ...readStore(join(scratch, 'daaas.db'), false), servers };
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  }
}

function readStore(path: string, readonly = true): Omit<Snapshot, 'servers'> {
  const db = new Database(path, { readonly, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    return db.transaction(() => {
      const present = (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).all() as { name: string }[]).map((r) => r.name);
      // Killed before its first migration committed: nothing was stored yet.
      if (!TABLES.every((t) => present.includes(t))) return { vms: [], leases: [], reminders: [], outbox: [], audit: [] };
      return {
        vms: db.prepare('SELECT id, name, pool, state, server_id FROM vms ORDER BY created_at, id').all() as VmRow[],
        leases: db
          .prepare('SELECT id, vm_id, pool, user, claimed_at, expires_at, extensions_used, home_ready_at, ended_at, end_reason FROM leases ORDER BY claimed_at, id')
          .all() as LeaseRow[],
        reminders: db.prepare('SELECT lease_id, before_ms, expires_at, status FROM reminders').all() as ReminderRow[],
        outbox: db.prepare('SELECT key, kind, lease_id, user, status, created_at, deliver_by FROM outbox ORDER BY id').all() as OutboxRow[],
        waitlist: present.includes('waitlist') ? (db.prepare('SELECT id, pool, user, held_vm_id, held_until FROM waitlist ORDER BY id').all() as WaitlistRow[]) : [],
        audit: db.prepare('SELECT actor, action, result, COUNT(*) AS n FROM audit GROUP BY actor, action, result').all() as AuditCount[],
      };
    })();
  } finally {
    db.close();
  }
}

interface PersistedServer {
  id: string;
  name: string;
  metadata: Record<string, string>;
  tags: string[];
  fault: string | null;
}

function readServers(path: string): ServerRow[] {
  if (!existsSync(path)) return [];
  const state = JSON.parse(readFileSync(path, 'utf8')) as { servers: PersistedServer[] };
  return state.servers
    .filter((s) => s.tags.includes(TAG))
    .map((s) => ({ id: s.id, name: s.name, metadata: { ...s.metadata }, tags: [...s.tags], fault: s.fault ?? null }));
}

/**
 * A hypervisor failure under a user, injected while no bot runs: the server stays, in ERROR.
 * Written whole and renamed into place, as the simulated cloud writes it.
 */
export function breakServer(dataDir: string, serverId: string, fault: string): boolean {
  const path = join(dataDir, 'sim-cloud.json');
  if (!existsSync(path)) return false;
  const state = JSON.parse(readFileSync(path, 'utf8')) as { servers: PersistedServer[] };
  const server = state.servers.find((s) => s.id === serverId);
  if (!server) return false;
  server.fault = fault;
  writeFileSync(`${path}.harness`, JSON.stringify(state));
  renameSync(`${path}.harness`, path);
  return true;
}
