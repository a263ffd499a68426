import type { Clock } from '../../ports/clock.ts';
import { CloudError, type Cloud, type CloudLimits, type CloudServer, type CreateServerRequest } from '../../ports/cloud.ts';
import type { Metrics } from '../../ports/metrics.ts';

/** Any Cloud, with each call counted and timed: calls and errors by operation, for /metrics. */
export class MeteredCloud implements Cloud {
  constructor(
    private readonly cloud: Cloud,
    private readonly metrics: Metrics,
    private readonly clock: Clock,
  ) {}

  listServers(tag: string): Promise<CloudServer[]> {
    return this.measure('list servers', () => this.cloud.listServers(tag));
  }

  listChanges(tag: string, since: number): Promise<CloudServer[]> {
    return this.measure('list changes', () => this.cloud.listChanges(tag, since));
  }

  getServer(id: string): Promise<CloudServer | null> {
    return this.measure('show server', () => this.cloud.getServer(id));
  }

  createServer(request: CreateServerRequest): Promise<CloudServer> {
    return this.measure('boot', () => this.cloud.createServer(request));
  }

  deleteServer(id: string): Promise<void> {
    return this.measure('delete server', () => this.cloud.deleteServer(id));
  }

  limits(): Promise<CloudLimits> {
    return this.measure('read limits', () => this.cloud.limits());
  }

  imageId(name: string): Promise<string> {
    return this.measure('find image', () => this.cloud.imageId(name));
  }

  flavorCores(flavor: string): Promise<number> {
    return this.measure('read flavor', () => this.cloud.flavorCores(flavor));
  }

  private async measure<T>(operation: string, call: () => Promise<T>): Promise<T> {
    const started = this.clock.elapsedMs();
    try {
      const result = await call();
      this.metrics.cloudCall(operation, 'ok', this.clock.elapsedMs() - started);
      return result;
    } catch (error) {
      const status = error instanceof CloudError ? (error.status === null ? 'network' : String(error.status)) : 'error';
      this.metrics.cloudCall(operation, status, this.clock.elapsedMs() - started);
      throw error;
    }
  }
}
