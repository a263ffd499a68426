/**
 * The Cloud port on a real OpenStack: Nova for servers and limits, Glance for images, Neutron
 * only to turn network names into ids. Every call goes through one OpenStackSession.
 */
import type { Clock } from '../../ports/clock.ts';
import { CloudError, type Cloud, type CloudLimits, type CloudServer, type CreateServerRequest, type ServerStatus } from '../../ports/cloud.ts';
import { mergeUserData } from '../cloud-init.ts';
import type { OpenStackSession } from './os-session.ts';

/**
 * Compute API microversion 2.52: the oldest that has everything the bot relies on — tags in
 * the create request (2.52), so a server is ours from its first moment, not after a second
 * call that a crash could lose; `networks: "none"` (2.37); the flavour embedded in the server
 * (2.47); and the tag filter on lists (2.26). Staying at the oldest such version keeps the bot
 * working on clouds as old as Queens and away from later behaviour changes (from 2.69, lists
 * may hold partial records while a cell is down).
 */
export const COMPUTE_MICROVERSION = '2.52';
const COMPUTE_HEADERS = { 'OpenStack-API-Version': `compute ${COMPUTE_MICROVERSION}`, 'X-OpenStack-Nova-API-Version': COMPUTE_MICROVERSION };
const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;
/** Nova's limits on tags and metadata: checked here so a bad request fails before it is sent. */
const TAG = /^[^,/]{1,60}$/;
const META_MAX = 255;

export interface OpenStackCloudOptions {
  session: OpenStackSession;
  clock: Clock;
  /** Servers asked for per page of a list; Nova caps it at its own max_limit (1000 by default). */
  pageSize?: number;
  /** How long an image name stays resolved before Glance is asked again for the newest. */
  imageRefreshMs?: number;
  /** Applied to every server the bot boots. */
  keyName?: string;
  securityGroups?: string[];
  userData?: string;
}

export interface Flavor {
  id: string;
  name: string;
  vcpus: number;
  ram: number;
}

export interface Image {
  id: string;
  name: string;
  createdAt: number;
}

interface NovaServer {
  id: string;
  name: string;
  status: string;
  'OS-EXT-STS:task_state'?: string | null;
  fault?: { message?: string; details?: string };
  addresses?: Record<string, { addr: string; version?: number; 'OS-EXT-IPS:type'?: string }[]>;
  accessIPv4?: string;
  image?: { id?: string } | string;
  flavor?: { id?: string; original_name?: string };
  metadata?: Record<string, string>;
  tags?: string[];
  created?: string;
}

export class OpenStackCloud implements Cloud {
  private flavors: { list: Flavor[]; at: number } | null = null;
  private readonly images = new Map<string, { image: Image; at: number }>();
  private readonly networks = new Map<string, string>();
  private readonly pageSize: number;
  private readonly imageRefreshMs: number;

  constructor(private readonly options: OpenStackCloudOptions) {
    this.pageSize = options.pageSize ?? 200;
    this.imageRefreshMs = options.imageRefreshMs ?? 300_000;
  }

  async listServers(tag: string): Promise<CloudServer[]> {
    // `tags` is filtered by Nova itself (the metadata filter is silently ignored for non-admins,
    // so it cannot be used).
    return this.walk('list servers', { tags: tag });
  }

  /**
   * `changes-since`, without the tag filter: Nova strips a deleted server's tags (and metadata),
   * so `tags=` with `changes-since` would miss every deletion. Tagged servers of ours and every
   * deleted one are kept; the caller matches deleted ones by id.
   */
  async listChanges(tag: string, since: number): Promise<CloudServer[]> {
    const all = await this.walk('list changes', { 'changes-since': new Date(Math.max(0, since)).toISOString() });
    return all.filter((server) => server.status === 'DELETED' || server.tags.includes(tag));
  }

  /** One paged walk of /servers/detail: `limit` and `marker` page through it. */
  private async walk(operation: string, filter: Record<string, string>): Promise<CloudServer[]> {
    const servers: CloudServer[] = [];
    const seen = new Set<string>();
    let marker: string | undefined;
    for (;;) {
      const { body } = await this.options.session.request<{ servers: NovaServer[]; servers_links?: { rel: string; href: string }[] }>('compute', '/servers/detail', {
        operation,
        headers: COMPUTE_HEADERS,
        searchParams: { ...filter, limit: this.pageSize, ...(marker ? { marker } : {}) },
      });
      const page = body?.servers ?? [];
      for (const server of page) {
        if (seen.has(server.id)) continue;
        seen.add(server.id);
        servers.push(toCloudServer(server));
      }
      const next = body?.servers_links?.find((link) => link.rel === 'next')?.href;
      const nextMarker = next ? new URL(next).searchParams.get('marker') : null;
      // The marker comes from Nova's next link; its host is not used, as it may name an
      // address behind the cloud's proxy rather than the catalog's.
      if (!nextMarker || page.length === 0 || nextMarker === marker) return servers;
      marker = nextMarker;
    }
  }

  async createServer(request: CreateServerRequest): Promise<CloudServer> {
    checkMarks(request);
    const [image, flavor, networks] = await Promise.all([this.resolveImage(request.image), this.resolveFlavor(request.flavor, 'boot'), this.resolveNetworks(request.networks)]);
    const securityGroups = request.securityGroups ?? this.options.securityGroups;
    const keyName = request.keyName ?? this.options.keyName;
    // The site's user data, with the bot's own (the VM's host key) merged in.
    const userData = mergeUserData(this.options.userData, request.userData);
    const server = {
      name: request.name,
      imageRef: image.id,
      flavorRef: flavor.id,
      networks: networks.length ? networks.map((uuid) => ({ uuid })) : 'none',
      metadata: request.metadata,
      tags: request.tags,
      ...(keyName ? { key_name: keyName } : {}),
      ...(securityGroups?.length ? { security_groups: securityGroups.map((name) => ({ name })) } : {}),
      ...(userData ? { user_data: Buffer.from(userData).toString('base64') } : {}),
    };
    const { body } = await this.options.session.request<{ server?: { id?: string } }>('compute', '/servers', {
      operation: 'boot',
      method: 'POST',
      headers: COMPUTE_HEADERS,
      json: { server },
    });
    const id = body?.server?.id;
    if (!id) throw new CloudError('boot: the cloud accepted the request but gave no server id; the next look at the cloud will find it by its tag', 'boot', null);
    return {
      id,
      name: request.name,
      status: 'BUILD',
      fault: null,
      address: null,
      image: image.id,
      flavor: flavor.name,
      metadata: { ...request.metadata },
      tags: [...request.tags],
      createdAt: this.options.clock.now(),
    };
  }

  async deleteServer(id: string): Promise<void> {
    // 404: someone (or an earlier attempt whose answer was lost) deleted it already.
    await this.options.session.request('compute', `/servers/${encodeURIComponent(id)}`, { operation: 'delete server', method: 'DELETE', headers: COMPUTE_HEADERS, accept: [404] });
  }

  /** One server, for diagnosis; null when the cloud does not know it. */
  async getServer(id: string): Promise<CloudServer | null> {
    const { status, body } = await this.options.session.request<{ server: NovaServer }>('compute', `/servers/${encodeURIComponent(id)}`, {
      operation: 'show server',
      headers: COMPUTE_HEADERS,
      accept: [404],
    });
    return status === 404 || !body ? null : toCloudServer(body.server);
  }

  async limits(): Promise<CloudLimits> {
    const { body } = await this.options.session.request<{ limits?: { absolute?: Record<string, number> } }>('compute', '/limits', { operation: 'read limits', headers: COMPUTE_HEADERS });
    const absolute = body?.limits?.absolute ?? {};
    // -1 is how Nova says "no limit".
    const max = (key: string) => (absolute[key] === undefined || absolute[key] < 0 ? Number.POSITIVE_INFINITY : absolute[key]);
    return {
      maxInstances: max('maxTotalInstances'),
      usedInstances: absolute.totalInstancesUsed ?? 0,
      maxCores: max('maxTotalCores'),
      usedCores: absolute.totalCoresUsed ?? 0,
    };
  }

  async imageId(name: string): Promise<string> {
    return (await this.resolveImage(name)).id;
  }

  async flavorCores(flavor: string): Promise<number> {
    return (await this.resolveFlavor(flavor, 'read flavor')).vcpus;
  }

  /** Every flavour this project may use (public and its private ones). */
  async listFlavors(): Promise<Flavor[]> {
    const { body } = await this.options.session.request<{ flavors?: { id: string; name: string; vcpus: number; ram: number }[] }>('compute', '/flavors/detail', {
      operation: 'list flavors',
      headers: COMPUTE_HEADERS,
    });
    const list = (body?.flavors ?? []).map((f) => ({ id: f.id, name: f.name, vcpus: f.vcpus, ram: f.ram }));
    this.flavors = { list, at: this.options.clock.now() };
    return list;
  }

  /**
   * The image a new server of this name gets: the newest active one. A facility publishes a
   * rebuilt image under the same name, and users want the current one.
   */
  async resolveImage(nameOrId: string): Promise<Image> {
    const cached = this.images.get(nameOrId);
    if (cached && this.options.clock.now() - cached.at < this.imageRefreshMs) return cached.image;
    const image = await this.findImage(nameOrId);
    if (!image) throw new CloudError(`image "${nameOrId}" does not exist in this cloud or is not active`, 'find image', 400);
    this.images.set(nameOrId, { image, at: this.options.clock.now() });
    return image;
  }

  private async findImage(nameOrId: string): Promise<Image | null> {
    type GlanceImage = { id: string; name: string; created_at: string; status: string };
    const toImage = (i: GlanceImage): Image => ({ id: i.id, name: i.name, createdAt: Date.parse(i.created_at) });
    if (UUID.test(nameOrId)) {
      const { status, body } = await this.options.session.request<GlanceImage>('image', `/v2/images/${nameOrId}`, { operation: 'find image', accept: [404] });
      if (status !== 404 && body?.status === 'active') return toImage(body);
    }
    const { body } = await this.options.session.request<{ images?: GlanceImage[] }>('image', '/v2/images', {
      operation: 'find image',
      searchParams: { name: nameOrId, status: 'active', sort: 'created_at:desc', limit: 1 },
    });
    const newest = body?.images?.[0];
    return newest ? toImage(newest) : null;
  }

  private async resolveFlavor(nameOrId: string, operation: string): Promise<Flavor> {
    const find = (list: Flavor[]) => list.find((f) => f.id === nameOrId) ?? list.find((f) => f.name === nameOrId);
    // Flavours rarely change: the cached list is used, and read again only on a miss.
    const known = this.flavors ? find(this.flavors.list) : undefined;
    if (known) return known;
    const list = await this.listFlavors();
    const flavor = find(list);
    if (!flavor) throw new CloudError(`${operation}: flavor "${nameOrId}" does not exist in this cloud (it has: ${list.map((f) => f.name).join(', ') || 'none'})`, operation, 400);
    return flavor;
  }

  private async resolveNetworks(names: readonly string[]): Promise<string[]> {
    const ids: string[] = [];
    for (const name of names) ids.push(await this.networkId(name));
    return ids;
  }

  /** A network's id, from its name (Neutron) or the id itself. */
  async networkId(nameOrId: string): Promise<string> {
    if (UUID.test(nameOrId)) return nameOrId;
    const known = this.networks.get(nameOrId);
    if (known) return known;
    const { body } = await this.options.session.request<{ networks?: { id: string }[] }>('network', '/v2.0/networks', { operation: 'find network', searchParams: { name: nameOrId } });
    const found = body?.networks ?? [];
    if (found.length !== 1) {
      throw new CloudError(`network "${nameOrId}" ${found.length ? 'is ambiguous: give its id' : 'does not exist in this cloud'}`, 'find network', 400);
    }
    this.networks.set(nameOrId, found[0]!.id);
    return found[0]!.id;
  }
}

function checkMarks(request: CreateServerRequest): void {
  for (const tag of request.tags) {
    if (!TAG.test(tag)) throw new CloudError(`boot: tag "${tag}" is not allowed by Nova (1–60 characters, no "," or "/")`, 'boot', 400);
  }
  for (const [key, value] of Object.entries(request.metadata)) {
    if (key.length > META_MAX || value.length > META_MAX) throw new CloudError(`boot: metadata "${key}" is longer than Nova's ${META_MAX} characters`, 'boot', 400);
  }
}

function toCloudServer(server: NovaServer): CloudServer {
  const image = typeof server.image === 'object' ? (server.image.id ?? '') : '';
  return {
    id: server.id,
    name: server.name,
    status: statusOf(server),
    fault: server.status === 'ERROR' ? [server.fault?.message, server.fault?.details].filter(Boolean).join(': ') || null : null,
    address: addressOf(server),
    image,
    flavor: server.flavor?.original_name ?? server.flavor?.id ?? '',
    metadata: { ...server.metadata },
    tags: server.tags ?? [],
    createdAt: server.created ? Date.parse(server.created) : 0,
  };
}

function statusOf(server: NovaServer): ServerStatus {
  // A server being deleted stays listed (often still ACTIVE) for a moment: it is already gone.
  if (server['OS-EXT-STS:task_state'] === 'deleting' || server.status === 'SOFT_DELETED') return 'DELETED';
  switch (server.status) {
    case 'BUILD':
    case 'ACTIVE':
    case 'ERROR':
    case 'DELETED':
      return server.status;
    default:
      return 'UNKNOWN';
  }
}

/** A floating address if there is one (reachable from the facility), else the first fixed IPv4. */
function addressOf(server: NovaServer): string | null {
  const all = Object.values(server.addresses ?? {}).flat();
  const pick =
    all.find((a) => a['OS-EXT-IPS:type'] === 'floating') ??
    all.find((a) => a.version === 4) ??
    all[0];
  return pick?.addr ?? (server.accessIPv4 || null);
}
