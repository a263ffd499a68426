import { setTimeout as delay } from 'node:timers/promises';
import type { Clock } from '../ports/clock.ts';

/** The wall clock: the one place the bot reads real time. */
export class SystemClock implements Clock {
  now(): number {
    return Date.now();
  }

  elapsedMs(): number {
    return performance.now();
  }

  async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    await delay(ms, undefined, signal ? { signal } : {});
  }
}
