/**
 * The real claim play with a dotted facility account name (jane.doe style): the bot's one
 * account-name rule lets it through, so the play must make the account and its home too.
 */
import avaTest from 'ava';
import { execa } from 'execa';
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { AnsibleProvisioner, sandboxVars } from '../../src/adapters/ansible/ansible-provisioner.ts';
import { isAccountName } from '../../src/core/account-name.ts';
import { accountExists, ansibleSuite, isRoot, makeRunner, makeSandbox, poolFor, vmFor } from '../adapters/ansible/sandbox.ts';

const test = ansibleSuite(avaTest, 'the Ansible account-name test', 'test/e2e/ansible-account-names.test.ts');

test('a claim for a dotted account makes the account (as root) and its home, and lets only that account in', async (t) => {
  const sandbox = makeSandbox();
  t.teardown(sandbox.remove);
  // As root the play creates the account; otherwise the home is given to the current user.
  const name = `daaast.${randomBytes(3).toString('hex')}`;
  t.true(isAccountName(name));
  const vars: Record<string, string | boolean> = isRoot ? {} : { claim_create_account: false, claim_home_owner: userInfo().username };
  if (isRoot) t.teardown(async () => void (await execa('userdel', [name], { reject: false })));
  const provisioner = new AnsibleProvisioner({ runner: makeRunner(sandbox.logDir), target: 'local', extraVars: { ...sandboxVars(sandbox.root), ...vars } });

  const result = await provisioner.personalise(vmFor('excitations-d0t1'), poolFor('excitations'), name, new AbortController().signal);
  t.like(result, { homeCreated: true, home: `/home/${name}`, connection: { ssh: `ssh ${name}@127.0.0.1` } });
  if (isRoot) t.true(await accountExists(name));
  t.is(statSync(join(sandbox.root, 'home', name)).mode & 0o777, 0o700);
  t.is(readFileSync(join(sandbox.root, 'etc/daaas/remote-access.allow'), 'utf8'), `${name}\n`);
});
