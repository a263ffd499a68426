import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { PoolSpec, Vm } from '../../core/model.ts';
import { silentLogger, type Logger } from '../../ports/logger.ts';
import { UserSetupError, type BootPreparation, type ClaimAccount, type Personalisation as PortPersonalisation, type Provisioner } from '../../ports/provisioner.ts';
import { AnsibleRunner, type JumpHost, type LogTail, type RunResult, type RunTarget } from './ansible-runner.ts';
import { generateHostKey, hostKeyUserData } from './host-keys.ts';
import { userTiedClaimFailure } from './claim-failure.ts';
import { safeAccount, safeAddress, safeDisplayName, safeExtraVars, safeMail, safeName, safePath, safeRole, safeUid, type ExtraVars, type VarValue } from './safe-vars.ts';

/** Roles every VM gets; they are never a pool's facility role. */
const BASE_ROLES = new Set(['common', 'gpu', 'claim', 'release']);
const PLAYBOOKS = ['provision.yml', 'claim.yml', 'release.yml'] as const;

/** A play that ran and failed: names the task, and keeps the run's result for the log. */
export class AnsiblePlayError extends Error {
  override readonly name = 'AnsiblePlayError';
  constructor(
    message: string,
    readonly result: RunResult,
  ) {
    super(message);
  }
}

export type { ClaimAccount };

/** What claim.yml did and reported: the port's Personalisation, with the legacy home's path. */
export interface Personalisation extends PortPersonalisation {
  /** The legacy home directory, when the user has one. */
  legacyHome?: string;
}

export interface AnsibleProvisionerOptions {
  runner: AnsibleRunner;
  /**
   * Where plays run: `address` reaches the VM at its address over SSH; `local` runs them on this
   * machine (a sandbox: set `daaas_root` in extraVars, see `sandboxVars`).
   */
  target: 'address' | 'local';
  /**
   * How to reach VMs (target `address`). `user` is required: the account Ansible logs in with,
   * which claim.yml keeps allowed next to the VM's user so release.yml can still get in.
   */
  ssh?: { user: string; port?: number; privateKeyFile?: string; connectTimeoutS?: number; jumpHost?: JumpHost };
  /** Pool name → facility role; otherwise the role named by the pool (see `facilityRoleFor`). */
  facilities?: Record<string, string>;
  /** Site variables for every play, e.g. package lists or mounts; literal values, never templated. */
  extraVars?: ExtraVars;
  provisionTimeoutMs?: number;
  claimTimeoutMs?: number;
  releaseTimeoutMs?: number;
  log?: Logger;
}

/**
 * The Provisioner port on Ansible: provision.yml makes a booted VM ready for its pool,
 * claim.yml hands it to a user (personalise), release.yml prepares it for teardown.
 */
export class AnsibleProvisioner implements Provisioner {
  private readonly runner: AnsibleRunner;
  private readonly extraVars: ExtraVars;
  private readonly log: Logger;

  constructor(private readonly options: AnsibleProvisionerOptions) {
    this.runner = options.runner;
    this.extraVars = safeExtraVars(options.extraVars ?? {}, 'provisioner extraVars');
    if (this.extraVars.daaas_root !== undefined && this.extraVars.daaas_root !== '') safePath(this.extraVars.daaas_root, 'extra var daaas_root');
    this.log = options.log ?? silentLogger;
    if (options.target === 'address') {
      if (!options.ssh?.user) throw new Error('the Ansible provisioner needs ssh.user (the account it logs in to VMs with) to reach VMs at their address');
      safeAccount(options.ssh.user, 'ssh.user');
    }
    for (const [pool, role] of Object.entries(options.facilities ?? {})) {
      safeRole(role, `facility role of pool ${pool}`);
      if (!this.roleExists(role)) throw new Error(`facility role "${role}" of pool ${pool} is not in ${join(options.runner.ansibleDir, 'roles')}`);
    }
  }

  /**
   * Plays reaching VMs over SSH: each VM boots with an ed25519 host key made here, installed by
   * cloud-init from the user data; the public key is kept with the VM and is the only key its
   * plays accept. The private key is not kept: only the cloud (in the user data) and the VM have it.
   */
  async prepareBoot(vm: Vm): Promise<BootPreparation> {
    if (this.options.target !== 'address') return {};
    const key = generateHostKey(`daaas-${safeName(vm.name, 'vm name')}`);
    return { userData: hostKeyUserData(key), hostKey: key.publicKey };
  }

  /**
   * Start-up check: ansible-playbook is installed and the playbooks are there. Rejects with
   * AnsibleMissingError (saying what to install) when it is not installed.
   */
  async check(): Promise<{ version: string }> {
    const version = await this.runner.check();
    const missing = [...PLAYBOOKS, 'ansible.cfg', 'callback_plugins/daaas_jsonl.py'].filter((f) => !existsSync(join(this.runner.ansibleDir, f)));
    if (missing.length > 0) throw new Error(`the Ansible directory ${this.runner.ansibleDir} lacks ${missing.join(', ')}`);
    return { version };
  }

  /**
   * The facility role for a pool: the configured one, else the longest leading part of the pool
   * name (`excitations-gpu` → `excitations`) that names a role, else none (the baseline only).
   */
  facilityRoleFor(pool: PoolSpec): string {
    const configured = this.options.facilities?.[pool.name];
    if (configured !== undefined) return configured;
    const parts = safeName(pool.name, 'pool name').split('-');
    for (let n = parts.length; n > 0; n--) {
      const role = parts.slice(0, n).join('_');
      if (/^[a-z]/.test(role) && !BASE_ROLES.has(role) && this.roleExists(role)) return role;
    }
    return '';
  }

  async provision(vm: Vm, pool: PoolSpec, signal: AbortSignal): Promise<void> {
    const facility = this.facilityRoleFor(pool);
    if (!facility) this.log.info({ vm: vm.name, pool: pool.name }, 'no facility role for this pool: provisioning the baseline only');
    const result = await this.play('provision.yml', vm, pool, { daaas_facility: facility, daaas_gpu: pool.gpu }, this.options.provisionTimeoutMs, signal);
    this.requireSuccess(result);
  }

  /** Runs claim.yml: the user's account, home directory (made only if missing), legacy link, access. */
  async personalise(vm: Vm, pool: PoolSpec, account: string | ClaimAccount, signal: AbortSignal): Promise<Personalisation> {
    const who = typeof account === 'string' ? { name: account } : account;
    const vars: ExtraVars = {};
    try {
      vars.daaas_account = safeAccount(who.name);
      // From the facility directory: the account made on the VM owns its files on the home store.
      if (who.uid !== undefined) vars.daaas_account_uid = safeUid(who.uid, 'account uid');
      if (who.gid !== undefined) vars.daaas_account_gid = safeUid(who.gid, 'account gid');
      if (who.displayName !== undefined) vars.daaas_account_name = safeDisplayName(who.displayName, 'account display name');
      if (who.mail !== undefined) vars.daaas_account_mail = safeMail(who.mail, 'account e-mail');
      if (who.home !== undefined) vars.daaas_account_home = safePath(who.home, 'account home directory');
    } catch (error) {
      // Refused before anything ran: the user's account is at fault and the VM is untouched.
      throw new UserSetupError((error as Error).message, false, { cause: error });
    }
    const result = await this.play('claim.yml', vm, pool, vars, this.options.claimTimeoutMs, signal);
    try {
      this.requireSuccess(result);
    } catch (error) {
      throw userTiedClaimFailure(result, (error as Error).message) ?? error;
    }
    return readPersonalisation(result, who.name);
  }

  /** Runs release.yml before teardown. */
  async release(vm: Vm, pool: PoolSpec, signal: AbortSignal): Promise<void> {
    const result = await this.play('release.yml', vm, pool, {}, this.options.releaseTimeoutMs, signal);
    this.requireSuccess(result);
  }

  /** The end of the last run's log for a VM, for admins. */
  lastLog(vmName: string, maxLines?: number): Promise<LogTail | undefined> {
    return this.runner.lastLog(vmName, maxLines);
  }

  private async play(playbook: string, vm: Vm, pool: PoolSpec, vars: ExtraVars, timeoutMs: number | undefined, signal: AbortSignal): Promise<RunResult> {
    const name = safeName(vm.name, 'vm name');
    const poolName = safeName(pool.name, 'pool name');
    let target: RunTarget;
    let address: string;
    if (this.options.target === 'local') {
      target = { kind: 'local' };
      address = vm.address === null ? '127.0.0.1' : safeAddress(vm.address, 'VM address');
    } else {
      if (vm.address === null) throw new Error(`${name} has no address yet, so ${playbook} cannot reach it`);
      address = safeAddress(vm.address, 'VM address');
      target = { kind: 'ssh', address, ...this.options.ssh, hostKey: vm.hostKey ?? null };
    }
    const all: Record<string, VarValue> = {
      ...this.extraVars,
      daaas_vm_name: name,
      daaas_pool: poolName,
      daaas_image: vm.image,
      daaas_address: address,
      ...vars,
    };
    return this.runner.run({ playbook, vm: name, target, vars: all, signal, ...(timeoutMs !== undefined ? { timeoutMs } : {}) });
  }

  private requireSuccess(result: RunResult): void {
    if (result.ok) return;
    const failed = result.failed;
    let message: string;
    if (failed) {
      const what = failed.status === 'unreachable' ? `${failed.host} was unreachable at task "${failed.task}"` : `task "${failed.task}" failed on ${failed.host}`;
      message = `${result.playbook}: ${what}${failed.msg ? `: ${clip(failed.msg)}` : ''}`;
    } else {
      // Ansible stopped before any task failed: a bad playbook or inventory; it said why on stderr.
      message = `${result.playbook} on ${result.vm} failed (exit ${result.exitCode})${result.errorOutput ? `: ${clip(result.errorOutput)}` : ''}`;
    }
    throw new AnsiblePlayError(message, result);
  }

  private roleExists(role: string): boolean {
    const dir = join(this.runner.ansibleDir, 'roles', role);
    return existsSync(dir) && statSync(dir).isDirectory();
  }
}

/**
 * Variables for running the plays against a sandbox on this machine (`target: 'local'`):
 * every path under `root`, no packages, services or mounts, checks that pass. Merge site or
 * test overrides over these.
 */
export function sandboxVars(root: string): ExtraVars {
  return {
    daaas_root: safePath(root, 'sandbox root'),
    daaas_become: false,
    daaas_manage_services: false,
    daaas_service_accounts: [],
    common_packages: [],
    common_mount_now: false,
    gpu_check_command: ['true'],
    gpu_check_expect: '',
    excitations_packages: [],
    excitations_check_command: ['true'],
    claim_home_store_must_be_mounted: false,
    release_flush: false,
  };
}

function readPersonalisation(result: RunResult, account: string): Personalisation {
  const run = result.custom._run as Record<string, unknown> | undefined;
  const claim = run?.daaas_claim as Record<string, unknown> | undefined;
  if (!claim) throw new AnsiblePlayError(`claim.yml on ${result.vm} succeeded but did not report the claim (set_stats daaas_claim)`, result);
  const legacyHome = typeof claim.legacy_home === 'string' && claim.legacy_home !== '' ? claim.legacy_home : undefined;
  const connection = claim.connection !== null && typeof claim.connection === 'object' ? (claim.connection as Record<string, unknown>) : undefined;
  return {
    homeCreated: truthy(claim.home_created),
    legacyLinked: truthy(claim.legacy_linked),
    home: typeof claim.home === 'string' ? claim.home : `/home/${account}`,
    ...(legacyHome ? { legacyHome } : {}),
    ...(connection ? { connection: Object.fromEntries(Object.entries(connection).map(([k, v]) => [k, String(v)])) } : {}),
  };
}

/** set_stats may hand back a boolean or its Jinja rendering. */
const truthy = (value: unknown) => value === true || value === 'True' || value === 'true';

const clip = (text: string) => {
  const one = text.replace(/\s+/g, ' ').trim();
  return one.length > 400 ? `${one.slice(0, 397)}...` : one;
};
