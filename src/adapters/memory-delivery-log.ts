import type { DeliveryLog } from '../ports/delivery-log.ts';

/**
 * Deliveries remembered in memory: for tests and local trials, where a restart may forget them.
 * Bounded: when full, the delivery recorded longest ago is forgotten first.
 */
export class InMemoryDeliveryLog implements DeliveryLog {
  private readonly entries = new Map<string, { expiresAt: number; answer?: string }>();

  constructor(private readonly maxEntries = 10_000) {}

  record(key: string, now: number, expiresAt: number): boolean {
    const entry = this.entries.get(key);
    if (entry && entry.expiresAt > now) return false;
    this.entries.delete(key);
    this.entries.set(key, { expiresAt });
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.entries.delete(oldest.value);
    }
    return true;
  }

  keepAnswer(key: string, answer: string): void {
    const entry = this.entries.get(key);
    if (entry) entry.answer = answer;
  }

  answerOf(key: string, now: number): string | undefined {
    const entry = this.entries.get(key);
    return entry && entry.expiresAt > now ? entry.answer : undefined;
  }

  get size(): number {
    return this.entries.size;
  }
}
