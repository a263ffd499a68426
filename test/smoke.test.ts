import test from 'ava';
import { createHarness } from './helpers/harness.ts';

test('pools fill and a claim succeeds', async (t) => {
  const h = createHarness();
  await h.run(15_000);
  const counts = h.app.service.overview({ account: 'root', isAdmin: true, groups: [] });
  t.deepEqual(counts.map((c) => [c.pool.name, c.counts.ready]), [['physics', 3], ['imaging', 1]]);
  const reply = await h.say('alice', 'claim physics');
  t.is(reply.tone, 'success', JSON.stringify(reply));
  await h.close();
});
