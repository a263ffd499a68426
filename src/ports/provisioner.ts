import type { PoolSpec, Vm } from '../core/model.ts';

/**
 * Customises a freshly booted VM with the facility's software before it joins its pool
 * (Ansible's provision.yml in production; simulated in the embedded default).
 */
export interface Provisioner {
  /** Resolves when the VM is ready for users; rejects with the reason it is not. */
  provision(vm: Vm, pool: PoolSpec, signal: AbortSignal): Promise<void>;
}
