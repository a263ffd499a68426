/**
 * The targets table of issue 16 ("Fast at fleet scale"), row by row, with what this run measured
 * and pass or miss: printed after the full table, so the figures the issue asks for are in one
 * place. A section's row names the figure it answers (Row.figure); rows of sections that did not
 * tag theirs are recognised by their wording. A figure whose section did not run says so.
 */
import type { Row, Verdict } from './lib.ts';

interface Figure {
  key: string;
  /** As the issue words it. */
  figure: string;
  /** The issue's "now" column: the figure on main before the work. */
  before: string;
  target: string;
  section: string;
  /** Recognises the section's row when it does not say which figure it answers (the last match wins: the largest scale). */
  match?: RegExp;
}

export const ISSUE_FIGURES: readonly Figure[] = [
  { key: 'tick-quiet', figure: 'tick wall, 100 pools / 10,500 VMs / 10,000 leases, nothing changed', before: '323 ms', target: '< 20 ms', section: 'tick', match: /^tick wall, .*nothing changed/ },
  { key: 'tick-changed', figure: 'tick wall, same, 1 % of VMs changed since the last tick', before: '—', target: '< 50 ms', section: 'tick', match: /^tick wall, .*1 % of VMs changed/ },
  { key: 'tick-requests', figure: 'cloud requests per tick at 10,500 VMs (between full walks)', before: '212 pages', target: '1–2, independent of fleet size', section: 'tick', match: /^cloud requests per tick/ },
  { key: 'tick-latency', figure: 'tick with 20 ms API latency, 10,500 VMs (between full walks)', before: '4.5 s', target: '< 100 ms', section: 'tick', match: /^tick wall with \d+ ms simulated API latency/ },
  { key: 'claim-50', figure: 'claim p99, 50 users at once', before: '33 ms', target: '< 20 ms', section: 'claims' },
  { key: 'claim-500', figure: 'claim p99, 500 users at once', before: '251 ms', target: '< 20 ms', section: 'claims' },
  { key: 'claim-alone', figure: 'claim p50, one user', before: '0.18 ms', target: '< 0.1 ms', section: 'claims' },
  { key: 'answer-slack', figure: 'claim → answer posted, Slack response_url (fake API on 127.0.0.1, user looked up): p50 / p99', before: '24–37 ms (one claim)', target: '< 5 ms / < 20 ms', section: 'claims' },
  { key: 'answer-teams', figure: 'claim → answer posted, Teams connector (fake API on 127.0.0.1, user looked up): p50 / p99', before: '—', target: '< 5 ms / < 20 ms', section: 'claims' },
  { key: 'rss', figure: 'peak RSS at 10,500 VMs (compiled)', before: '296 MB', target: '< 150 MB', section: 'memory' },
  { key: 'startup', figure: 'start-up to listening (compiled)', before: '1.1 s', target: '< 0.5 s', section: 'startup' },
];

export interface TargetLine {
  figure: string;
  before: string;
  now: string;
  target: string;
  verdict: Verdict | 'not run';
}

/** The issue's rows, each with this run's figure: from the row that names it, else the last row worded like it. */
export function issueTargets(rows: readonly Row[], ran: readonly string[]): TargetLine[] {
  return ISSUE_FIGURES.map((f) => {
    const row = rows.find((r) => r.figure === f.key) ?? (f.match ? rows.filter((r) => f.match!.test(r.measure)).at(-1) : undefined);
    if (!row) return { figure: f.figure, before: f.before, now: ran.includes(f.section) ? 'not measured' : `(--only without ${f.section})`, target: f.target, verdict: 'not run' };
    return { figure: f.figure, before: f.before, now: row.value, target: f.target, verdict: row.verdict };
  });
}

/** The lines as a plain-text table, as printTable lays out the full one. */
export function printTargets(lines: readonly TargetLine[]): string {
  const head = ['figure (issue 16)', 'before', 'this run', 'target', 'result'];
  const all = [head, ...lines.map((l) => [l.figure, l.before, l.now, l.target, l.verdict])];
  const widths = head.map((_, i) => Math.max(...all.map((c) => c[i]!.length)));
  const line = (c: string[]) => c.map((v, i) => v.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...all.slice(1).map(line)].join('\n');
}

/** The same as a Markdown table, for the README's performance section. */
export function markdownTargets(lines: readonly TargetLine[]): string {
  return ['| figure | before | now | target | result |', '|---|---|---|---|---|', ...lines.map((l) => `| ${l.figure} | ${l.before} | ${l.now} | ${l.target} | ${l.verdict} |`)].join('\n');
}
