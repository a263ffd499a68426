/** The chat platform the fan-out benchmarks deliver to: a rate limit, and what it received when. */
import type { Reply } from '../src/chat/reply.ts';
import type { Notifier, Recipient } from '../src/ports/notifier.ts';
import { sleepReal } from './lib.ts';

/** A chat platform's rate limit: a token bucket of `burst` tokens refilled at `ratePerS`; a message waits for a token. */
export class RateLimitedPlatform implements Notifier {
  readonly delivered: { user: string; title: string; at: number }[] = [];
  private tokens: number;
  private updatedAt = performance.now();
  private waiting = 0;
  maxWaiting = 0;
  /** Tokens that ran over a full bucket: capacity lost while nobody was asking to send. */
  wasted = 0;

  constructor(
    readonly ratePerS: number,
    readonly burst: number,
    readonly roundTripMs = 0,
  ) {
    this.tokens = burst;
  }

  /** A full bucket, and nothing counted as lost, from now. */
  reset(): void {
    this.tokens = this.burst;
    this.updatedAt = performance.now();
    this.wasted = 0;
  }

  async notify(to: Recipient, message: Reply): Promise<void> {
    this.waiting++;
    this.maxWaiting = Math.max(this.maxWaiting, this.waiting);
    try {
      for (; Number.isFinite(this.ratePerS); ) {
        const now = performance.now();
        const refill = ((now - this.updatedAt) * this.ratePerS) / 1000;
        this.wasted += Math.max(0, this.tokens + refill - this.burst);
        this.tokens = Math.min(this.burst, this.tokens + refill);
        this.updatedAt = now;
        if (this.tokens >= 1) {
          this.tokens -= 1;
          break;
        }
        await sleepReal(Math.max(1, Math.ceil(((1 - this.tokens) * 1000) / this.ratePerS)));
      }
      if (this.roundTripMs) await sleepReal(this.roundTripMs);
      this.delivered.push({ user: to.user, title: message.title, at: performance.now() });
    } finally {
      this.waiting--;
    }
  }
}
