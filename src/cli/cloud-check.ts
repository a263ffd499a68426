/**
 * `daaas cloud check`: what an operator runs first against a cloud. Authenticates, then looks
 * up everything the pools need (images, flavours, networks, the API version, the quota) and
 * says in plain words what is missing. Reads only; boots nothing.
 */
import { COMPUTE_MICROVERSION, type OpenStackCloud } from '../adapters/openstack/openstack-cloud.ts';
import type { OpenStackSettings } from '../adapters/openstack/os-config.ts';
import type { OpenStackSession } from '../adapters/openstack/os-session.ts';
import { formatDuration } from '../core/duration.ts';
import type { PoolSpec } from '../core/model.ts';

export interface Finding {
  ok: boolean;
  /** What was checked: "authentication", "pool excitations: image", … */
  subject: string;
  message: string;
}

export interface CheckTarget {
  settings: OpenStackSettings;
  session: OpenStackSession;
  cloud: OpenStackCloud;
  pools: readonly PoolSpec[];
  now: number;
}

export async function checkCloud(target: CheckTarget): Promise<Finding[]> {
  const { settings, session, cloud, pools } = target;
  const findings: Finding[] = [];
  const add = (ok: boolean, subject: string, message: string) => findings.push({ ok, subject, message });
  const attempt = async <T>(subject: string, fn: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await fn();
    } catch (error) {
      add(false, subject, (error as Error).message);
      return undefined;
    }
  };

  const compute = await attempt('authentication', () => session.endpoint('compute'));
  if (compute === undefined) return findings;
  add(true, 'authentication', `authenticated with ${settings.authUrl} using ${settings.source}; project ${session.projectId ?? '(unscoped)'}; compute at ${compute}`);

  const version = await attempt('compute API', () => session.request<{ version?: { version?: string } }>('compute', '/', { operation: 'read API version' }));
  const max = version?.body?.version?.version;
  if (max !== undefined) {
    const enough = compareVersions(max, COMPUTE_MICROVERSION) >= 0;
    add(enough, 'compute API', enough ? `microversions up to ${max}; the bot uses ${COMPUTE_MICROVERSION}` : `the cloud offers microversions up to ${max}, the bot needs ${COMPUTE_MICROVERSION} (server tags at creation)`);
  }

  let instancesNeeded = 0;
  let coresNeeded = 0;
  for (const pool of pools) {
    const image = await attempt(`pool ${pool.name}: image`, () => cloud.resolveImage(pool.image));
    if (image) add(true, `pool ${pool.name}: image`, `"${pool.image}" is ${image.id}, published ${formatDuration(Math.max(0, target.now - image.createdAt))} ago`);
    const cores = await attempt(`pool ${pool.name}: flavor`, () => cloud.flavorCores(pool.flavor));
    if (cores !== undefined) add(true, `pool ${pool.name}: flavor`, `"${pool.flavor}" has ${cores} vCPUs`);
    if (pool.networks.length === 0) add(true, `pool ${pool.name}: networks`, 'none: servers boot without a network (networks: [])');
    for (const network of pool.networks) {
      const found = await attempt(`pool ${pool.name}: network`, () => cloud.networkId(network));
      if (found) add(true, `pool ${pool.name}: network`, `"${network}" is ${found}`);
    }
    instancesNeeded += pool.size;
    coresNeeded += pool.size * (cores ?? 0);
  }

  const limits = await attempt('quota', () => cloud.limits());
  if (limits) {
    const freeInstances = limits.maxInstances - limits.usedInstances;
    const freeCores = limits.maxCores - limits.usedCores;
    const enough = freeInstances >= instancesNeeded && freeCores >= coresNeeded;
    const show = (n: number) => (Number.isFinite(n) ? String(n) : 'unlimited');
    add(
      enough,
      'quota',
      `${show(freeInstances)} instances and ${show(freeCores)} cores free (of ${show(limits.maxInstances)} and ${show(limits.maxCores)}); filling every pool to its size needs ${instancesNeeded} and ${coresNeeded}` +
        (enough ? '' : ': ask the cloud operators for more, or lower the pool sizes'),
    );
  }
  return findings;
}

function compareVersions(a: string, b: string): number {
  const [a1 = 0, a2 = 0] = a.split('.').map(Number);
  const [b1 = 0, b2 = 0] = b.split('.').map(Number);
  return a1 - b1 || a2 - b2;
}
