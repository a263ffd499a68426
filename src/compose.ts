/**
 * Builds the cloud and provisioner adapters the configuration names. Shared by the bot
 * (main.ts) and the operator's command line, the two composition roots.
 */
import type { Logger } from './ports/logger.ts';
import { readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
// The OpenStack, Ansible and LDAP adapters (and their libraries) are loaded only when the
// configuration names them: the embedded default starts without reading them at all.
import type { AnsibleProvisioner } from './adapters/ansible/ansible-provisioner.ts';
import type { OutboundProxy } from './adapters/http-proxy.ts';
import type { CachedDirectory } from './adapters/cached-directory.ts';
import type { LdapDirectory } from './adapters/ldap/ldap-directory.ts';
import { SimCloud } from './adapters/sim-cloud/sim-cloud.ts';
import { SimActivityProbe } from './adapters/sim-activity.ts';
import { SimProvisioner } from './adapters/sim-provisioner.ts';
import type { SystemClock } from './adapters/system-clock.ts';
import type { AppConfig, DirectoryConfig, Env } from './config/load-config.ts';
import type { ActivityProbe } from './ports/activity.ts';
import type { Cloud } from './ports/cloud.ts';
import type { Provisioner } from './ports/provisioner.ts';
import { DEFAULT_ACTIVITY, type ActivitySettings } from './scheduler/activity-monitor.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
/**
 * The project directory, where config/ and ansible/ are: one up from src/ when run from the
 * sources (tsx), two up from dist/src/ when run from the build (`node dist/main.js`).
 */
export const ROOT = resolve(HERE, basename(dirname(HERE)) === 'dist' ? '../..' : '..');

/** A problem with the set-up that the operator must fix; start-up stops saying what it is. */
export class StartupError extends Error {}

export async function buildCloud(config: AppConfig, dataDir: string, clock: SystemClock, log: Logger, proxy?: OutboundProxy): Promise<Cloud> {
  if (config.cloud.driver === 'openstack') {
    const { connectOpenStack } = await import('./adapters/openstack/connect.ts');
    const agentsFor = proxy ? (url: string) => proxy.nodeAgentsFor(url) : undefined;
    const openstack = connectOpenStack(config.cloud.openstack, process.env, clock, log.child({ component: 'openstack' }), agentsFor);
    log.info({ source: openstack.settings.source, authUrl: openstack.settings.authUrl, region: openstack.settings.region }, 'using OpenStack');
    return openstack.cloud;
  }
  const sim = config.cloud.simulated;
  return new SimCloud({
    clock,
    statePath: join(dataDir, 'sim-cloud.json'),
    bootMs: sim.bootTime,
    bootFailureRate: sim.bootFailureRate,
    apiFailureRate: sim.apiFailureRate,
    latencyMs: sim.latency,
    quota: sim.quota,
    flavors: sim.flavors,
    images: sim.images,
  });
}

export async function buildProvisioner(config: AppConfig, dataDir: string, clock: SystemClock, log: Logger): Promise<Provisioner> {
  if (config.provisioner.driver === 'simulated') {
    const sim = config.provisioner.simulated;
    return new SimProvisioner({ clock, provisionMs: sim.provisionTime, personaliseMs: sim.personaliseTime, failureRate: sim.failureRate });
  }
  const a = config.provisioner.ansible;
  const [{ AnsibleRunner }, { AnsibleProvisioner, sandboxVars }] = await Promise.all([import('./adapters/ansible/ansible-runner.ts'), import('./adapters/ansible/ansible-provisioner.ts')]);
  const runner = new AnsibleRunner({
    ansibleDir: resolve(ROOT, a.dir),
    logDir: join(dataDir, 'ansible-logs'),
    clock,
    log: log.child({ component: 'ansible' }),
    timeoutMs: a.timeouts.provision,
    maxConcurrent: a.maxConcurrent,
    command: a.command,
    hostKeyChecking: a.hostKeyChecking,
    runLogs: { keepPerVm: a.logs.keepPerVm, maxTotalBytes: a.logs.maxTotal },
  });
  let ansible: AnsibleProvisioner;
  try {
    ansible = new AnsibleProvisioner({
      runner,
      target: a.target,
      ...(a.ssh ? { ssh: sshOptions(a.ssh) } : {}),
      facilities: a.facilities,
      extraVars: { ...(a.sandboxRoot ? sandboxVars(a.sandboxRoot) : {}), ...a.extraVars },
      provisionTimeoutMs: a.timeouts.provision,
      claimTimeoutMs: a.timeouts.claim,
      releaseTimeoutMs: a.timeouts.release,
      log: log.child({ component: 'ansible' }),
    });
  } catch (error) {
    throw new StartupError(`provisioner.ansible: ${(error as Error).message}`);
  }
  const { version } = await ansible.check();
  log.info({ version, dir: runner.ansibleDir, target: a.target }, 'provisioning with Ansible');
  if (a.target === 'address' && !a.hostKeyChecking) {
    log.warn(
      { hostKeyChecking: false },
      "SSH HOST KEY CHECKING IS OFF (provisioner.ansible.hostKeyChecking: false): plays accept whatever machine answers at a VM's address and hand it the user's account and home. Turn it back on unless this cloud cannot give VMs user data",
    );
  }
  return ansible;
}

/**
 * What looks at claimed VMs: the simulated probe in the embedded default (scripted by a JSON
 * file, `activity.simulatedFile`, in the data directory), or activity.yml through a runner of its
 * own (its concurrency, its timeout, its own logs), so provisioning never waits for probes and
 * `admin log` keeps showing the provisioning runs.
 */
export async function buildActivity(config: AppConfig, dataDir: string, clock: SystemClock, log: Logger): Promise<{ probe: ActivityProbe; settings: ActivitySettings }> {
  const a = config.activity;
  const settings: ActivitySettings = { everyMs: a.everyMs, jitter: a.jitter, concurrency: a.concurrency, timeoutMs: a.timeoutMs, paths: a.paths, freshMs: DEFAULT_ACTIVITY.freshMs };
  if (config.provisioner.driver === 'simulated') return { probe: new SimActivityProbe({ clock, file: resolve(dataDir, a.simulatedFile ?? 'sim-activity.json') }), settings };
  const p = config.provisioner.ansible;
  const [{ AnsibleRunner }, { sandboxVars }, { AnsibleActivityProbe }] = await Promise.all([
    import('./adapters/ansible/ansible-runner.ts'),
    import('./adapters/ansible/ansible-provisioner.ts'),
    import('./adapters/ansible/activity-probe.ts'),
  ]);
  const runner = new AnsibleRunner({
    ansibleDir: resolve(ROOT, p.dir),
    logDir: join(dataDir, 'ansible-activity-logs'),
    clock,
    log: log.child({ component: 'activity' }),
    timeoutMs: a.timeoutMs,
    maxConcurrent: a.concurrency,
    command: p.command,
    hostKeyChecking: p.hostKeyChecking,
  });
  try {
    const probe = new AnsibleActivityProbe({
      runner,
      target: p.target,
      ...(p.ssh ? { ssh: sshOptions(p.ssh) } : {}),
      extraVars: { ...(p.sandboxRoot ? sandboxVars(p.sandboxRoot) : {}), ...p.extraVars },
      timeoutMs: a.timeoutMs,
    });
    return { probe, settings };
  } catch (error) {
    throw new StartupError(`activity: ${(error as Error).message}`);
  }
}

/** The SSH options of the configuration, as the provisioner takes them (timeouts in whole seconds). */
function sshOptions(ssh: NonNullable<Extract<AppConfig['provisioner'], { driver: 'ansible' }>['ansible']['ssh']>) {
  const { connectTimeout, jumpHost, privateKeyFile, ...rest } = ssh;
  return {
    ...rest,
    ...(privateKeyFile ? { privateKeyFile: resolve(ROOT, privateKeyFile) } : {}),
    connectTimeoutS: Math.max(1, Math.ceil(connectTimeout / 1000)),
    ...(jumpHost ? { jumpHost } : {}),
  };
}


/** The facility directory: the LDAP client, and the cached view of it the bot asks. */
export interface BuiltDirectory {
  ldap: LdapDirectory;
  directory: CachedDirectory;
  settings: DirectoryConfig;
}

/**
 * The facility directory `access.directory` names, or undefined when none is configured. The
 * bind password comes from DAAAS_LDAP_BIND_PASSWORD; the CA file is read now, so a missing one
 * stops start-up rather than the first claim.
 */
export async function buildDirectory(config: AppConfig, env: Env, clock: SystemClock, log: Logger): Promise<BuiltDirectory | undefined> {
  const d = config.access.directory;
  if (!d) return undefined;
  const [{ LdapDirectory, PRESETS }, { CachedDirectory }] = await Promise.all([import('./adapters/ldap/ldap-directory.ts'), import('./adapters/cached-directory.ts')]);
  let ca: string | undefined;
  if (d.caFile) {
    try {
      ca = readFileSync(resolve(ROOT, d.caFile), 'utf8');
    } catch (error) {
      throw new StartupError(`access.directory.caFile: cannot read ${d.caFile} (${(error as Error).message})`);
    }
  }
  const a = d.attributes;
  const mapping = {
    ...Object.fromEntries(Object.entries(a).filter(([k, v]) => k !== 'displayName' && v !== undefined)),
    ...(a.displayName ? { displayName: [a.displayName, ...PRESETS[d.preset].displayName.filter((n) => n !== a.displayName)] } : {}),
    ...(d.userFilter ? { userFilter: d.userFilter } : {}),
    ...(d.groupFilter ? { groupFilter: d.groupFilter } : {}),
  };
  const directoryLog = log.child({ component: 'directory' });
  let ldap: LdapDirectory;
  try {
    ldap = new LdapDirectory({
      url: d.url,
      ...(ca ? { ca } : {}),
      ...(d.bindDn ? { bindDn: d.bindDn, bindPassword: env.DAAAS_LDAP_BIND_PASSWORD ?? '' } : {}),
      userBase: d.userBase,
      groupBase: d.groupBase,
      preset: d.preset,
      mapping,
      ...(d.disabledFilter ? { disabledFilter: d.disabledFilter } : {}),
      nestedDepth: d.nestedDepth,
      timeoutMs: d.timeout,
      poolSize: d.poolSize,
      clock,
      log: directoryLog,
    });
  } catch (error) {
    throw new StartupError(`access.directory: ${(error as Error).message}`);
  }
  const directory = new CachedDirectory(ldap, { clock, ttlMs: d.ttl, staleForMs: d.staleFor, log: directoryLog });
  log.info({ url: d.url, preset: d.preset, bound: Boolean(d.bindDn) }, 'using the facility directory');
  return { ldap, directory, settings: d };
}
