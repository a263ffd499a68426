/**
 * A small OpenStack (Keystone v3, Nova 2.x, Glance v2, Neutron networks) on 127.0.0.1, for the
 * failures a real test cloud cannot be made to have on demand: resets, 5xx, 429, revoked
 * tokens, quotas. It answers the way the real services do — the token in X-Subject-Token,
 * 202 without a status on boot, `networks` required from 2.37, tags from 2.52, a deleted
 * server lingering with task_state "deleting", errors wrapped as {"badRequest": {...}} — so
 * the client cannot pass here and fail on a real cloud.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeOpenStackOptions {
  bootMs?: number;
  /** How long a deleted server stays listed (as ACTIVE, task_state deleting). */
  deleteMs?: number;
  quota?: { instances: number; cores: number };
  tokenTtlMs?: number;
  /** Nova's max_limit: the most servers one page holds. */
  maxLimit?: number;
}

interface FakeServer {
  id: string;
  name: string;
  project: string;
  flavorId: string;
  imageId: string;
  metadata: Record<string, string>;
  tags: string[];
  networks: string[];
  created: number;
  error: string | null;
  /** When the fault was set: it changes the server's `updated`. */
  erroredAt?: number;
  deletingSince: number | null;
  /** The user data the server booted with, decoded (Nova takes it base64-encoded). */
  userData?: string;
}

type Fault = { status?: number; reset?: boolean; retryAfter?: string; method?: string; path?: RegExp; body?: unknown };

export const FAKE_USER = { name: 'bot', password: 'fake-secret-password', project: 'physics', domain: 'Default' };
export const FAKE_APP_CREDENTIAL = { id: 'appcred-1', secret: 'fake-appcred-secret' };

export class FakeOpenStack {
  readonly flavors = [
    { id: randomUUID(), name: 'm1.small', vcpus: 1, ram: 2048, disk: 20 },
    { id: randomUUID(), name: 'g1.gpu', vcpus: 8, ram: 32768, disk: 40 },
  ];
  readonly images: { id: string; name: string; status: string; created_at: string }[] = [];
  readonly networks = [{ id: randomUUID(), name: 'facility-analysis' }];
  readonly servers = new Map<string, FakeServer>();
  /** Deleted servers, reported by `changes-since` (status DELETED, tags and metadata gone), as Nova's are until archived. */
  private readonly deleted = new Map<string, { server: FakeServer; at: number }>();
  readonly tokens = new Map<string, number>();
  /** Every request: method, path with query, headers (lower-case). */
  readonly requests: { method: string; url: string; headers: IncomingMessage['headers'] }[] = [];
  readonly projectId = randomUUID().replace(/-/g, '');
  private readonly faults: Fault[] = [];
  private server: Server | undefined;
  url = '';

  constructor(private readonly o: FakeOpenStackOptions = {}) {
    this.publishImage('physics-base', Date.now() - 86_400_000);
  }

  /** A new image under `name`, as a facility publishes a rebuilt one. */
  publishImage(name: string, at = Date.now()): string {
    const id = randomUUID();
    this.images.push({ id, name, status: 'active', created_at: new Date(at).toISOString().replace(/\.\d+Z$/, 'Z') });
    return id;
  }

  /** The next matching requests fail this way, one fault per request. */
  fail(...faults: Fault[]): void {
    this.faults.push(...faults);
  }

  /** Keystone forgot every token, as after a key rotation. */
  revokeTokens(): void {
    this.tokens.clear();
  }

  breakServer(id: string, fault: string): void {
    const s = this.servers.get(id);
    if (s) {
      s.error = fault;
      s.erroredAt = Date.now();
    }
  }

  /** A server created by someone else, with whatever tags they chose. */
  addStranger(name: string, tags: string[] = []): string {
    const id = randomUUID();
    this.servers.set(id, { id, name, project: this.projectId, flavorId: this.flavors[0]!.id, imageId: this.images[0]!.id, metadata: {}, tags, networks: [], created: Date.now(), error: null, deletingSince: null });
    return id;
  }

  count(method: string, path: RegExp): number {
    return this.requests.filter((r) => r.method === method && path.test(r.url)).length;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }

  /** The OS_* variables an openrc for this cloud would export. */
  env(extra: Record<string, string> = {}): Record<string, string> {
    return {
      OS_AUTH_URL: `${this.url}/identity/v3`,
      OS_USERNAME: FAKE_USER.name,
      OS_PASSWORD: FAKE_USER.password,
      OS_PROJECT_NAME: FAKE_USER.project,
      OS_USER_DOMAIN_NAME: FAKE_USER.domain,
      OS_PROJECT_DOMAIN_NAME: FAKE_USER.domain,
      OS_REGION_NAME: 'RegionOne',
      OS_INTERFACE: 'public',
      ...extra,
    };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString();
    this.requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    const url = new URL(req.url ?? '/', this.url);
    const faultAt = this.faults.findIndex((f) => (!f.method || f.method === req.method) && (!f.path || f.path.test(url.pathname)));
    if (faultAt >= 0) {
      const [fault] = this.faults.splice(faultAt, 1);
      if (fault!.reset) {
        req.socket.destroy();
        return;
      }
      return send(res, fault!.status ?? 500, fault!.body ?? { computeFault: { code: fault!.status ?? 500, message: 'Unexpected API Error.' } }, fault!.retryAfter ? { 'retry-after': fault!.retryAfter } : {});
    }
    let body: unknown = undefined;
    try {
      body = raw ? JSON.parse(raw) : undefined;
    } catch {
      return send(res, 400, { badRequest: { code: 400, message: 'Malformed request body' } });
    }
    const path = url.pathname;
    if (path === '/identity/v3/auth/tokens' && req.method === 'POST') return this.issueToken(body, res);
    const token = req.headers['x-auth-token'];
    const expiry = typeof token === 'string' ? this.tokens.get(token) : undefined;
    if (expiry === undefined || expiry < Date.now()) {
      return send(res, 401, { error: { code: 401, title: 'Unauthorized', message: 'The request you have made requires authentication.' } });
    }
    if (path.startsWith('/compute/v2.1')) return this.compute(req, path.slice('/compute/v2.1'.length), url.searchParams, body, res);
    if (path.startsWith('/image/v2/images')) return this.image(path.slice('/image/v2/images'.length), url.searchParams, res);
    if (path === '/network/v2.0/networks') return send(res, 200, { networks: this.networks.filter((n) => !url.searchParams.get('name') || n.name === url.searchParams.get('name')) });
    send(res, 404, { itemNotFound: { code: 404, message: 'The resource could not be found.' } });
  }

  private issueToken(body: unknown, res: ServerResponse): void {
    const identity = (body as { auth?: { identity?: { methods?: string[]; password?: { user?: { name?: string; password?: string; domain?: { name?: string } } }; application_credential?: { id?: string; secret?: string } } } })?.auth?.identity;
    const user = identity?.password?.user;
    const byPassword = identity?.methods?.includes('password') && user?.name === FAKE_USER.name && user.password === FAKE_USER.password && user.domain?.name === FAKE_USER.domain;
    const cred = identity?.application_credential;
    const byCredential = identity?.methods?.includes('application_credential') && cred?.id === FAKE_APP_CREDENTIAL.id && cred.secret === FAKE_APP_CREDENTIAL.secret;
    if (!byPassword && !byCredential) return send(res, 401, { error: { code: 401, title: 'Unauthorized', message: 'The request you have made requires authentication.' } });
    const token = `gAAAA${randomUUID().replace(/-/g, '')}`;
    const expiresAt = Date.now() + (this.o.tokenTtlMs ?? 3_600_000);
    this.tokens.set(token, expiresAt);
    const endpoint = (type: string, path: string) => ({ type, endpoints: ['public', 'internal'].map((iface) => ({ interface: iface, region_id: 'RegionOne', region: 'RegionOne', url: `${this.url}${path}` })) });
    send(
      res,
      201,
      {
        token: {
          expires_at: new Date(expiresAt).toISOString(),
          project: { id: this.projectId, name: FAKE_USER.project },
          catalog: [endpoint('identity', '/identity/v3'), endpoint('compute', '/compute/v2.1'), endpoint('image', '/image'), endpoint('network', '/network')],
        },
      },
      { 'x-subject-token': token },
    );
  }

  private microversion(req: IncomingMessage): number {
    const header = String(req.headers['openstack-api-version'] ?? '');
    const match = /^compute (\d+)\.(\d+)$/.exec(header);
    return match ? Number(match[1]) + Number(match[2]) / 1000 : 2.001;
  }

  private compute(req: IncomingMessage, path: string, query: URLSearchParams, body: unknown, res: ServerResponse): void {
    const version = this.microversion(req);
    if (path === '/' || path === '') return send(res, 200, { version: { id: 'v2.1', status: 'CURRENT', version: '2.93', min_version: '2.1' } });
    if (path === '/servers/detail' && req.method === 'GET') return this.list(query, version, res);
    if (path === '/servers' && req.method === 'POST') return this.boot(body, version, res);
    if (path === '/limits') {
      const used = this.used();
      const quota = this.o.quota ?? { instances: 50, cores: 200 };
      return send(res, 200, { limits: { rate: [], absolute: { maxTotalInstances: quota.instances, totalInstancesUsed: used.instances, maxTotalCores: quota.cores, totalCoresUsed: used.cores, maxServerMeta: 128 } } });
    }
    if (path === '/flavors/detail') return send(res, 200, { flavors: this.flavors });
    const one = /^\/servers\/([^/]+)$/.exec(path);
    const server = one ? this.live(one[1]!) : undefined;
    if (one && !server) return send(res, 404, { itemNotFound: { code: 404, message: `Instance ${one[1]} could not be found.` } });
    if (server && req.method === 'GET') return send(res, 200, { server: this.show(server, version) });
    if (server && req.method === 'DELETE') {
      server.deletingSince ??= Date.now();
      return send(res, 204, null);
    }
    send(res, 404, { itemNotFound: { code: 404, message: 'The resource could not be found.' } });
  }

  private list(query: URLSearchParams, version: number, res: ServerResponse): void {
    const wanted = query.get('tags')?.split(',') ?? [];
    const changesSince = query.get('changes-since');
    const since = changesSince === null ? null : Date.parse(changesSince);
    if (since !== null && Number.isNaN(since)) return send(res, 400, { badRequest: { code: 400, message: `Invalid input for query parameters changes-since. Value: ${changesSince}. '${changesSince}' is not a 'date-time'` } });
    // With changes-since, deleted servers are listed too, without the tags and metadata they had.
    const gone = since === null ? [] : [...this.deleted.values()].filter((d) => d.at >= since).map((d) => ({ ...d.server, tags: [] as string[], metadata: {} as Record<string, string>, gone: true }));
    const all = [...[...this.servers.values()].filter((s) => this.live(s.id) && (since === null || this.updated(s) >= since)).map((s) => ({ ...s, gone: false })), ...gone]
      .filter((s) => wanted.every((tag) => s.tags.includes(tag)))
      .sort((a, b) => b.created - a.created || a.id.localeCompare(b.id));
    const limit = Math.min(Number(query.get('limit') ?? this.o.maxLimit ?? 1000), this.o.maxLimit ?? 1000);
    const marker = query.get('marker');
    const start = marker ? all.findIndex((s) => s.id === marker) + 1 : 0;
    if (marker && start === 0) return send(res, 400, { badRequest: { code: 400, message: `marker [${marker}] not found` } });
    const page = all.slice(start, start + limit);
    const links = page.length === limit ? [{ rel: 'next', href: `http://nova.internal:8774/v2.1/servers/detail?limit=${limit}&marker=${page.at(-1)!.id}` }] : undefined;
    send(res, 200, { servers: page.map((s) => (s.gone ? { ...(this.show(s, version) as object), status: 'DELETED', 'OS-EXT-STS:task_state': null, addresses: {} } : this.show(s, version))), ...(links ? { servers_links: links } : {}) });
  }

  private boot(body: unknown, version: number, res: ServerResponse): void {
    const s = (body as { server?: Record<string, unknown> })?.server;
    const bad = (message: string) => send(res, 400, { badRequest: { code: 400, message } });
    if (!s) return bad("Invalid input for field/attribute server. Value: None. 'server' is a required property");
    if (version >= 2.037 && s.networks === undefined) return bad("Invalid input for field/attribute server. 'networks' is a required property");
    if (s.networks === 'none' && version < 2.037) return bad("Invalid input for field/attribute networks. Value: none. 'none' is not of type 'array'");
    if (s.tags !== undefined && version < 2.052) return bad("Additional properties are not allowed ('tags' was unexpected)");
    const flavor = this.flavors.find((f) => f.id === s.flavorRef);
    if (!flavor) return bad(`Flavor ${String(s.flavorRef)} could not be found.`);
    const image = this.images.find((i) => i.id === s.imageRef);
    if (!image) return bad(`Image ${String(s.imageRef)} could not be found.`);
    const metadata = (s.metadata ?? {}) as Record<string, unknown>;
    if (Object.values(metadata).some((v) => typeof v !== 'string')) return bad('Invalid input for field/attribute metadata.');
    const networks = Array.isArray(s.networks) ? (s.networks as { uuid: string }[]).map((n) => n.uuid) : [];
    for (const n of networks) if (!this.networks.some((known) => known.id === n)) return bad(`Network ${n} could not be found.`);
    const used = this.used();
    const quota = this.o.quota ?? { instances: 50, cores: 200 };
    if (used.instances + 1 > quota.instances) {
      return send(res, 403, { forbidden: { code: 403, message: `Quota exceeded for instances: Requested 1, but already used ${used.instances} of ${quota.instances} instances` } });
    }
    if (used.cores + flavor.vcpus > quota.cores) {
      return send(res, 403, { forbidden: { code: 403, message: `Quota exceeded for cores: Requested ${flavor.vcpus}, but already used ${used.cores} of ${quota.cores} cores` } });
    }
    const id = randomUUID();
    this.servers.set(id, { id, name: String(s.name), project: this.projectId, flavorId: flavor.id, imageId: image.id, metadata: metadata as Record<string, string>, tags: (s.tags as string[]) ?? [], networks, created: Date.now(), error: null, deletingSince: null, ...(typeof s.user_data === 'string' ? { userData: Buffer.from(s.user_data, 'base64').toString() } : {}) });
    send(res, 202, { server: { id, links: [], adminPass: 'x', security_groups: [{ name: 'default' }] } });
  }

  private image(path: string, query: URLSearchParams, res: ServerResponse): void {
    if (path.startsWith('/')) {
      const image = this.images.find((i) => i.id === path.slice(1));
      return image ? send(res, 200, image) : send(res, 404, '<html><body><h1>404 Not Found</h1>No image found with ID x</body></html>');
    }
    let found = this.images.filter((i) => (!query.get('name') || i.name === query.get('name')) && (!query.get('status') || i.status === query.get('status')));
    if (query.get('sort') === 'created_at:desc') found = found.sort((a, b) => b.created_at.localeCompare(a.created_at));
    send(res, 200, { images: found.slice(0, Number(query.get('limit') ?? 25)) });
  }

  /** A server as Nova shows it; undefined once it is gone. */
  private live(id: string): FakeServer | undefined {
    const s = this.servers.get(id);
    if (s?.deletingSince !== null && s?.deletingSince !== undefined && Date.now() - s.deletingSince >= (this.o.deleteMs ?? 200)) {
      this.servers.delete(id);
      this.deleted.set(id, { server: s, at: s.deletingSince + (this.o.deleteMs ?? 200) });
      return undefined;
    }
    return s;
  }

  /** Nova's `updated`: the latest of creation, the boot ending, a fault and the start of deletion. */
  private updated(s: FakeServer): number {
    const booted = s.created + (this.o.bootMs ?? 300);
    return Math.max(s.created, Date.now() >= booted ? booted : 0, s.erroredAt ?? 0, s.deletingSince ?? 0);
  }

  private show(s: FakeServer, version: number): unknown {
    const booted = Date.now() - s.created >= (this.o.bootMs ?? 300);
    const status = s.error ? 'ERROR' : booted ? 'ACTIVE' : 'BUILD';
    const flavor = this.flavors.find((f) => f.id === s.flavorId)!;
    const index = [...this.servers.keys()].indexOf(s.id) + 2;
    return {
      id: s.id,
      name: s.name,
      status,
      'OS-EXT-STS:task_state': s.deletingSince !== null ? 'deleting' : booted ? null : 'spawning',
      addresses: s.networks.length && booted ? { 'facility-analysis': [{ addr: `10.0.0.${index}`, version: 4, 'OS-EXT-IPS:type': 'fixed' }] } : {},
      image: { id: s.imageId, links: [] },
      flavor: version >= 2.047 ? { original_name: flavor.name, vcpus: flavor.vcpus, ram: flavor.ram, disk: flavor.disk } : { id: flavor.id, links: [] },
      metadata: s.metadata,
      ...(version >= 2.026 ? { tags: s.tags } : {}),
      created: new Date(s.created).toISOString(),
      ...(s.error ? { fault: { code: 500, message: s.error, created: new Date().toISOString() } } : {}),
    };
  }

  private used(): { instances: number; cores: number } {
    let instances = 0;
    let cores = 0;
    for (const s of this.servers.values()) {
      instances++;
      cores += this.flavors.find((f) => f.id === s.flavorId)?.vcpus ?? 0;
    }
    return { instances, cores };
  }
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = body === null ? '' : typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': typeof body === 'string' ? 'text/html' : 'application/json', 'x-openstack-request-id': `req-${randomUUID()}`, ...headers });
  res.end(text);
}
