import avaTest from 'ava';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AnsiblePlayError, AnsibleProvisioner, sandboxVars, type AnsibleProvisionerOptions } from '../../../src/adapters/ansible/ansible-provisioner.ts';
import { generateHostKey } from '../../../src/adapters/ansible/host-keys.ts';
import { UnsafeInputError } from '../../../src/adapters/ansible/safe-vars.ts';
import { UserSetupError } from '../../../src/ports/provisioner.ts';
import { accountExists, ansibleSuite, isRoot, logFiles, makeRunner, makeSandbox, poolFor, type RecordingRunner, throwawayAccount, vmFor } from './sandbox.ts';

const test = ansibleSuite(avaTest, 'the Ansible provisioner tests', 'test/adapters/ansible/');

// These tests run the real ansible-playbook on the real plays, against a sandbox directory on
// this machine. Without ansible-playbook they are listed as not run (see ansibleSuite).
test.before('ansible-playbook is installed', async () => {
  const sandbox = makeSandbox();
  try {
    await makeRunner(sandbox.logDir).check();
  } finally {
    sandbox.remove();
  }
});

interface Setup {
  provisioner: AnsibleProvisioner;
  runner: RecordingRunner;
  root: string;
  logDir: string;
}

function setup(t: { teardown: (fn: () => void) => void }, extraVars: AnsibleProvisionerOptions['extraVars'] = {}, options: Partial<AnsibleProvisionerOptions> = {}): Setup {
  const sandbox = makeSandbox();
  t.teardown(sandbox.remove);
  const runner = makeRunner(sandbox.logDir);
  const provisioner = new AnsibleProvisioner({ runner, target: 'local', extraVars: { ...sandboxVars(sandbox.root), ...extraVars }, ...options });
  return { provisioner, runner, root: sandbox.root, logDir: sandbox.logDir };
}

const signal = () => new AbortController().signal;
const mode = (path: string) => statSync(path).mode & 0o7777;

test('check reports the installed version', async (t) => {
  const { provisioner } = setup(t);
  t.regex((await provisioner.check()).version, /^2\.\d+/);
});

test('claim creates the home once (0700, the user\'s), links the legacy home, and a second run changes nothing', async (t) => {
  const account = throwawayAccount();
  t.teardown(account.remove);
  const { provisioner, runner, root } = setup(t, account.vars);
  const legacy = join(root, 'legacy/home', account.name);
  mkdirSync(legacy);
  writeFileSync(join(legacy, 'old-results.txt'), 'from the old service');
  if (isRoot) t.false(await accountExists(account.name), 'the account is made by the claim');

  const vm = vmFor('excitations-c1a1');
  const first = await provisioner.personalise(vm, poolFor('excitations'), account.name, signal());
  t.deepEqual(first, {
    homeCreated: true,
    legacyLinked: true,
    home: `/home/${account.name}`,
    legacyHome: `/legacy/home/${account.name}`,
    connection: { ssh: `ssh ${account.name}@127.0.0.1`, remote_desktop: 'rdp://127.0.0.1:3389' },
  });
  t.true(await accountExists(account.name));
  const home = join(root, 'home', account.name);
  const uid = isRoot ? Number(execFileSync('id', ['-u', account.name]).toString()) : process.getuid!();
  t.is(mode(home), 0o700);
  t.is(statSync(home).uid, uid);
  t.is(readlinkSync(join(home, 'legacy-home')), legacy);
  t.is(lstatSync(join(home, 'legacy-home')).uid, uid);
  t.is(readFileSync(join(home, 'legacy-home', 'old-results.txt'), 'utf8'), 'from the old service');
  // Only this user (and no one else) is let in.
  t.is(readFileSync(join(root, 'etc/daaas/remote-access.allow'), 'utf8'), `${account.name}\n`);
  t.regex(readFileSync(join(root, 'etc/ssh/sshd_config.d/90-daaas-access.conf'), 'utf8'), new RegExp(`^AllowUsers ${account.name}$`, 'm'));

  const second = await provisioner.personalise(vm, poolFor('excitations'), account.name, signal());
  t.like(second, { homeCreated: false, legacyLinked: false, home: `/home/${account.name}`, legacyHome: `/legacy/home/${account.name}` });
  t.is(runner.results[1]!.stats[vm.name]!.changed, 0, 'the second claim changed nothing');
  t.is(runner.results[1]!.stats[vm.name]!.failures, 0);
  t.is(mode(home), 0o700);

  const tail = await provisioner.lastLog(vm.name, 3);
  t.regex(tail!.lines.join('\n'), /RECAP excitations-c1a1 ok=\d+ changed=0 failed=0/);
  t.regex(tail!.file, /excitations-c1a1--.*--claim\.log$/);
});

test('claim never touches an existing home: not its mode, owner or content; no legacy link is added', async (t) => {
  const account = throwawayAccount();
  t.teardown(account.remove);
  const { provisioner, root } = setup(t, account.vars);
  const home = join(root, 'home', account.name);
  mkdirSync(home);
  chmodSync(home, 0o751);
  writeFileSync(join(home, 'thesis.tex'), 'years of work');
  if (isRoot) chownSync(home, 4242, 4343);
  mkdirSync(join(root, 'legacy/home', account.name));
  const before = statSync(home);

  const result = await provisioner.personalise(vmFor('excitations-c2b2'), poolFor('excitations'), account.name, signal());
  t.like(result, { homeCreated: false, legacyLinked: false });
  const after = statSync(home);
  t.is(mode(home), 0o751);
  t.is(after.uid, before.uid);
  t.is(after.gid, before.gid);
  t.is(after.mtimeMs, before.mtimeMs);
  t.is(readFileSync(join(home, 'thesis.tex'), 'utf8'), 'years of work');
  t.false(existsSync(join(home, 'legacy-home')));
});

test('a claim that fails half way takes its new home away again, and names the failed task', async (t) => {
  const account = throwawayAccount();
  t.teardown(account.remove);
  // A link name whose directory does not exist makes the link step fail after mkdir.
  const { provisioner, root } = setup(t, { ...account.vars, claim_legacy_link_name: 'no-such-dir/legacy-home' });
  mkdirSync(join(root, 'legacy/home', account.name));
  const error = await t.throwsAsync(provisioner.personalise(vmFor('excitations-c3c3'), poolFor('excitations'), account.name, signal()), { instanceOf: AnsiblePlayError });
  t.regex(error!.message, /^claim\.yml: task "claim : Link the legacy home into the new home directory" failed on excitations-c3c3: Error while linking/);
  t.false(existsSync(join(root, 'home', account.name)), 'no half-made home is left for later claims to keep');
});

test('hostile input is refused before any play runs, and nothing is created', async (t) => {
  const { provisioner, runner, root, logDir } = setup(t);
  const pool = poolFor('excitations');
  const hostile = ['x; rm -rf /', '../../etc', "{{ lookup('pipe','id') }}", 'alice\nroot', 'alice\n  daaas_root: /', 'root:x:0:0'];
  for (const account of hostile) {
    const error = await t.throwsAsync(provisioner.personalise(vmFor('excitations-h1'), pool, account, signal()), { instanceOf: UserSetupError }, account);
    t.regex(error!.message, /^refused account .*: a POSIX account name/);
    t.true(error!.cause instanceof UnsafeInputError);
    t.false(error!.vmChanged, 'refused before anything ran: the VM can go back to its pool');
  }
  await t.throwsAsync(provisioner.personalise(vmFor('excitations-h1'), pool, { name: 'alice', uid: 0 }, signal()), { instanceOf: UserSetupError, message: /account uid/ });
  await t.throwsAsync(provisioner.provision(vmFor('x; id'), pool, signal()), { instanceOf: UnsafeInputError, message: /vm name/ });
  await t.throwsAsync(provisioner.provision({ ...vmFor('excitations-h2'), address: '10.0.0.1; id' }, pool, signal()), { instanceOf: UnsafeInputError, message: /VM address/ });
  await t.throwsAsync(provisioner.provision(vmFor('excitations-h3'), { ...pool, name: '../common' }, signal()), { instanceOf: UnsafeInputError, message: /pool name/ });
  t.throws(() => new AnsibleProvisioner({ runner, target: 'local', extraVars: { daaas_root: '/tmp/../etc' } }), { instanceOf: UnsafeInputError, message: /daaas_root/ });
  t.throws(() => new AnsibleProvisioner({ runner, target: 'local', extraVars: { ansible_connection: 'ssh' } }), { instanceOf: UnsafeInputError });

  t.deepEqual(runner.requests, [], 'no play was started');
  t.deepEqual(logFiles(logDir), []);
  t.deepEqual(readdirSync(join(root, 'home')), []);
  t.false(existsSync(join(root, 'etc')));
});

test('provision applies the baseline, the GPU check and the facility role with the role\'s variables', async (t) => {
  const { provisioner, runner, root } = setup(t, {
    common_mounts: [{ src: 'homes.facility.example:/export/homes', path: '/home', fstype: 'nfs4', opts: 'rw,hard' }],
    common_ntp_servers: ['ntp1.facility.example'],
    excitations_environment: { EXCITATIONS_HOME: '/opt/excitations', MANTID_DATA: "/data/it's here" },
    gpu_check_command: ['sh', '-c', 'echo "NVIDIA-SMI 550.1 (simulated)"'],
    gpu_check_expect: 'NVIDIA-SMI',
  });
  const vm = vmFor('excitations-gpu-p1p1', 'excitations-gpu');
  const started = performance.now();
  await provisioner.provision(vm, poolFor('excitations-gpu', true), signal());
  t.log(`provision.yml took ${Math.round(performance.now() - started)} ms`);

  const result = runner.results[0]!;
  t.true(result.ok);
  const ran = result.tasks.filter((r) => r.status !== 'skipped').map((r) => r.task);
  t.true(ran.includes('gpu : Check the GPU driver is present and working'));
  t.true(ran.includes('excitations : Check the analysis software runs'));
  t.regex(readFileSync(join(root, 'etc/fstab'), 'utf8'), /^homes\.facility\.example:\/export\/homes \/home nfs4 rw,hard 0 0$/m);
  t.true(statSync(join(root, 'opt/excitations')).isDirectory());
  t.is(
    readFileSync(join(root, 'etc/profile.d/daaas-excitations.sh'), 'utf8'),
    "# Managed by the DAaaS bot's Ansible (role excitations).\nexport EXCITATIONS_HOME=/opt/excitations\nexport MANTID_DATA='/data/it'\"'\"'s here'\n",
  );
  t.regex(readFileSync(join(root, 'etc/chrony/sources.d/daaas.sources'), 'utf8'), /^server ntp1\.facility\.example iburst$/m);
  t.regex(readFileSync(join(root, 'etc/pam.d/xrdp-sesman'), 'utf8'), /^auth required pam_listfile\.so item=user sense=allow file=\/etc\/daaas\/remote-access\.allow onerr=fail$/m);
  t.is(readFileSync(join(root, 'etc/daaas/remote-access.allow'), 'utf8'), '', 'nobody may log in before a claim');
});

test('a failing task rejects provision naming the task; release runs', async (t) => {
  const { provisioner } = setup(t, { excitations_check_command: ['sh', '-c', 'echo "ImportError: no module named mantid" >&2; exit 1'] });
  const vm = vmFor('excitations-f1f1');
  const error = await t.throwsAsync(provisioner.provision(vm, poolFor('excitations'), signal()), { instanceOf: AnsiblePlayError });
  t.is(error!.message, 'provision.yml: task "excitations : Check the analysis software runs" failed on excitations-f1f1: non-zero return code; ImportError: no module named mantid');
  t.is(error!.result.failed?.role, 'excitations');

  await provisioner.release(vm, poolFor('excitations'), signal());
  t.regex((await provisioner.lastLog(vm.name))!.file, /--release\.log$/);
});

test('a broken GPU driver fails provisioning of a GPU pool', async (t) => {
  const { provisioner } = setup(t, { gpu_check_command: ['sh', '-c', 'echo "NVIDIA-SMI has failed because it could not communicate with the NVIDIA driver" >&2; exit 9'] });
  const error = await t.throwsAsync(provisioner.provision(vmFor('excitations-gpu-g1'), poolFor('excitations-gpu', true), signal()), { instanceOf: AnsiblePlayError });
  t.regex(error!.message, /^provision\.yml: task "gpu : Check the GPU driver is present and working" failed on excitations-gpu-g1: the GPU driver check \(sh -c .*\) failed: exit 9, NVIDIA-SMI has failed/);
});

test('the facility role follows the pool: configured, else the pool name\'s leading part, else none', (t) => {
  const { provisioner, runner } = setup(t);
  t.is(provisioner.facilityRoleFor(poolFor('excitations')), 'excitations');
  t.is(provisioner.facilityRoleFor(poolFor('excitations-gpu')), 'excitations');
  t.is(provisioner.facilityRoleFor(poolFor('tomography')), '');
  t.is(provisioner.facilityRoleFor(poolFor('common')), '', 'a base role is never a facility role');
  const configured = new AnsibleProvisioner({ runner, target: 'local', facilities: { tomography: 'excitations' } });
  t.is(configured.facilityRoleFor(poolFor('tomography')), 'excitations');
  t.throws(() => new AnsibleProvisioner({ runner, target: 'local', facilities: { tomography: 'tomography' } }), { message: /facility role "tomography" of pool tomography is not in / });
});

test('a VM without an address cannot be provisioned over SSH', async (t) => {
  const { runner } = setup(t);
  t.throws(() => new AnsibleProvisioner({ runner, target: 'address' }), { message: /needs ssh\.user/ });
  const provisioner = new AnsibleProvisioner({ runner, target: 'address', ssh: { user: 'debian' } });
  await t.throwsAsync(provisioner.provision({ ...vmFor('excitations-n1'), address: null }, poolFor('excitations'), signal()), { message: 'excitations-n1 has no address yet, so provision.yml cannot reach it' });
  t.deepEqual(runner.requests, []);
});

test('a VM that cannot be reached over SSH fails provisioning as unreachable', async (t) => {
  const { runner } = setup(t);
  // Port 1 on this machine: nothing listens, so the connection is refused at once.
  const provisioner = new AnsibleProvisioner({ runner, target: 'address', ssh: { user: 'debian', port: 1 } });
  const vm = { ...vmFor('excitations-u1'), hostKey: generateHostKey().publicKey };
  const error = await t.throwsAsync(provisioner.provision(vm, poolFor('excitations'), signal()), { instanceOf: AnsiblePlayError });
  t.regex(error!.message, /^provision\.yml: excitations-u1 was unreachable at task "common : [^"]+": /);
  t.is(error!.result.failed?.status, 'unreachable');
});

// The facility directory's account: claim.yml gets its uid, gid, name, e-mail and home.

/** A uid and gid that no account or group on this machine has. */
function freeIds(): { uid: number; gid: number } {
  for (let n = 40_000 + Math.floor(Math.random() * 15_000); ; n++) {
    const taken = (db: string, key: number) => {
      try {
        execFileSync('getent', [db, String(key)]);
        return true;
      } catch {
        return false;
      }
    };
    if (!taken('passwd', n) && !taken('group', n) && !taken('group', n + 1)) return { uid: n, gid: n + 1 };
  }
}

(isRoot ? test : test.skip)('with the directory\'s ids the account made on the VM has its uid, gid, name and home, and owns the new home', async (t) => {
  const account = throwawayAccount();
  t.teardown(async () => {
    await account.remove();
    // userdel takes the account's group with it when no one else is in it; make sure it is gone.
    spawnSync('groupdel', [account.name], { stdio: 'ignore' });
  });
  const { uid, gid } = freeIds();
  const { provisioner, root } = setup(t, account.vars);
  const result = await provisioner.personalise(vmFor('excitations-d1'), poolFor('excitations'), { name: account.name, uid, gid, displayName: 'Test Person', mail: 'test.person@facility.example', home: `/home/${account.name}` }, signal());
  t.like(result, { homeCreated: true, home: `/home/${account.name}` });
  const entry = execFileSync('getent', ['passwd', account.name]).toString().trim().split(':');
  t.deepEqual(entry.slice(2, 6), [String(uid), String(gid), 'Test Person', `/home/${account.name}`]);
  t.is(execFileSync('getent', ['group', String(gid)]).toString().split(':')[0], account.name, 'the primary group was made with the directory\'s gid');
  const home = statSync(join(root, 'home', account.name));
  t.is(home.uid, uid);
  t.is(home.gid, gid);
  // Again: the account exists with the same uid, so nothing changes.
  const again = await provisioner.personalise(vmFor('excitations-d1'), poolFor('excitations'), { name: account.name, uid, gid }, signal());
  t.like(again, { homeCreated: false });
});

test('an existing account with another uid than the directory\'s is refused, saying so, and no home is made', async (t) => {
  const account = throwawayAccount();
  t.teardown(account.remove);
  if (isRoot) execFileSync('useradd', ['-M', '-u', String(freeIds().uid), account.name]);
  const existing = Number(execFileSync('id', ['-u', account.name]).toString());
  const { provisioner, root } = setup(t, account.vars);
  const directoryUid = existing + 7;
  const error = await t.throwsAsync(provisioner.personalise(vmFor('excitations-d2'), poolFor('excitations'), { name: account.name, uid: directoryUid }, signal()), { instanceOf: UserSetupError });
  t.false(error!.vmChanged, 'nothing was changed before the check: the VM can go back to its pool');
  t.is(
    error!.message,
    `claim.yml: task "claim : Check an existing account has the directory's uid" failed on excitations-d2: the account ${account.name} exists on this VM with uid ${existing}, but the facility directory gives it uid ${directoryUid}: refusing to hand the VM over, as its files on the shared home store would not be its own. Remove or correct the local account (or the directory's entry).`,
  );
  t.is(Number(execFileSync('id', ['-u', account.name]).toString()), existing, 'the account is not changed');
  t.deepEqual(readdirSync(join(root, 'home')), [], 'no home was made');
  t.false(existsSync(join(root, 'etc/daaas/remote-access.allow')), 'nobody was let in');
});

test('a home the directory puts outside the home store is refused; hostile directory values never reach the play', async (t) => {
  const account = throwawayAccount();
  t.teardown(account.remove);
  const { provisioner, runner, root } = setup(t, account.vars);
  const error = await t.throwsAsync(provisioner.personalise(vmFor('excitations-d3'), poolFor('excitations'), { name: account.name, home: `/srv/elsewhere/${account.name}` }, signal()), { instanceOf: UserSetupError });
  t.regex(error!.message, new RegExp(`puts the home directory of ${account.name} at /srv/elsewhere/${account.name}, which is not on the home store /home`));
  t.deepEqual(readdirSync(join(root, 'home')), []);
  const runs = runner.requests.length;
  const pool = poolFor('excitations');
  for (const bad of [{ home: '/home/../etc' }, { home: 'home/x' }, { displayName: 'Eve:0:0' }, { displayName: 'Eve\nroot' }, { mail: 'x@y; id' }, { gid: 0 }, { uid: -1 }]) {
    const refused = await t.throwsAsync(provisioner.personalise(vmFor('excitations-d3'), pool, { name: account.name, ...bad }, signal()), { instanceOf: UserSetupError }, JSON.stringify(bad));
    t.true(refused!.cause instanceof UnsafeInputError);
  }
  t.is(runner.requests.length, runs, 'no play was started for them');
});
