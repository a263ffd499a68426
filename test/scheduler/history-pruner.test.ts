import test from 'ava';
import { ManualClock } from '../../src/adapters/manual-clock.ts';
import type { HistoryCutoffs, PrunedCounts } from '../../src/core/retention.ts';
import type { HistoryStore } from '../../src/ports/history.ts';
import { HistoryPruner } from '../../src/scheduler/history-pruner.ts';
import { recordingLogger } from '../helpers/recording-logger.ts';

const DAY = 86_400_000;
const SETTINGS = { historyMs: 90 * DAY, auditMs: 400 * DAY };

/** A store holding `old` rows of leases to forget; records each batch it is asked for. */
function fakeStore(old: number): HistoryStore & { calls: { cutoffs: HistoryCutoffs; limit: number }[]; left: () => number; fail?: boolean } {
  let left = old;
  const store = {
    calls: [] as { cutoffs: HistoryCutoffs; limit: number }[],
    left: () => left,
    fail: false,
    pruneHistory(cutoffs: HistoryCutoffs, limit: number): PrunedCounts {
      store.calls.push({ cutoffs, limit });
      if (store.fail) throw new Error('database is locked');
      const leases = Math.min(left, limit);
      left -= leases;
      return { reminders: 0, leases, vms: 0, audit: 0 };
    },
  };
  return store;
}

test('a pass deletes in batches with a pause between them until a batch is not full, with the cutoffs of the moment', async (t) => {
  const clock = new ManualClock(Date.UTC(2026, 5, 1));
  const store = fakeStore(1_250);
  const { log, text } = recordingLogger();
  const pruner = new HistoryPruner({ store, clock, log, settings: SETTINGS, batch: 500, pauseMs: 200 });
  const pass = pruner.pass();
  t.is(store.calls.length, 1, 'one batch, then a pause');
  await clock.advance(200);
  t.is(store.calls.length, 2);
  await clock.advance(200);
  t.deepEqual(await pass, { reminders: 0, leases: 1_250, vms: 0, audit: 0 });
  t.is(store.calls.length, 3, 'the third batch was not full: the pass ends');
  t.deepEqual(store.calls[0], { cutoffs: { historyBefore: Date.UTC(2026, 5, 1) - 90 * DAY, auditBefore: Date.UTC(2026, 5, 1) - 400 * DAY }, limit: 500 });
  t.is(store.calls[2]!.cutoffs.historyBefore, Date.UTC(2026, 5, 1) + 400 - 90 * DAY, 'each batch reads the time again');
  t.regex(text(), /old history forgotten/);
});

test('started, it passes at once and then every hour, a failure waiting for the next pass; stop ends it', async (t) => {
  const clock = new ManualClock();
  const store = fakeStore(10);
  const { log, text } = recordingLogger();
  const pruner = new HistoryPruner({ store, clock, log, settings: SETTINGS, everyMs: 3_600_000 });
  pruner.start();
  await clock.advance(0);
  t.is(store.calls.length, 1);
  t.is(store.left(), 0);
  store.fail = true;
  await clock.advance(3_599_000);
  t.is(store.calls.length, 1, 'nothing before the hour');
  await clock.advance(1_000);
  t.is(store.calls.length, 2);
  t.regex(text(), /forgetting old history failed/);
  store.fail = false;
  await clock.advance(3_600_000);
  t.is(store.calls.length, 3);
  await pruner.stop();
  await clock.advance(10 * 3_600_000);
  t.is(store.calls.length, 3, 'stopped: no more passes');
});
