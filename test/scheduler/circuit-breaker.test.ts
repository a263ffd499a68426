import test from 'ava';
import { join } from 'node:path';
import { createHarness, tempDir, TEST_CONFIG, type Harness } from '../helpers/harness.ts';
import { auditSince, readyCount, tableRows } from '../helpers/replies.ts';

const MIN = 60_000;

/**
 * The imaging pool boots imaging-gpu-v2, which the simulated cloud lists in the configuration but
 * no longer has (deleted from the cloud): three failures in a row open its circuit.
 */
const BROKEN_IMAGE = TEST_CONFIG.replace('image: imaging-gpu', 'image: imaging-gpu-v2')
  .replace('images: [physics-base, imaging-gpu]', 'images: [physics-base, imaging-gpu, imaging-gpu-v2]')
  .replace('  poll: 2s\n', '  poll: 2s\n  failureLimit: 3\n  circuitRetry: 30m\n');
/** What the cloud really has. */
const CLOUD_IMAGES = () => ['physics-base', 'imaging-gpu'];

/** Boots the bot asked the cloud for in a pool: one VM record each, kept after it failed. */
function bootsOf(h: Harness, pool: string): number {
  return h.store.listVms({ pool, states: ['booting', 'provisioning', 'ready', 'claimed', 'releasing', 'failed', 'deleted'] }).length;
}

function addImage(h: Harness, image: string): void {
  (h.cloud as unknown as { options: { images: string[] } }).options.images.push(image);
}

async function brokenPool(options: { storePath?: string } = {}): Promise<Harness> {
  const h = createHarness({ config: BROKEN_IMAGE, cloud: { images: CLOUD_IMAGES() }, ...options });
  await h.run(15 * MIN, 5_000);
  return h;
}

test('a broken image opens the circuit after 3 failed boots: no more boots, claimers told whom to ask, admins see it and are alerted', async (t) => {
  const h = await brokenPool();
  t.teardown(() => h.close());
  t.is(bootsOf(h, 'imaging'), 3, 'three boots spent on the broken image, then none');
  t.log(`boots spent on a broken image before the circuit opened: ${bootsOf(h, 'imaging')} (failureLimit 3, back-off 30 s doubling)`);
  t.is(h.app.service.circuit('imaging').state, 'open');
  t.is(readyCount(h, 'physics'), 3, 'the other pool is not affected');

  const refused = await h.say('dave', 'claim imaging');
  t.is(refused.title, 'No VM is ready in imaging, and none is being made: its last 3 VMs failed to start (create: Image imaging-gpu-v2 could not be found.), so the bot stopped booting it.');
  t.deepEqual(refused.blocks, [{ type: 'text', text: 'Ask Imaging group (imaging@facility.example), who maintains its image.' }]);

  const pools = await h.say('root', 'admin pools');
  const failing = pools.blocks.find((b) => b.type === 'text' && b.text.startsWith('imaging is FAILING'));
  // Its server was never made, so there is no run's log to point at.
  t.regex(failing?.type === 'text' ? failing.text : '', /^imaging is FAILING; its last failures:\n(  imaging-\w{4} \(\w+ ago\): boot: Image imaging-gpu-v2 could not be found\.\n?){3}$/);
  const row = tableRows(pools).find((r) => r.pool === 'imaging')!;
  t.regex(String(row['last error / note']), /FAILING: 3 failures in a row, booting stopped \(one trial boot in \d+m.*; admin resume imaging closes it; admin log <vm> for a run's log\)/);
  t.regex(String(row['last error / note']), /create: Image imaging-gpu-v2 could not be found\./);

  t.true((await h.metrics.render()).includes('daaas_pool_circuit_open{pool="imaging",state="open"} 1'));
  await h.run(6 * MIN, 30_000);
  const told = h.dms.titles('root');
  t.true(told.includes('ALERT: pool failing (circuit open): imaging'), told.join(' | '));
  t.true(told.includes('ALERT: image missing: imaging'));
  t.true(told.includes('ALERT: pool empty: imaging'), 'dave was refused and the pool stayed empty for 5 minutes');
  t.is(told.filter((x) => x.startsWith('ALERT: pool failing')).length, 1, 'raised once');
  const metrics = await h.metrics.render();
  t.true(metrics.includes('daaas_alerts_open{kind="circuit-open",pool="imaging"} 1'));
  t.true(metrics.includes('daaas_alerts_open{kind="image-missing",pool="imaging"} 1'));
  t.is(bootsOf(h, 'imaging'), 3, 'still no more boots');
});

test('admin resume closes the circuit: the pool boots again, fills once the image is there, and the alerts resolve', async (t) => {
  const h = await brokenPool();
  t.teardown(() => h.close());
  addImage(h, 'imaging-gpu-v2');
  await h.run(MIN, 5_000);
  t.is(bootsOf(h, 'imaging'), 3, 'fixing the image alone waits for the trial boot');
  const start = h.store.auditLog().length;
  t.is((await h.say('root', 'admin resume imaging')).title, 'Resumed: imaging');
  t.deepEqual(auditSince(h, start).map((a) => [a.action, a.target, a.result]), [['admin resume', 'imaging', 'ok']]);
  t.is(h.app.service.circuit('imaging').state, 'closed');
  await h.run(MIN, 1_000);
  t.is(readyCount(h, 'imaging'), 1);
  t.true(h.dms.titles('root').includes('Resolved: pool failing (circuit open): imaging'));
  t.true(h.dms.titles('root').includes('Resolved: image missing: imaging'));
});

test('after circuitRetry one trial boot: a failed trial opens it for as long again; a good one closes it', async (t) => {
  const h = await brokenPool();
  t.teardown(() => h.close());
  const lastError = h.store.poolHealth('imaging').lastErrorAt!;
  await h.run(lastError + 30 * MIN - h.clock.now() - 5_000, 5_000);
  t.is(bootsOf(h, 'imaging'), 3, 'nothing before circuitRetry');
  await h.run(10 * MIN, 5_000);
  t.is(bootsOf(h, 'imaging'), 4, 'one trial boot, which failed: open again');
  t.is(h.app.service.circuit('imaging').state, 'open');
  addImage(h, 'imaging-gpu-v2');
  const trialFailed = h.store.poolHealth('imaging').lastErrorAt!;
  await h.run(trialFailed + 30 * MIN - h.clock.now() - 5_000, 5_000);
  t.is(bootsOf(h, 'imaging'), 4, 'the next trial waits 30 minutes from the failed one');
  await h.run(10 * MIN, 5_000);
  t.is(h.app.service.circuit('imaging').state, 'closed');
  t.is(readyCount(h, 'imaging'), 1, 'the trial got ready and closed the circuit');
});

test('a changed image in the configuration closes the circuit at the next start', async (t) => {
  const dir = tempDir();
  t.teardown(dir.remove);
  const storePath = join(dir.path, 'store.db');
  const broken = await brokenPool({ storePath });
  t.is(broken.app.service.circuit('imaging').state, 'open');
  await broken.close();

  const restartedSame = createHarness({ config: BROKEN_IMAGE, cloud: { images: CLOUD_IMAGES() }, storePath });
  await restartedSame.run(MIN, 5_000);
  t.is(restartedSame.app.service.circuit('imaging').state, 'open', 'the same configuration keeps it open across a restart');
  await restartedSame.close();

  const fixed = createHarness({ config: BROKEN_IMAGE.replace('image: imaging-gpu-v2', 'image: imaging-gpu'), cloud: { images: CLOUD_IMAGES() }, storePath });
  t.teardown(() => fixed.close());
  const start = fixed.store.auditLog().length;
  await fixed.run(MIN, 1_000);
  t.is(fixed.app.service.circuit('imaging').state, 'closed');
  t.is(readyCount(fixed, 'imaging'), 1);
  t.like(auditSince(fixed, start).find((a) => a.action === 'circuit close'), { actor: 'scheduler', target: 'imaging', result: 'ok', detail: { reason: 'configuration changed', image: 'imaging-gpu' } });
});

test('provisioning that fails every time opens the circuit too', async (t) => {
  const h = createHarness({ config: BROKEN_IMAGE.replace('image: imaging-gpu-v2', 'image: imaging-gpu'), provisionFailureRate: 1 });
  t.teardown(() => h.close());
  await h.run(15 * MIN, 5_000);
  t.is(bootsOf(h, 'imaging'), 3);
  t.is(h.app.service.circuit('imaging').state, 'open');
  t.regex(h.store.poolHealth('imaging').lastError ?? '', /provisioning failed/);
  const failing = (await h.say('root', 'admin pools')).blocks.find((b) => b.type === 'text' && b.text.startsWith('imaging is FAILING'));
  t.regex(failing?.type === 'text' ? failing.text : '', /^imaging is FAILING; its last failures:\n(  imaging-\w{4} \(\w+ ago\): .*provisioning failed.* — admin log imaging-\w{4}\n?){3}$/, 'each with the command showing its run');
});

test('without the circuit (failureLimit 1000) the same broken image is booted again and again all day', async (t) => {
  // The default back-off: 30 s doubling to 30 m.
  const config = BROKEN_IMAGE.replace('failureLimit: 3', 'failureLimit: 1000').replace('backoffMax: 5m', 'backoffMax: 30m');
  const h = createHarness({ config, cloud: { images: CLOUD_IMAGES() } });
  t.teardown(() => h.close());
  await h.run(24 * 60 * MIN, 30_000);
  const boots = bootsOf(h, 'imaging');
  t.log(`boots spent on a broken image in a day without the circuit: ${boots} (back-off 30 s doubling to 30 m); with it: 3`);
  t.true(boots > 40, `${boots} boots`);
  t.is(h.app.service.circuit('imaging').state, 'closed');
});

test('a malformed circuit configuration is refused with clear reasons', (t) => {
  const error = t.throws(() => createHarness({ config: TEST_CONFIG.replace('  poll: 2s\n', '  poll: 2s\n  failureLimit: 0\n  circuitRetry: soon\n') }));
  t.regex(error!.message, /scheduler\.failureLimit: must be 1 or more/);
  t.regex(error!.message, /scheduler\.circuitRetry: "soon" is not a duration/);
});
