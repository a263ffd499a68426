import type { ExecutionContext } from 'ava';
import type { Action, Block, Reply, Value } from '../../src/chat/reply.ts';
import type { AuditEntry } from '../../src/core/model.ts';
import { createHarness, type Harness, type HarnessOptions } from './harness.ts';

/** A harness whose pools are full (physics 3 ready, imaging 1 ready), closed when the test ends. */
export async function filledHarness(t: ExecutionContext, options: HarnessOptions = {}): Promise<Harness> {
  const h = createHarness(options);
  t.teardown(() => h.close());
  await h.run(15_000);
  return h;
}

/** Every text block of a reply, joined by newlines. */
export function texts(reply: Reply): string {
  return reply.blocks.flatMap((b) => (b.type === 'text' ? [b.text] : [])).join('\n');
}

/** Title and every text block: what a user reads, minus fields and tables. */
export function words(reply: Reply): string {
  return [reply.title, texts(reply)].join('\n');
}

/** The fields blocks of a reply, one label→value map per block. */
export function fieldBlocks(reply: Reply): Map<string, Value>[] {
  return reply.blocks.flatMap((b) => (b.type === 'fields' ? [new Map(b.fields.map((f) => [f.label, f.value] as const))] : []));
}

/** The only fields block of a reply. */
export function onlyFields(t: ExecutionContext, reply: Reply): Map<string, Value> {
  const all = fieldBlocks(reply);
  t.is(all.length, 1, `expected one fields block in ${JSON.stringify(reply)}`);
  return all[0] ?? new Map();
}

export function actionsOf(reply: Reply): Action[] {
  return reply.blocks.flatMap((b) => (b.type === 'actions' ? b.actions : []));
}

export function tableOf(reply: Reply): Extract<Block, { type: 'table' }> | undefined {
  return reply.blocks.find((b): b is Extract<Block, { type: 'table' }> => b.type === 'table');
}

/** A table's rows as objects keyed by column name, with values as given (strings or objects). */
export function tableRows(reply: Reply): Record<string, Value>[] {
  const table = tableOf(reply);
  if (!table) return [];
  return table.rows.map((row) => Object.fromEntries(table.columns.map((c, i) => [c, row[i] ?? ''])));
}

/** Everything the bot persists about VMs and leases, for "nothing changed" checks. */
export function snapshot(h: Harness): { vms: unknown; leases: unknown; audit: number } {
  return {
    vms: h.store.listVms().map((v) => ({ id: v.id, name: v.name, state: v.state, stateSince: v.stateSince })),
    leases: h.store.activeLeases().map((l) => ({ id: l.id, vm: l.vm.name, user: l.user, expiresAt: l.expiresAt, extensionsUsed: l.extensionsUsed })),
    audit: h.store.auditLog().length,
  };
}

/** Audit entries written after `from` entries (as counted by a previous auditLog().length). */
export function auditSince(h: Harness, from: number): AuditEntry[] {
  return h.store.auditLog().slice(from);
}

/** The name of the VM a user holds in a pool (fails the test if not exactly one). */
export function heldVm(t: ExecutionContext, h: Harness, user: string, pool?: string): string {
  const leases = h.store.activeLeases({ user, ...(pool ? { pool } : {}) });
  t.is(leases.length, 1, `expected ${user} to hold one VM`);
  return leases[0]?.vm.name ?? '';
}

export function readyCount(h: Harness, pool: string): number {
  return h.store.listVms({ pool, states: ['ready'] }).length;
}
