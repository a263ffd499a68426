/**
 * What the operator's command line shows of the bot's state, read from its store: pools (those
 * removed from the configuration too, until nothing of them is left), leases and the audit trail.
 */
import type { AppConfig } from '../config/load-config.ts';
import { effectiveSize, VM_STATES } from '../core/model.ts';
import { REMOVED_NOTE, retiredPoolNames, retiredPoolNote } from '../core/retired-pools.ts';
import type { Store } from '../ports/store.ts';

export type Output = { json: boolean; write: (text: string) => void };

const SHOWN_STATES = VM_STATES.filter((s) => s !== 'deleted');

export function poolsView(out: Output, cfg: AppConfig, store: Store): number {
  const vms = store.listVms();
  const counts = (pool: string) => Object.fromEntries(SHOWN_STATES.map((state) => [state, vms.filter((vm) => vm.pool === pool && vm.state === state).length]));
  const rows = [
    ...cfg.pools.map((pool) => {
      const control = store.poolControl(pool.name);
      const notes = [
        control.size !== null ? `size ${control.size} set by an admin (configured ${pool.size})` : '',
        control.drained ? `drained: ${control.drained.reason}` : '',
        control.paused ? `paused by ${control.paused.by}` : '',
      ].filter(Boolean);
      return { pool: pool.name, size: effectiveSize(pool, control), max: pool.max, ...counts(pool.name), lastError: store.poolHealth(pool.name).lastError, removed: null as string | null, notes };
    }),
    ...retiredPoolNames(cfg.pools, vms).map((pool) => ({ pool, size: 0, max: 0, ...counts(pool), lastError: store.poolHealth(pool).lastError, removed: retiredPoolNote(pool, vms), notes: [] as string[] })),
  ];
  if (out.json) out.write(`${JSON.stringify(rows, null, 2)}\n`);
  else {
    out.write(table(['pool', 'size', 'max', ...SHOWN_STATES, 'last error / note'], rows.map((r) => [r.removed ? `${r.pool} (${REMOVED_NOTE})` : r.pool, r.size, r.max, ...SHOWN_STATES.map((s) => (r as unknown as Record<string, number>)[s] ?? 0), [r.lastError, r.removed, ...r.notes].filter(Boolean).join('; ') || '-'])));
  }
  return 0;
}

export function leasesView(out: Output, store: Store): number {
  const rows = store.activeLeases().map((l) => ({
    vm: l.vm.name,
    pool: l.pool,
    user: l.user,
    platform: l.platform,
    address: l.vm.address,
    claimedAt: new Date(l.claimedAt).toISOString(),
    expiresAt: new Date(l.expiresAt).toISOString(),
    extensionsUsed: l.extensionsUsed,
    homeReady: l.homeReadyAt !== null,
  }));
  if (out.json) out.write(`${JSON.stringify(rows, null, 2)}\n`);
  else if (rows.length === 0) out.write('No active leases.\n');
  else out.write(table(['vm', 'pool', 'user', 'platform', 'address', 'claimed', 'expires', 'extensions', 'home'], rows.map((r) => [r.vm, r.pool, r.user, r.platform, r.address ?? '-', r.claimedAt, r.expiresAt, r.extensionsUsed, r.homeReady ? 'ready' : 'being set up'])));
  return 0;
}

export function auditView(out: Output, store: Store, from: number): number {
  const entries = store.auditLog({ since: from }).map((e) => ({ ...e, at: new Date(e.at).toISOString() }));
  if (out.json) out.write(`${JSON.stringify(entries, null, 2)}\n`);
  else if (entries.length === 0) out.write(`Nothing audited since ${new Date(from).toISOString()}.\n`);
  else for (const e of entries) out.write(`${e.at}  ${e.actor}  ${e.action} ${e.target}  ${e.result}${e.detail ? `  ${JSON.stringify(e.detail)}` : ''}\n`);
  return 0;
}

export function table(columns: string[], rows: (string | number)[][]): string {
  const cells = [columns, ...rows.map((r) => r.map(String))];
  const widths = columns.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return `${[line(columns), line(widths.map((w) => '-'.repeat(w))), ...rows.map((r) => line(r.map(String)))].join('\n')}\n`;
}
