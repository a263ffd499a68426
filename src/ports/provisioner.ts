import type { PoolSpec, Vm } from '../core/model.ts';

/** What personalising a VM for its user did, and how to reach it. */
export interface Personalisation {
  /** The persistent home directory did not exist and was made by this claim. */
  homeCreated: boolean;
  /** The user's home from the previous remote-desktop service was linked in. */
  legacyLinked: boolean;
  /** The persistent home directory, as the VM sees it. */
  home: string;
  /** How to connect, as the provisioner reports it (e.g. ssh, remote_desktop). */
  connection?: Record<string, string>;
}

/**
 * The account a claim is for. With a facility directory it carries the directory's ids, name,
 * e-mail and home, so the account made on the VM owns its files on the shared home store.
 */
export interface ClaimAccount {
  name: string;
  uid?: number;
  gid?: number;
  displayName?: string;
  mail?: string;
  /** The home directory's path as the directory gives it. */
  home?: string;
}

/**
 * Personalising failed for a reason tied to the user, not to the VM: their input was refused,
 * their account cannot be made or does not match. `vmChanged` says whether anything on the
 * VM was changed before the failure: an unchanged VM can go back to the pool; a changed one
 * is never handed to anyone else.
 */
export class UserSetupError extends Error {
  override readonly name = 'UserSetupError';
  constructor(
    message: string,
    readonly vmChanged: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The end of a provisioning run's log, for admins. */
export interface RunLog {
  file: string;
  lines: string[];
}

/** What a VM boots with, from the provisioner: its user data, and the host key to pin for it. */
export interface BootPreparation {
  /** cloud-init user data, merged by the cloud with any the site configured. */
  userData?: string;
  /** The public host key the VM will have (`ssh-ed25519 AAAA…`), kept with the VM. */
  hostKey?: string;
}

/**
 * Customises VMs with the facility's software (Ansible in production; simulated in the
 * embedded default): before a VM joins its pool, when it is handed to a user, and before it is
 * torn down. Every step is idempotent, so the scheduler may run it again after a crash.
 */
export interface Provisioner {
  /**
   * Called before the VM's server is created: what it must boot with. The result is kept with
   * the VM before the server is asked for, so a VM is never reachable without it.
   */
  prepareBoot?(vm: Vm): Promise<BootPreparation>;
  /** Resolves when the VM is ready for users; rejects with the reason it is not. */
  provision(vm: Vm, pool: PoolSpec, signal: AbortSignal): Promise<void>;
  /** The user's account and persistent home directory (made only if missing) on a claimed VM. */
  personalise(vm: Vm, pool: PoolSpec, account: string | ClaimAccount, signal: AbortSignal): Promise<Personalisation>;
  /** Before teardown (flush, unmount); may do nothing. */
  release(vm: Vm, pool: PoolSpec, signal: AbortSignal): Promise<void>;
  /** The end of the last run's log for a VM, if there is one. */
  lastLog(vmName: string, maxLines?: number): Promise<RunLog | undefined>;
}
