import test from 'ava';
import { generateHostKey, hostKeyUserData } from '../../src/adapters/ansible/host-keys.ts';
import type { Vm } from '../../src/core/model.ts';
import type { CreateServerRequest } from '../../src/ports/cloud.ts';
import type { BootPreparation } from '../../src/ports/provisioner.ts';
import { createHarness } from '../helpers/harness.ts';

test("each VM boots with what the provisioner prepared: its host key is kept with the VM before the server is asked for, the user data goes to the cloud", async (t) => {
  const h = createHarness();
  t.teardown(() => h.close());
  const prepared = new Map<string, string>();
  Object.assign(h.provisioner, {
    prepareBoot: async (vm: Vm): Promise<BootPreparation> => {
      const key = generateHostKey();
      prepared.set(vm.id, key.publicKey);
      return { userData: hostKeyUserData(key), hostKey: key.publicKey };
    },
  });
  const requests: { request: CreateServerRequest; storedKey: string | null | undefined }[] = [];
  const create = h.cloud.createServer.bind(h.cloud);
  h.cloud.createServer = async (request) => {
    const vm = h.store.findVmByName(request.name);
    requests.push({ request, storedKey: vm?.hostKey });
    return create(request);
  };
  await h.run(12_000);
  t.true(requests.length >= 4);
  for (const { request, storedKey } of requests) {
    const vm = h.store.findVmByName(request.name)!;
    t.is(storedKey, prepared.get(vm.id), `${vm.name}: the key was stored before the boot was asked for`);
    t.true(request.userData?.includes(prepared.get(vm.id)!), `${vm.name}: its key is in its user data`);
  }
  for (const vm of h.store.listVms({ states: ['ready'] })) t.is(vm.hostKey, prepared.get(vm.id));
});

test('a provisioner that prepares nothing boots VMs as before: no user data, no key', async (t) => {
  const h = createHarness();
  t.teardown(() => h.close());
  const requests: CreateServerRequest[] = [];
  const create = h.cloud.createServer.bind(h.cloud);
  h.cloud.createServer = async (request) => (requests.push(request), create(request));
  await h.run(12_000);
  t.true(requests.length >= 4);
  t.true(requests.every((r) => r.userData === undefined));
  t.true(h.store.listVms().every((vm) => vm.hostKey === null));
});
