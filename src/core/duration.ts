/**
 * Durations in configuration and chat are written the way operators write them ("90s", "10m",
 * "48h", "2d", "1h30m"); in code they are always milliseconds, with the unit in the name.
 */
const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
type Unit = keyof typeof UNIT_MS;

const PART = /(\d+)(ms|s|m|h|d)/gy;

/** Parses "1h30m" into milliseconds; returns undefined for anything that is not a duration. */
export function parseDurationMs(text: string): number | undefined {
  const input = text.trim();
  if (input === '' || input.length > 32) return undefined;
  PART.lastIndex = 0;
  let total = 0;
  let consumed = 0;
  for (let match = PART.exec(input); match; match = PART.exec(input)) {
    total += Number(match[1]) * UNIT_MS[match[2] as Unit];
    consumed = PART.lastIndex;
  }
  return consumed === input.length && Number.isSafeInteger(total) ? total : undefined;
}

/** "2d 3h", "1h 5m", "45s": the two largest units, for people. */
export function formatDuration(ms: number): string {
  const sign = ms < 0 ? '-' : '';
  let rest = Math.abs(Math.round(ms));
  if (rest < 1_000) return `${sign}${rest}ms`;
  // Shown to people: round to the nearest minute past one, so 47h59m59.9s reads as 2d.
  rest = rest >= 60_000 ? Math.round(rest / 60_000) * 60_000 : Math.round(rest / 1_000) * 1_000;
  const parts: string[] = [];
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    const size = UNIT_MS[unit];
    const count = Math.floor(rest / size);
    if (count > 0) parts.push(`${count}${unit}`);
    rest -= count * size;
    if (parts.length === 2) break;
  }
  return sign + parts.join(' ');
}

/** The shortest exact spelling, for showing configured values back ("48h", "90s"). */
export function formatDurationExact(ms: number): string {
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    if (ms >= UNIT_MS[unit] && ms % UNIT_MS[unit] === 0) return `${ms / UNIT_MS[unit]}${unit}`;
  }
  return `${ms}ms`;
}
