import type { PoolSpec, Vm } from '../core/model.ts';
import type { Clock } from '../ports/clock.ts';
import { UserSetupError, type ClaimAccount, type Personalisation, type Provisioner, type RunLog } from '../ports/provisioner.ts';

export interface SimProvisionerOptions {
  clock: Clock;
  /** How long a provisioning run takes. */
  provisionMs: number;
  /** How long personalising a claimed VM takes. */
  personaliseMs?: number;
  /** Fraction of runs that fail, as a playbook does when a package mirror is down. */
  failureRate?: number;
  random?: () => number;
}

/**
 * Stands in for Ansible in the embedded default: runs take time and sometimes fail, home
 * directories are made once per account, and each VM keeps a short log, like the real thing.
 */
export class SimProvisioner implements Provisioner {
  runs = 0;
  /** The next personalisation runs fail with this reason (for tests). */
  failPersonalise: string | null = null;
  /** Accounts whose personalisation fails for their own reasons, as claim.yml's account checks do (for tests). */
  readonly accountFailures = new Map<string, { reason: string; vmChanged: boolean }>();
  private readonly random: () => number;
  private readonly homes = new Set<string>();
  private readonly logs = new Map<string, string[]>();

  constructor(private readonly options: SimProvisionerOptions) {
    this.random = options.random ?? Math.random;
  }

  async provision(vm: Vm, pool: PoolSpec, signal: AbortSignal): Promise<void> {
    this.runs++;
    this.note(vm, 'provision: start');
    await this.options.clock.sleep(this.options.provisionMs, signal);
    if (this.random() < (this.options.failureRate ?? 0)) {
      this.note(vm, 'provision: task "install analysis software" failed');
      throw new Error(`provisioning ${vm.name} for pool ${pool.name} failed: task "install analysis software" failed`);
    }
    this.note(vm, 'provision: ok');
  }

  async personalise(vm: Vm, _pool: PoolSpec, who: string | ClaimAccount, signal: AbortSignal): Promise<Personalisation> {
    const account = typeof who === 'string' ? who : who.name;
    this.note(vm, `claim for ${account}: start`);
    await this.options.clock.sleep(this.options.personaliseMs ?? 0, signal);
    const refused = this.accountFailures.get(account);
    if (refused) {
      this.note(vm, `claim for ${account}: ${refused.reason}`);
      throw new UserSetupError(refused.reason, refused.vmChanged);
    }
    if (this.failPersonalise !== null) {
      this.note(vm, `claim for ${account}: ${this.failPersonalise}`);
      throw new Error(this.failPersonalise);
    }
    const homeCreated = !this.homes.has(account);
    this.homes.add(account);
    this.note(vm, `claim for ${account}: ok${homeCreated ? ', home directory created' : ''}`);
    return { homeCreated, legacyLinked: false, home: typeof who === 'string' ? `/home/${account}` : (who.home ?? `/home/${account}`) };
  }

  async release(vm: Vm): Promise<void> {
    this.note(vm, 'release: ok');
  }

  async lastLog(vmName: string, maxLines = 40): Promise<RunLog | undefined> {
    const lines = this.logs.get(vmName);
    return lines ? { file: `(simulated) ${vmName}`, lines: lines.slice(-maxLines) } : undefined;
  }

  private note(vm: Vm, line: string): void {
    const lines = this.logs.get(vm.name) ?? [];
    lines.push(`${new Date(this.options.clock.now()).toISOString()} ${line}`);
    this.logs.set(vm.name, lines.slice(-200));
  }
}
