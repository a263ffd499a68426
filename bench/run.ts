/**
 * `npm run bench [-- --quick] [-- --out FILE] [-- --only claims,tick,refill,queue,fanout,outbox,memory,startup,directory,retention,schedule,activity]`
 *
 * Measures the embedded default (SQLite store, simulated cloud and provisioning) on the bot's
 * own code paths, prints a table and writes a JSON report (default bench/report.json). Not a
 * test: it fails only if it cannot run; targets missed are reported, not enforced.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { activityProbes } from './activity.ts';
import { claimLatency } from './claims.ts';
import { directoryClaims } from './directory.ts';
import { reminderFanOut } from './fanout.ts';
import { closeFixtures, printTable, type Row, type SectionResult } from './lib.ts';
import { peakMemory } from './memory.ts';
import { outboxLatency } from './outbox.ts';
import { poolRefill } from './refill.ts';
import { queueWaits } from './queue.ts';
import { startupTime } from './startup.ts';
import { retentionSize } from './retention.ts';
import { issueTargets, markdownTargets, printTargets } from './targets.ts';
import { scheduledMorning } from './schedule.ts';
import { reconcileTick } from './tick.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const SECTIONS: Record<string, (quick: boolean) => Promise<SectionResult>> = {
  claims: claimLatency,
  tick: reconcileTick,
  refill: poolRefill,
  queue: queueWaits,
  fanout: reminderFanOut,
  outbox: outboxLatency,
  memory: peakMemory,
  startup: startupTime,
  directory: directoryClaims,
  retention: retentionSize,
  schedule: scheduledMorning,
  activity: activityProbes,
};

const HELP = `Usage: npm run bench [-- options]

  --quick        a smaller run: fewer samples, 2,500 instead of 10,000 leases (tick, memory; the fan-out keeps 10,000)
  --out FILE     where to write the JSON report (default: bench/report.json in the project)
  --only LIST    comma-separated sections: ${Object.keys(SECTIONS).join(', ')}
  --help         this text
`;

async function main(): Promise<number> {
  let args;
  try {
    args = parseArgs({ options: { quick: { type: 'boolean' }, out: { type: 'string' }, only: { type: 'string' }, help: { type: 'boolean' } }, allowPositionals: false }).values;
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const quick = Boolean(args.quick);
  const only = args.only ? args.only.split(',').map((s) => s.trim()).filter(Boolean) : Object.keys(SECTIONS);
  const unknown = only.filter((s) => !(s in SECTIONS));
  if (unknown.length) {
    process.stderr.write(`Unknown section(s): ${unknown.join(', ')}\n\n${HELP}`);
    return 2;
  }
  const out = args.out ? resolve(args.out) : join(ROOT, 'bench', 'report.json');

  const machine = {
    node: process.version,
    platform: `${process.platform}/${process.arch}`,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    totalMemoryMB: Math.round(totalmem() / 2 ** 20),
    loadAverageAtStart: loadavg().map((l) => Math.round(l * 100) / 100),
  };
  const startedAt = new Date();
  process.stdout.write(
    `DAaaS benchmark${quick ? ' (quick)' : ''}: node ${machine.node}, ${machine.cpus} × ${machine.cpuModel}, ${machine.totalMemoryMB} MB, load ${machine.loadAverageAtStart.join(' ')}\n`,
  );

  const rows: Row[] = [];
  const notes: string[] = [];
  const results: Record<string, unknown> = {};
  const t0 = performance.now();
  for (const name of only) {
    const s0 = performance.now();
    const load = loadavg()[0]!;
    process.stdout.write(`  ${name} (load ${load.toFixed(1)}) …`);
    try {
      const result = await SECTIONS[name]!(quick);
      rows.push(...result.rows);
      notes.push(...result.notes);
      results[name] = { ...result.data, sectionSeconds: Math.round((performance.now() - s0) / 100) / 10, loadAverageAtStart: Math.round(load * 100) / 100 };
      process.stdout.write(` ${((performance.now() - s0) / 1000).toFixed(1)} s\n`);
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      rows.push({ section: name, measure: 'could not run', value: why.slice(0, 120), target: '—', verdict: 'miss' });
      results[name] = { error: why };
      process.stdout.write(` failed: ${why}\n`);
    }
  }
  await closeFixtures();
  const loadAtEnd = loadavg()[0]!;
  if (Math.max(machine.loadAverageAtStart[0]!, loadAtEnd) > machine.cpus) {
    notes.push(
      `The machine was busy (load ${machine.loadAverageAtStart[0]} at the start, ${loadAtEnd.toFixed(1)} at the end, on ${machine.cpus} CPUs): wall times include waiting for a CPU behind other processes; the CPU times are the bot's own work.`,
    );
  }
  const totalSeconds = Math.round((performance.now() - t0) / 100) / 10;

  process.stdout.write(`\n${printTable(rows)}\n`);
  const targets = issueTargets(rows, only);
  process.stdout.write(`\nThe targets of issue 16 (${quick ? 'quick run: smaller samples and fleet' : 'full run'}; load ${machine.loadAverageAtStart[0]} at the start, ${loadAtEnd.toFixed(1)} at the end, on ${machine.cpus} CPUs):\n${printTargets(targets)}\n`);
  if (notes.length) process.stdout.write(`\nNotes:\n${notes.map((n) => `  - ${n}`).join('\n')}\n`);

  const report = {
    generatedAt: startedAt.toISOString(),
    command: `npm run bench${quick ? ' -- --quick' : ''}${args.only ? ` -- --only ${only.join(',')}` : ''}`,
    quick,
    machine,
    totalSeconds,
    loadAverageAtEnd: Math.round(loadAtEnd * 100) / 100,
    table: rows,
    issueTargets: targets,
    issueTargetsMarkdown: markdownTargets(targets),
    notes,
    results,
  };
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`\nReport written to ${relative(process.cwd(), out) || out} (${totalSeconds} s in all).\n`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`The benchmark stopped on an unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
