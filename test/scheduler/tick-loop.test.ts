import test from 'ava';
import { setTimeout as delay } from 'node:timers/promises';
import { silentLogger } from '../../src/ports/logger.ts';
import type { TickReport } from '../../src/scheduler/reconciler.ts';
import { TickLoop } from '../../src/scheduler/tick-loop.ts';

function loop(tick: () => Promise<TickReport>) {
  return new TickLoop({ tick, schedule: '0 0 1 1 *', now: () => Date.now(), log: silentLogger });
}
const idle: TickReport = { actions: 0, cloudReachable: true, nextWakeAt: null };

test('never two ticks at once; kicks during a tick coalesce into one more', async (t) => {
  let running = 0;
  let most = 0;
  let count = 0;
  const l = loop(async () => {
    running++;
    most = Math.max(most, running);
    count++;
    await delay(30);
    running--;
    return idle;
  });
  l.start(); // the first tick
  for (let i = 0; i < 10; i++) l.kick();
  await delay(150);
  await l.stop();
  t.is(most, 1);
  t.is(count, 2, 'the first tick and one coalesced follow-up');
});

test('a tick that asks to look again soon is followed by another', async (t) => {
  let count = 0;
  const l = loop(async () => {
    count++;
    return { ...idle, nextWakeAt: count < 3 ? Date.now() + 10 : null };
  });
  l.start();
  await delay(300);
  await l.stop();
  t.is(count, 3);
});

test('a failing tick is logged and the loop goes on', async (t) => {
  let count = 0;
  const l = loop(async () => {
    count++;
    if (count === 1) throw new Error('boom');
    return idle;
  });
  l.start();
  await delay(20);
  l.kick();
  await delay(20);
  await l.stop();
  t.is(count, 2);
  t.is(l.ticks, 1);
});

test('kicks before the loop is started run nothing: the bot ticks only once it runs', async (t) => {
  let count = 0;
  const l = loop(async () => {
    count++;
    return idle;
  });
  l.kick();
  await delay(20);
  t.is(count, 0);
  l.start();
  await delay(20);
  await l.stop();
  t.is(count, 1);
});

test('after stop no tick starts', async (t) => {
  let count = 0;
  const l = loop(async () => {
    count++;
    return { ...idle, nextWakeAt: Date.now() + 5 };
  });
  l.start();
  await delay(20);
  await l.stop();
  const stoppedAt = count;
  l.kick();
  await delay(50);
  t.is(count, stoppedAt);
});
