import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** Seconds from a claim to a VM: from at once to an hour in the queue. */
const WAIT = [0, 1, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600];

/**
 * The waitlist's share of /metrics (PromMetrics delegates here): queue length per pool, read
 * from the store when scraped; the time from claim to VM; holds offered, taken, passed and
 * lapsed; and the share of claims served at once.
 */
export class WaitlistMetrics {
  private readonly wait: Histogram<'pool'>;
  private readonly holds: Counter<'pool' | 'event'>;
  private readonly served: Counter<'pool' | 'how'>;
  private readonly counts = new Map<string, { instant: number; all: number }>();
  private queues: () => { pool: string; length: number }[] = () => [];

  constructor(registry: Registry) {
    const registers = [registry];
    const queues = () => this.queues();
    new Gauge({
      name: 'daaas_queue_length',
      help: 'Users waiting in each pool\'s queue, those offered a held VM included',
      labelNames: ['pool'],
      registers,
      collect() {
        this.reset();
        for (const { pool, length } of queues()) this.set({ pool }, length);
      },
    });
    this.wait = new Histogram({ name: 'daaas_claim_wait_seconds', help: 'Claim to VM: 0 when one was ready at once, else the time in the queue', labelNames: ['pool'], buckets: WAIT, registers });
    this.holds = new Counter({ name: 'daaas_holds_total', help: 'VMs held for the first in line, by what became of the offer (offered, taken, passed, lapsed)', labelNames: ['pool', 'event'], registers });
    this.served = new Counter({ name: 'daaas_claims_served_total', help: 'Claims served, at once (instant) or from the queue (queued)', labelNames: ['pool', 'how'], registers });
    const counts = this.counts;
    new Gauge({
      name: 'daaas_claims_served_instantly_ratio',
      help: 'Share of the claims served since start that got a VM at once',
      labelNames: ['pool'],
      registers,
      collect() {
        this.reset();
        for (const [pool, c] of counts) this.set({ pool }, c.all === 0 ? 0 : c.instant / c.all);
      },
    });
  }

  watchQueues(read: () => { pool: string; length: number }[]): void {
    this.queues = read;
  }

  hold(pool: string, event: 'offered' | 'taken' | 'passed' | 'lapsed'): void {
    this.holds.inc({ pool, event });
  }

  claimServed(pool: string, waitedMs: number): void {
    const how = waitedMs === 0 ? 'instant' : 'queued';
    this.wait.observe({ pool }, waitedMs / 1000);
    this.served.inc({ pool, how });
    const c = this.counts.get(pool) ?? { instant: 0, all: 0 };
    c.all++;
    if (how === 'instant') c.instant++;
    this.counts.set(pool, c);
  }
}
