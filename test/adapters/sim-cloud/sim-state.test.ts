/** The simulated cloud's state file: absent at first, written whole, read back as written. */
import test from 'ava';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSimState, writeSimState, type SimState } from '../../../src/adapters/sim-cloud/sim-state.ts';
import { tempDir } from '../../helpers/harness.ts';

const STATE: SimState = {
  version: 1,
  servers: [{ id: 's1', name: 'physics-abcd', image: 'physics-base', flavor: 'm1.large', metadata: { daaas_vm: 'v1' }, tags: ['daaas:test'], createdAt: 1, bootMs: 5_000, failsToBoot: false, address: '10.16.0.4', fault: null }],
  nextAddress: 5,
  imageVersions: { 'physics-base': 2 },
  deleted: [],
};

test('no file yet is no state; a state written is read back whole, and no temporary file is left', (t) => {
  const dir = tempDir();
  t.teardown(dir.remove);
  const path = join(dir.path, 'var', 'sim-cloud.json');
  t.is(readSimState(path), undefined);
  writeSimState(path, STATE);
  t.deepEqual(readSimState(path), STATE);
  t.deepEqual(readdirSync(join(dir.path, 'var')), ['sim-cloud.json']);
  t.false(existsSync(`${path}.tmp`));
});

test('a damaged file is an error, not an empty cloud (its servers would be forgotten)', (t) => {
  const dir = tempDir();
  t.teardown(dir.remove);
  const path = join(dir.path, 'sim-cloud.json');
  writeFileSync(path, '{"version":1,"serv');
  t.throws(() => readSimState(path), { instanceOf: SyntaxError });
});
