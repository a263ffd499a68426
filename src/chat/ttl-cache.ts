import type { Clock } from '../ports/clock.ts';

interface Entry<V> {
  value: V;
  expiresAt: number;
}

/**
 * A bounded in-memory map whose entries expire: for user look-ups. When full, the entry written
 * longest ago goes first, so memory stays bounded however many users there are. (Deliveries a
 * platform sends twice are recognised by the inbound pipeline's delivery log, which outlives a restart.)
 */
export class TtlCache<V> {
  private readonly entries = new Map<string, Entry<V>>();

  constructor(private readonly options: { clock: Clock; maxEntries: number }) {}

  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.options.clock.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  set(key: string, value: V, ttlMs: number): void {
    this.entries.delete(key);
    this.entries.set(key, { value, expiresAt: this.options.clock.now() + ttlMs });
    while (this.entries.size > this.options.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.entries.delete(oldest.value);
    }
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }
}
