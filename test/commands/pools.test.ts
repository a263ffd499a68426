import test from 'ava';
import { filledHarness, snapshot, tableOf, tableRows, texts } from '../helpers/replies.ts';

const HOUR = 3_600_000;
const COLUMNS = ['pool', 'ready', 'coming', 'in use', 'max', 'lease', 'GPU', 'you may claim'];

test('pools shows ready, coming, in use, max, lease and GPU for every pool', async (t) => {
  const h = await filledHarness(t);
  const r = await h.say('alice', 'pools');
  t.is(r.tone, 'info');
  t.is(r.title, 'Pools');
  t.deepEqual(tableOf(r)?.columns, COLUMNS);
  t.deepEqual(tableRows(r), [
    { pool: 'physics', ready: '3', coming: '0', 'in use': '0', max: '6', lease: { duration: 48 * HOUR }, GPU: 'no', 'you may claim': 'yes' },
    { pool: 'imaging', ready: '1', coming: '0', 'in use': '0', max: '2', lease: { duration: 24 * HOUR }, GPU: 'yes', 'you may claim': 'no' },
  ]);
  t.is(texts(r), 'Claim with: claim <pool>');
  const shown = await h.sayText('alice', 'pools');
  t.is(
    shown,
    [
      '• Pools',
      '  pool     ready  coming  in use  max  lease  GPU  you may claim',
      '  -------  -----  ------  ------  ---  -----  ---  -------------',
      '  physics  3      0       0       6    2d     no   yes',
      '  imaging  1      0       0       2    1d     yes  no',
      '  Claim with: claim <pool>',
    ].join('\n'),
  );
});

test('"you may claim" depends on who asks', async (t) => {
  const h = await filledHarness(t);
  const mayClaim = async (who: string) => tableRows(await h.say(who, 'pools')).map((row) => [row.pool, row['you may claim']]);
  t.deepEqual(await mayClaim('alice'), [['physics', 'yes'], ['imaging', 'no']]);
  t.deepEqual(await mayClaim('dave'), [['physics', 'no'], ['imaging', 'yes']]);
  t.deepEqual(await mayClaim('root'), [['physics', 'yes'], ['imaging', 'yes']]);
  t.deepEqual(await mayClaim('mallory'), [['physics', 'no'], ['imaging', 'no']]);
});

test('pools counts claimed VMs as in use and replacements as coming', async (t) => {
  const h = await filledHarness(t);
  await h.say('alice', 'claim physics');
  await h.say('bob', 'claim physics');
  const counts = async () => tableRows(await h.say('carol', 'pools')).find((row) => row.pool === 'physics');
  const right = await counts();
  t.is(right?.ready, '1');
  t.is(right?.['in use'], '2');
  await h.tick();
  const booting = h.store.listVms({ pool: 'physics', states: ['booting', 'provisioning'] }).length;
  t.is(booting, 2, 'two replacements started');
  const soon = await counts();
  t.is(soon?.coming, '2');
  t.is(soon?.ready, '1');
  await h.run(15_000);
  const later = await counts();
  t.deepEqual([later?.ready, later?.coming, later?.['in use']], ['3', '0', '2']);
});

test('pools changes nothing', async (t) => {
  const h = await filledHarness(t);
  const before = snapshot(h);
  await h.say('alice', 'pools');
  await h.say('root', 'pools');
  t.deepEqual(snapshot(h), before);
});
