import cron, { type ScheduledTask } from 'node-cron';
import type { Logger } from '../ports/logger.ts';
import type { TickReport } from './reconciler.ts';

export interface TickLoopOptions {
  tick: () => Promise<TickReport>;
  /** Cron expression for the steady heartbeat (every minute by default). */
  schedule: string;
  now: () => number;
  log: Logger;
}

/**
 * Decides when the reconciler ticks: on the cron heartbeat, when a command changed something
 * (`kick`), and when the last tick asked to look again soon (booting VMs, a reminder falling
 * due). Never two ticks at once; kicks during a tick coalesce into one more tick after it.
 */
export class TickLoop {
  private task: ScheduledTask | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private started = false;
  ticks = 0;

  constructor(private readonly options: TickLoopOptions) {}

  start(): void {
    this.started = true;
    this.task = cron.schedule(this.options.schedule, () => this.kick(), { noOverlap: false });
    this.kick();
  }

  /** Asks for a tick as soon as possible; nothing before the loop is started. */
  kick(): void {
    if (this.stopped || !this.started) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.run().finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        this.kick();
      }
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.task?.stop();
    clearTimeout(this.timer);
    await this.running;
  }

  private async run(): Promise<void> {
    clearTimeout(this.timer);
    try {
      const started = this.options.now();
      const report = await this.options.tick();
      this.ticks++;
      this.options.log.debug({ ...report, ms: this.options.now() - started }, 'tick');
      if (report.nextWakeAt !== null && !this.stopped) {
        // Capped so a wake-up far away (a reminder in 24 h) still leaves the cron heartbeat in charge.
        const delayMs = Math.min(Math.max(report.nextWakeAt - this.options.now(), 50), 60_000);
        this.timer = setTimeout(() => this.kick(), delayMs);
        this.timer.unref();
      }
    } catch (error) {
      this.options.log.error({ err: error }, 'tick failed; the next one starts from what is');
    }
  }
}
