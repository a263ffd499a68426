import type { PoolSpec, Vm } from '../core/model.ts';
import type { Clock } from '../ports/clock.ts';
import type { Provisioner } from '../ports/provisioner.ts';

export interface SimProvisionerOptions {
  clock: Clock;
  /** How long a run takes. */
  provisionMs: number;
  /** Fraction of runs that fail, as a playbook does when a package mirror is down. */
  failureRate?: number;
  random?: () => number;
}

/** Stands in for Ansible in the embedded default: takes time and sometimes fails, like a run. */
export class SimProvisioner implements Provisioner {
  runs = 0;
  private readonly random: () => number;

  constructor(private readonly options: SimProvisionerOptions) {
    this.random = options.random ?? Math.random;
  }

  async provision(vm: Vm, pool: PoolSpec, signal: AbortSignal): Promise<void> {
    this.runs++;
    await this.options.clock.sleep(this.options.provisionMs, signal);
    if (this.random() < (this.options.failureRate ?? 0)) {
      throw new Error(`provisioning ${vm.name} for pool ${pool.name} failed: task "install analysis software" failed`);
    }
  }
}
