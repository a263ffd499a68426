import { randomUUID } from 'node:crypto';
import type { Clock } from '../../ports/clock.ts';
import type { Cloud, CloudLimits, CloudServer, CreateServerRequest, ServerStatus } from '../../ports/cloud.ts';
import { CloudError } from '../../ports/cloud.ts';
import { readSimState, writeSimState, type SimServer } from './sim-state.ts';

export interface SimFlavor {
  vcpus: number;
  gpus: number;
}

export interface SimCloudOptions {
  clock: Clock;
  /** Where servers are kept so they outlive the bot, as a real cloud's do; in memory if omitted. */
  statePath?: string;
  /** How long a server stays in BUILD, give or take `bootJitter` (a fraction). */
  bootMs: number;
  bootJitter?: number;
  /** Fraction of boots that end in ERROR, as Nova's do when no host can be found. */
  bootFailureRate?: number;
  /** Fraction of API calls answered with 503. */
  apiFailureRate?: number;
  /** Added to every API call, as a real cloud's round trip is. */
  latencyMs?: number;
  quota: { instances: number; cores: number };
  flavors: Record<string, SimFlavor>;
  images: string[];
  /** Servers per page of a list, as Nova's `limit`. */
  pageSize?: number;
  /** How long a deleted server is still reported by `listChanges` (Nova: until its rows are archived). */
  deletedRetentionMs?: number;
  /** Randomness, seeded in tests. */
  random?: () => number;
}

type Operation = 'list' | 'changes' | 'get' | 'create' | 'delete' | 'limits' | 'flavor' | 'image';

/** Nova keeps deleted servers' rows until an operator archives them; an hour is a short such while. */
const DELETED_RETENTION_MS = 3_600_000;

/**
 * An in-process OpenStack look-alike. Servers boot for a while and then go ACTIVE or ERROR;
 * quotas run out; calls take time and fail on demand or at random; lists come in pages. The
 * embedded default runs on it and the scheduler's error paths are tested against it.
 */
export class SimCloud implements Cloud {
  /** API requests made, by operation (each page of a list counts once). */
  readonly calls: Record<Operation, number> = { list: 0, changes: 0, get: 0, create: 0, delete: 0, limits: 0, flavor: 0, image: 0 };
  private servers = new Map<string, SimServer>();
  private deleted = new Map<string, { server: SimServer; deletedAt: number }>();
  /** Servers whose changes `listChanges` leaves out, as a change lost to a clock or a race would be. */
  private readonly dropped = new Set<string>();
  private imageVersions: Record<string, number> = {};
  private hidden = new Set<string>();
  private nextAddress = 0;
  private outage = false;
  private failures: { operation: Operation | '*'; status: number; remaining: number }[] = [];
  private readonly random: () => number;

  constructor(private readonly options: SimCloudOptions) {
    this.random = options.random ?? Math.random;
    if (options.statePath) this.load(options.statePath);
  }

  // ---- fault injection, for tests and the crash harness -------------------------------------

  /** Every call fails as if the cloud were unreachable until `setOutage(false)`. */
  setOutage(down: boolean): void {
    this.outage = down;
  }

  /** The next `count` calls of `operation` ('*' for any; 'list' for a list of either kind, full or changes-since) fail with `status`. */
  failNext(operation: Operation | '*', count = 1, status = 503): void {
    this.failures.push({ operation, status, remaining: count });
  }

  /** A server breaks under its user, as a hypervisor failure would leave it. */
  breakServer(id: string, fault = 'Host failure'): void {
    const server = this.servers.get(id);
    if (server) {
      server.fault = fault;
      server.updatedAt = this.options.clock.now();
      this.save();
    }
  }

  /** A server vanishes behind the bot's back (deleted by an operator, say). */
  removeServer(id: string): void {
    this.markDeleted(id);
  }

  /** An operator changes a server in a way the bot has no part in (a reboot, say): a change `listChanges` reports, nothing more. */
  touchServer(id: string): void {
    const server = this.servers.get(id);
    if (server) {
      server.updatedAt = this.options.clock.now();
      this.save();
    }
  }

  /**
   * Every change of this server from now on is left out of `listChanges` (a change the window
   * missed): only a full list, or asking for the server itself, shows what became of it.
   */
  dropChangesOf(id: string): void {
    this.dropped.add(id);
  }

  /** The next list (a full one or changes-since) leaves this server out, as Nova's may while the server changes cell. */
  hideFromNextList(id: string): void {
    this.hidden.add(id);
  }

  /** A server the bot did not create, or whose creation it lost track of. */
  inject(request: CreateServerRequest): CloudServer {
    return this.view(this.add(request));
  }

  /** A rebuilt image is published under the same name, as a facility does; returns its id. */
  publishImage(name: string): string {
    this.imageVersions[name] = (this.imageVersions[name] ?? 1) + 1;
    this.save();
    return this.currentImage(name);
  }

  get serverCount(): number {
    return this.servers.size;
  }

  // ---- the Cloud port ------------------------------------------------------------------------

  async listServers(tag: string): Promise<CloudServer[]> {
    const pageSize = this.options.pageSize ?? 50;
    const hidden = this.hidden;
    this.hidden = new Set();
    const matching = [...this.servers.values()].filter((s) => s.tags.includes(tag) && !hidden.has(s.id)).sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id));
    const result: CloudServer[] = [];
    // Walk the pages as a client of Nova must: each page is a request of its own.
    let offset = 0;
    do {
      await this.call('list');
      const page = matching.slice(offset, offset + pageSize);
      result.push(...page.map((s) => this.view(s)));
      offset += pageSize;
    } while (offset < matching.length);
    return result;
  }

  async listChanges(tag: string, since: number): Promise<CloudServer[]> {
    const pageSize = this.options.pageSize ?? 50;
    const now = this.options.clock.now();
    const retention = this.options.deletedRetentionMs ?? DELETED_RETENTION_MS;
    for (const [id, gone] of this.deleted) if (now - gone.deletedAt > retention) this.deleted.delete(id);
    const hidden = this.hidden;
    this.hidden = new Set();
    const changed: CloudServer[] = [];
    for (const server of this.servers.values()) {
      if (server.tags.includes(tag) && !this.dropped.has(server.id) && !hidden.has(server.id) && this.updated(server) >= since) changed.push(this.view(server));
    }
    // As Nova does: a deleted server keeps its id, name, image and flavour, but not its tags or metadata.
    for (const { server, deletedAt } of this.deleted.values()) {
      if (deletedAt >= since && !this.dropped.has(server.id)) changed.push({ ...this.view(server), status: 'DELETED', fault: null, address: null, metadata: {}, tags: [] });
    }
    changed.sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id));
    const result: CloudServer[] = [];
    let offset = 0;
    do {
      await this.call('changes');
      result.push(...changed.slice(offset, offset + pageSize));
      offset += pageSize;
    } while (offset < changed.length);
    return result;
  }

  async getServer(id: string): Promise<CloudServer | null> {
    await this.call('get');
    const server = this.servers.get(id);
    return server ? this.view(server) : null;
  }

  async createServer(request: CreateServerRequest): Promise<CloudServer> {
    await this.call('create');
    const flavor = this.options.flavors[request.flavor];
    if (!flavor) throw new CloudError(`Flavor ${request.flavor} could not be found.`, 'create', 400, this.requestId());
    const image = this.imageOf(request.image);
    if (image === undefined) throw new CloudError(`Image ${request.image} could not be found.`, 'create', 400, this.requestId());
    const used = this.usage();
    const { instances, cores } = this.options.quota;
    if (used.instances + 1 > instances) {
      throw new CloudError(`Quota exceeded for instances: Requested 1, but already used ${used.instances} of ${instances} instances`, 'create', 403, this.requestId());
    }
    if (used.cores + flavor.vcpus > cores) {
      throw new CloudError(`Quota exceeded for cores: Requested ${flavor.vcpus}, but already used ${used.cores} of ${cores} cores`, 'create', 403, this.requestId());
    }
    return this.view(this.add({ ...request, image }));
  }

  async imageId(name: string): Promise<string> {
    await this.call('image');
    const id = this.imageOf(name);
    if (id === undefined) throw new CloudError(`Image ${name} could not be found.`, 'image', 404, this.requestId());
    return id;
  }

  async deleteServer(id: string): Promise<void> {
    await this.call('delete');
    // Already gone is success: deleting is idempotent for the bot.
    this.markDeleted(id);
  }

  async limits(): Promise<CloudLimits> {
    await this.call('limits');
    const used = this.usage();
    return { maxInstances: this.options.quota.instances, usedInstances: used.instances, maxCores: this.options.quota.cores, usedCores: used.cores };
  }

  async flavorCores(flavor: string): Promise<number> {
    await this.call('flavor');
    const found = this.options.flavors[flavor];
    if (!found) throw new CloudError(`Flavor ${flavor} could not be found.`, 'flavor', 404, this.requestId());
    return found.vcpus;
  }

  // ---- internals -----------------------------------------------------------------------------

  private markDeleted(id: string): void {
    const server = this.servers.get(id);
    if (!server) return;
    this.servers.delete(id);
    this.deleted.set(id, { server, deletedAt: this.options.clock.now() });
    this.save();
  }

  /** When the server last changed: its last change by a call, or its boot ending, whichever is later. */
  private updated(server: SimServer): number {
    const changed = server.updatedAt ?? server.createdAt;
    const booted = server.createdAt + server.bootMs;
    return !server.fault && this.options.clock.now() >= booted ? Math.max(changed, booted) : changed;
  }

  private currentImage(name: string): string {
    const version = this.imageVersions[name] ?? 1;
    return version === 1 ? name : `${name}@v${version}`;
  }

  /** The current id for a name, or the id itself if it is one of the current ones. */
  private imageOf(nameOrId: string): string | undefined {
    if (this.options.images.includes(nameOrId)) return this.currentImage(nameOrId);
    return this.options.images.map((name) => this.currentImage(name)).find((id) => id === nameOrId);
  }

  private async call(operation: Operation): Promise<void> {
    this.calls[operation]++;
    if (this.options.latencyMs) await this.options.clock.sleep(this.options.latencyMs);
    if (this.outage) throw new CloudError(`The cloud did not answer (${operation}): connection refused`, operation, null);
    const injected = this.failures.find((f) => f.remaining > 0 && (f.operation === operation || f.operation === '*' || (f.operation === 'list' && operation === 'changes')));
    if (injected) {
      injected.remaining--;
      this.failures = this.failures.filter((f) => f.remaining > 0);
      throw new CloudError(`The cloud answered ${injected.status} to ${operation}`, operation, injected.status, this.requestId());
    }
    if (this.random() < (this.options.apiFailureRate ?? 0)) {
      throw new CloudError(`The cloud answered 503 to ${operation}: service unavailable`, operation, 503, this.requestId());
    }
  }

  private add(request: CreateServerRequest): SimServer {
    const jitter = this.options.bootJitter ?? 0.2;
    const server: SimServer = {
      id: randomUUID(),
      name: request.name,
      image: request.image,
      flavor: request.flavor,
      metadata: { ...request.metadata },
      tags: [...request.tags],
      createdAt: this.options.clock.now(),
      bootMs: Math.round(this.options.bootMs * (1 - jitter + 2 * jitter * this.random())),
      failsToBoot: this.random() < (this.options.bootFailureRate ?? 0),
      address: this.allocateAddress(),
      fault: null,
    };
    this.servers.set(server.id, server);
    this.save();
    return server;
  }

  private allocateAddress(): string {
    // Skips .0 and .255 of every /24, as DHCP on a real tenant network would.
    const n = this.nextAddress++;
    const host = n % 254;
    const subnet = Math.floor(n / 254);
    return `10.${16 + ((subnet >> 8) & 0x0f)}.${subnet & 0xff}.${host + 1}`;
  }

  private status(server: SimServer): { status: ServerStatus; fault: string | null } {
    if (server.fault) return { status: 'ERROR', fault: server.fault };
    if (this.options.clock.now() < server.createdAt + server.bootMs) return { status: 'BUILD', fault: null };
    if (server.failsToBoot) return { status: 'ERROR', fault: 'No valid host was found. There are not enough hosts available.' };
    return { status: 'ACTIVE', fault: null };
  }

  private view(server: SimServer): CloudServer {
    const { status, fault } = this.status(server);
    return {
      id: server.id,
      name: server.name,
      status,
      fault,
      address: status === 'ACTIVE' ? server.address : null,
      image: server.image,
      flavor: server.flavor,
      metadata: { ...server.metadata },
      tags: [...server.tags],
      createdAt: server.createdAt,
    };
  }

  private usage(): { instances: number; cores: number } {
    let cores = 0;
    for (const s of this.servers.values()) cores += this.options.flavors[s.flavor]?.vcpus ?? 0;
    return { instances: this.servers.size, cores };
  }

  private requestId(): string {
    return `req-${randomUUID()}`;
  }

  private load(path: string): void {
    const state = readSimState(path);
    if (!state) return;
    this.servers = new Map(state.servers.map((s) => [s.id, s]));
    this.nextAddress = state.nextAddress;
    this.imageVersions = state.imageVersions ?? {};
    this.deleted = new Map((state.deleted ?? []).map((d) => [d.server.id, d]));
  }

  private save(): void {
    const path = this.options.statePath;
    if (path) writeSimState(path, { version: 1, servers: [...this.servers.values()], nextAddress: this.nextAddress, imageVersions: this.imageVersions, deleted: [...this.deleted.values()] });
  }
}
