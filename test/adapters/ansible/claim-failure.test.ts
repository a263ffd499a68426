import test from 'ava';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { USER_TIED_CLAIM_TASKS, userTiedClaimFailure } from '../../../src/adapters/ansible/claim-failure.ts';
import type { RunResult, TaskResult } from '../../../src/adapters/ansible/ansible-runner.ts';

/** Every task name in the claim role, blocks and rescues included. */
function taskNames(tasks: unknown[]): string[] {
  return tasks.flatMap((task) => {
    const t = task as { name?: string; block?: unknown[]; rescue?: unknown[]; always?: unknown[] };
    return [...(t.name ? [t.name] : []), ...taskNames([...(t.block ?? []), ...(t.rescue ?? []), ...(t.always ?? [])])];
  });
}

test('every user-tied task named in the code is a task of the claim role', (t) => {
  const names = taskNames(parse(readFileSync('ansible/roles/claim/tasks/main.yml', 'utf8')) as unknown[]);
  for (const task of USER_TIED_CLAIM_TASKS) t.true(names.includes(task), `claim role has no task "${task}"`);
});

function result(failed: TaskResult | undefined, changed: number | undefined): RunResult {
  return {
    playbook: 'claim.yml',
    vm: 'excitations-ab12',
    ok: false,
    exitCode: 2,
    tasks: failed ? [failed] : [],
    stats: changed === undefined ? {} : { 'excitations-ab12': { ok: 3, changed, failures: 1, unreachable: 0, skipped: 0, rescued: 0, ignored: 0 } as never },
    custom: {},
    ...(failed ? { failed } : {}),
    errorOutput: '',
    logFile: 'x.log',
    durationMs: 10,
  };
}
const task = (name: string, status: TaskResult['status'] = 'failed'): TaskResult => ({ host: 'excitations-ab12', task: `claim : ${name}`, role: 'claim', status });

test('a user-tied task failing before any change: the VM is untouched; after a change: it was changed', (t) => {
  const untouched = userTiedClaimFailure(result(task("Check an existing account has the directory's uid"), 0), 'uid differs');
  t.is(untouched?.message, 'uid differs');
  t.false(untouched!.vmChanged);
  t.true(userTiedClaimFailure(result(task("Create the user's account, as it is missing"), 1), 'useradd failed')!.vmChanged);
  t.true(userTiedClaimFailure(result(task("Create the user's account, as it is missing"), undefined), 'no stats')!.vmChanged, 'without the count, assume changed');
});

test('failures of the VM are not the user\'s: the home store, a package, an unreachable host, no failed task', (t) => {
  t.is(userTiedClaimFailure(result(task('Check the home store is mounted'), 0), 'x'), undefined);
  t.is(userTiedClaimFailure(result(task("Check an existing account has the directory's uid", 'unreachable'), 0), 'x'), undefined);
  t.is(userTiedClaimFailure(result(undefined, 0), 'x'), undefined);
});
