import type { TestFn } from 'ava';
import { execa } from 'execa';
import { randomBytes } from 'node:crypto';
import { accessSync, constants, mkdirSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { delimiter, dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AnsibleRunner, INSTALL_HINT, type AnsibleRunnerOptions, type RunRequest, type RunResult } from '../../../src/adapters/ansible/ansible-runner.ts';
import { SystemClock } from '../../../src/adapters/system-clock.ts';
import type { PoolSpec, Vm } from '../../../src/core/model.ts';
import { tempDir } from '../../helpers/harness.ts';

export const ANSIBLE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../../ansible');

/** Keeps every result, so tests can look at what ran (and prove that nothing did). */
export class RecordingRunner extends AnsibleRunner {
  readonly requests: RunRequest[] = [];
  readonly results: RunResult[] = [];

  override async run(request: RunRequest): Promise<RunResult> {
    this.requests.push(request);
    const result = await super.run(request);
    this.results.push(result);
    return result;
  }
}

export function makeRunner(logDir: string, options: Partial<AnsibleRunnerOptions> = {}): RecordingRunner {
  return new RecordingRunner({ ansibleDir: ANSIBLE_DIR, logDir, clock: new SystemClock(), timeoutMs: 50_000, maxConcurrent: 2, killGraceMs: 2_000, ...options });
}

/** A directory standing in for a VM's file system, and one for the run logs. */
export function makeSandbox(): { root: string; logDir: string; remove: () => void } {
  const dir = tempDir('daaas-ansible-test-');
  const root = join(dir.path, 'vm');
  mkdirSync(join(root, 'home'), { recursive: true });
  mkdirSync(join(root, 'legacy', 'home'), { recursive: true });
  const logDir = join(dir.path, 'logs');
  return { root, logDir, remove: dir.remove };
}

export const logFiles = (logDir: string): string[] => {
  try {
    return readdirSync(logDir);
  } catch {
    return [];
  }
};

export const isRoot = process.getuid?.() === 0;

/**
 * An account for a claim. As root: a fresh name that does not exist yet, so claim.yml really
 * creates it; `remove` deletes it afterwards. Otherwise: the current user, with account
 * creation off and the home owned by that user.
 */
export function throwawayAccount(): { name: string; vars: Record<string, string | boolean>; remove: () => Promise<void> } {
  if (!isRoot) {
    const name = userInfo().username;
    return { name, vars: { claim_create_account: false, claim_home_owner: name }, remove: async () => {} };
  }
  const name = `daaast_${randomBytes(4).toString('hex')}`;
  return {
    name,
    vars: {},
    remove: async () => {
      await execa('userdel', [name], { reject: false });
    },
  };
}

export async function accountExists(name: string): Promise<boolean> {
  return (await execa('getent', ['passwd', name], { reject: false })).exitCode === 0;
}

/**
 * A copy of the Ansible directory's configuration and callback with playbooks of a test's own,
 * for runner behaviour (hangs, failures, templating) that the real plays should not contain.
 */
export function testAnsibleDir(playbooks: Record<string, string>): { path: string; remove: () => void } {
  const dir = tempDir('daaas-ansible-plays-');
  symlinkSync(join(ANSIBLE_DIR, 'ansible.cfg'), join(dir.path, 'ansible.cfg'));
  symlinkSync(join(ANSIBLE_DIR, 'callback_plugins'), join(dir.path, 'callback_plugins'));
  for (const [name, text] of Object.entries(playbooks)) writeFileSync(join(dir.path, name), text);
  return dir;
}

export function vmFor(name: string, pool = 'excitations'): Vm {
  return {
    id: `id-${name}`,
    name,
    pool,
    state: 'provisioning',
    serverId: `srv-${name}`,
    address: '127.0.0.1',
    image: `${pool}-base`,
    flavor: 'c1.large',
    createdAt: 0,
    stateSince: 0,
    readyAt: null,
    detail: null,
  };
}

export function poolFor(name: string, gpu = false): PoolSpec {
  return {
    name,
    description: '',
    image: `${name}-base`,
    flavor: 'c1.large',
    gpu,
    networks: [],
    size: 1,
    max: 2,
    leaseMs: 48 * 3_600_000,
    remindBeforeMs: [],
    extensionStepMs: 86_400_000,
    maxExtensions: 2,
    maxLeasesPerUser: 1,
    groups: ['excitations'],
    connect: 'ssh {account}@{address}',
    owner: { name: 'Excitations software team', contact: 'excitations-software@facility.example' },
  };
}

/** The ansible-playbook the tests would run: the first executable of that name on PATH, or null. */
export function ansiblePlaybookOnPath(path = process.env.PATH ?? ''): string | null {
  for (const dir of path.split(delimiter)) {
    if (!dir || !isAbsolute(dir)) continue;
    const candidate = join(dir, 'ansible-playbook');
    try {
      if (!statSync(candidate).isFile()) continue;
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here: try the next directory
    }
  }
  return null;
}

/** A test function that registers nothing: every call, chained or not, is a no-op. */
function inert(): TestFn {
  const target = () => {};
  const proxy: unknown = new Proxy(target, { get: () => proxy, apply: () => undefined });
  return proxy as TestFn;
}

/**
 * The test function for a suite that runs the real ansible-playbook. With it on PATH, ava's own.
 * Without it, one entry says the suite was not run and how to run it (a failure when
 * DAAAS_REQUIRE_ANSIBLE is set, as in CI) and the suite's tests and hooks register nothing, so
 * a machine without ansible-core still passes `npm test`.
 */
export function ansibleSuite(test: TestFn, name: string, files: string): TestFn {
  if (ansiblePlaybookOnPath()) return test;
  const how = `install ansible-core (${INSTALL_HINT}), then run \`npx ava ${files}\``;
  if (process.env.DAAAS_REQUIRE_ANSIBLE) test(`ansible-playbook is installed for the ${name}`, (t) => t.fail(`the ${name} need ansible-playbook on PATH: ${how}`));
  else test.skip(`ANSIBLE SUITE NOT RUN (${name}): no ansible-playbook on PATH. To run it, ${how}`, () => {});
  return inert();
}
