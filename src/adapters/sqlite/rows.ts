/** How the store's rows become the model's values, and the SQL they are read with. */
import { randomBytes } from 'node:crypto';
import type Database from 'better-sqlite3';
import type { LeaseEndReason, LeaseView, PoolControl, Vm, VmState } from '../../core/model.ts';
import { VM_STATES } from '../../core/model.ts';

export type Row = Record<string, unknown>;

export const LIVE_STATES = VM_STATES.filter((s) => s !== 'deleted');

export const VM_COLUMNS = `v.id, v.name, v.pool, v.state, v.server_id, v.address, v.image, v.flavor,
  v.created_at, v.state_since, v.ready_at, v.detail, v.host_key`;
export const LEASE_SELECT = `SELECT l.id AS lease_id, l.vm_id, l.pool AS lease_pool, l.user, l.platform,
  l.conversation, l.claimed_at, l.expires_at, l.extensions_used, l.home_ready_at, l.ended_at, l.end_reason, ${VM_COLUMNS}
  FROM leases l JOIN vms v ON v.id = l.vm_id`;

/** Four characters of base-32: short enough to type in chat, plenty per pool. */
export function shortId(): string {
  const alphabet = 'abcdefghjkmnpqrstuvwxyz23456789';
  return [...randomBytes(4)].map((b) => alphabet[b % alphabet.length]).join('');
}

export function toVm(r: Row): Vm {
  return {
    id: r.id as string,
    name: r.name as string,
    pool: r.pool as string,
    state: r.state as VmState,
    serverId: (r.server_id as string | null) ?? null,
    address: (r.address as string | null) ?? null,
    image: r.image as string,
    flavor: r.flavor as string,
    createdAt: r.created_at as number,
    stateSince: r.state_since as number,
    readyAt: (r.ready_at as number | null) ?? null,
    detail: (r.detail as string | null) ?? null,
    hostKey: (r.host_key as string | null) ?? null,
  };
}

export function toPoolControl(r: Row): PoolControl {
  return {
    pool: r.pool as string,
    size: (r.size as number | null) ?? null,
    sizeBy: r.size_at === null || r.size_at === undefined ? null : { by: r.size_by as string, at: r.size_at as number },
    drained: r.drained_at === null ? null : { reason: r.drained_reason as string, by: r.drained_by as string, at: r.drained_at as number },
    paused: r.paused_at === null ? null : { by: r.paused_by as string, at: r.paused_at as number },
  };
}

export function toLeaseView(r: Row): LeaseView {
  return {
    id: r.lease_id as string,
    vmId: r.vm_id as string,
    pool: r.lease_pool as string,
    user: r.user as string,
    platform: r.platform as string,
    conversation: r.conversation as string,
    claimedAt: r.claimed_at as number,
    expiresAt: r.expires_at as number,
    extensionsUsed: r.extensions_used as number,
    homeReadyAt: (r.home_ready_at as number | null) ?? null,
    endedAt: (r.ended_at as number | null) ?? null,
    endReason: (r.end_reason as LeaseEndReason | null) ?? null,
    vm: toVm(r),
  };
}

export const placeholders = (n: number) => Array.from({ length: n }, () => '?').join(', ');

/** Compiled statements by SQL text: compiling on every call was the largest cost of a claim. */
export class Statements {
  private readonly cache = new Map<string, Database.Statement>();
  constructor(private readonly db: Database.Database) {}

  get(sql: string): Database.Statement {
    let statement = this.cache.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.cache.set(sql, statement);
    }
    return statement;
  }
}
