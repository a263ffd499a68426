import test from 'ava';
import { readiness, type ReadinessSources } from '../../src/http/readiness.ts';

const NOW = 1_000_000;
const base: ReadinessSources = {
  storeWritable: () => {},
  cloud: () => ({ lastObservedAt: NOW - 10_000, lastError: null }),
  chats: () => [{ name: 'slack', connected: true }],
  now: () => NOW,
  cloudFreshMs: 180_000,
};
const failing = (s: Partial<ReadinessSources>) => readiness({ ...base, ...s }).filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`);

test('ready when the store takes writes, the cloud answered lately and every chat is connected', (t) => {
  t.deepEqual(failing({}), []);
});

test('each reason not to be ready is named', (t) => {
  t.deepEqual(failing({ storeWritable: () => { throw new Error('disk I/O error'); } }), ['store: not writable: disk I/O error']);
  t.deepEqual(failing({ cloud: () => ({ lastObservedAt: null, lastError: null }) }), ['cloud: not observed yet']);
  t.deepEqual(failing({ cloud: () => ({ lastObservedAt: NOW - 10_000, lastError: 'list servers: the cloud answered 503' }) }), ['cloud: not answering: list servers: the cloud answered 503']);
  t.deepEqual(failing({ cloud: () => ({ lastObservedAt: NOW - 600_000, lastError: null }) }), ['cloud: last observed 600 s ago']);
  t.deepEqual(failing({ chats: () => [{ name: 'teams', connected: false }] }), ['chat:teams: not connected']);
});
