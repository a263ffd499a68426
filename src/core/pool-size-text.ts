import type { PoolSize } from './pool-size.ts';

/**
 * A pool's warm size and why, in a few words, as `pools` and `admin pools` show it:
 * "12 until 18:00: weekday mornings", "7: set by admin alice", "5: configured".
 * Times are in the schedule's zone, with the day when not within the next 24 hours.
 */
export function describePoolSize(size: PoolSize, now: number, timeZone: string): string {
  switch (size.source) {
    case 'drained':
      return `${size.size}: drained${size.by ? ` by ${size.by}` : ''}`;
    case 'admin':
      return `${size.size}: set by admin${size.by ? ` ${size.by}` : ''}`;
    case 'window':
      return `${size.size} until ${clock(size.until!, now, timeZone)}: ${size.window}`;
    case 'ahead':
      return `${size.size} from ${clock(size.startsAt!, now, timeZone)}: ${size.window} (filling ahead)`;
    case 'configured':
      return `${size.size}: configured`;
  }
}

/** 18:00 within a day of now, else Tue 18:00, in the schedule's zone. */
function clock(at: number, now: number, timeZone: string): string {
  const withDay = Math.abs(at - now) >= 86_400_000;
  const text = new Intl.DateTimeFormat('en-GB', {
    ...(withDay ? { weekday: 'short' as const } : {}),
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
    timeZone,
  }).format(at);
  return text.replace(',', '');
}
