import { UserSetupError } from '../../ports/provisioner.ts';
import type { RunResult } from './ansible-runner.ts';

/**
 * Tasks of the claim role (ansible/roles/claim/tasks/main.yml) whose failure is the user's
 * account's doing, not the VM's: the account's inputs refused, its uid or group at odds with
 * the VM, the account impossible to make, or a system account. A test keeps this list in step
 * with the role.
 */
export const USER_TIED_CLAIM_TASKS: readonly string[] = [
  "Check the claim's inputs",
  "Check the directory's home directory is on the home store",
  "Check an existing account has the directory's uid",
  'Check a group named like the account does not have another gid',
  "Create the account's primary group, as no group has the directory's gid",
  "Create the user's account, as it is missing",
  "Check the account is a person's, not a system account",
];

/**
 * The user-tied failure a failed claim.yml run shows, if its failed task is one of those above;
 * undefined for failures of the VM (unreachable, a package, the home store). Whether the VM was
 * changed comes from the play's own count of changed tasks; without it, it counts as changed.
 */
export function userTiedClaimFailure(result: RunResult, message: string): UserSetupError | undefined {
  const failed = result.failed;
  if (!failed || failed.status === 'unreachable') return undefined;
  const task = failed.task.includes(' : ') ? failed.task.slice(failed.task.indexOf(' : ') + 3) : failed.task;
  if (!USER_TIED_CLAIM_TASKS.includes(task)) return undefined;
  const stats = result.stats[failed.host];
  return new UserSetupError(message, stats === undefined || stats.changed > 0);
}
