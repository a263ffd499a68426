import test from 'ava';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FakeOpenStack } from '../helpers/fake-openstack.ts';
import { tempDir } from '../helpers/harness.ts';

const CONFIG = `
access: { groups: { physics: [alice] } }
cloud: { driver: openstack }
pools:
  physics: { image: physics-base, flavor: m1.small, networks: [], size: 2, max: 4, groups: [physics], owner: { name: P, contact: p@facility.example } }
`;

function daaas(args: string[], env: Record<string, string>): Promise<{ code: number | null; out: string; err: string }> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OS_')));
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/daaas.ts', ...args], { env: { ...clean, ...env }, stdio: 'pipe' });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, out, err })));
}

test('cloud check against a cloud that has it all: findings listed, exit 0, and --json for scripts', async (t) => {
  const fake = await new FakeOpenStack().start();
  t.teardown(() => fake.stop());
  const dir = tempDir();
  t.teardown(dir.remove);
  writeFileSync(join(dir.path, 'c.yaml'), CONFIG);
  const env = { ...fake.env(), DAAAS_CONFIG: join(dir.path, 'c.yaml') };
  const text = await daaas(['cloud', 'check'], env);
  t.is(text.code, 0, text.err);
  t.regex(text.out, /✔ pool physics: image: "physics-base" is [0-9a-f-]{36}/);
  t.regex(text.out, /All good: the bot can fill every pool on this cloud\./);
  const json = await daaas(['cloud', 'check', '--json'], env);
  t.is(json.code, 0);
  t.true((JSON.parse(json.out) as { ok: boolean }).ok);
});

test('cloud check: a missing flavour exits 1; no cloud configured exits 2 naming both ways; a bad command exits 2 with help', async (t) => {
  const fake = await new FakeOpenStack().start();
  t.teardown(() => fake.stop());
  const dir = tempDir();
  t.teardown(dir.remove);
  writeFileSync(join(dir.path, 'c.yaml'), CONFIG.replace('m1.small', 'c9.huge'));
  const missing = await daaas(['cloud', 'check'], { ...fake.env(), DAAAS_CONFIG: join(dir.path, 'c.yaml') });
  t.is(missing.code, 1);
  t.regex(missing.out, /✖ pool physics: flavor: .*"c9\.huge" does not exist/);
  t.regex(missing.out, /1 problem found/);
  const none = await daaas(['cloud', 'check'], { DAAAS_CONFIG: join(dir.path, 'c.yaml') });
  t.is(none.code, 2);
  t.regex(none.err, /no OpenStack cloud is configured: set OS_CLOUD .* or source an openrc/);
  const bad = await daaas(['cloud', 'frobnicate'], {});
  t.is(bad.code, 2);
  t.regex(bad.err, /Unknown command "cloud frobnicate"[^]*Usage: npm run daaas/);
  const sim = await daaas(['cloud', 'check'], {});
  t.is(sim.code, 0);
  t.regex(sim.out, /uses the simulated cloud/);
});
