import test from 'ava';
import { alertName, DEFAULT_ALERT_SETTINGS, evaluateAlerts, type Alert, type Observation } from '../../src/core/alerts.ts';

const M = 60_000;
const H = 60 * M;
const S = DEFAULT_ALERT_SETTINGS;

const circuit: Observation = { kind: 'circuit-open', pool: 'physics', subject: '', detail: 'physics stopped booting' };
const empty = (lastAskedAt: number | null): Observation => ({ kind: 'pool-empty', pool: 'physics', subject: '', detail: 'no VM ready', lastAskedAt });

function alert(over: Partial<Alert>): Alert {
  return { id: 7, kind: 'circuit-open', pool: 'physics', subject: '', status: 'open', since: 0, raisedAt: 0, lastSentAt: 0, sent: 1, resolvedAt: null, detail: 'x', ...over };
}

test('a condition without a hold time is raised at once, once', (t) => {
  const [d] = evaluateAlerts([], [circuit], 1_000, S);
  t.is(d?.type, 'raise');
  t.like(d, { since: 1_000, alert: { id: 0, kind: 'circuit-open', pool: 'physics' } });
  t.deepEqual(evaluateAlerts([alert({ since: 1_000, raisedAt: 1_000, lastSentAt: 1_000 })], [circuit], 1_000 + 30 * M, S), [], 'said once: nothing more within the repeat interval');
});

test('an open alert is repeated every alerts.repeat while it lasts, with the latest detail', (t) => {
  const open = alert({ lastSentAt: 0 });
  t.deepEqual(evaluateAlerts([open], [circuit], H - 1, S), []);
  const [d] = evaluateAlerts([open], [{ ...circuit, detail: 'still failing' }], H, S);
  t.like(d, { type: 'repeat', alert: { id: 7 }, observation: { detail: 'still failing' } });
});

test('an open alert whose condition went away is resolved with how long it lasted', (t) => {
  t.deepEqual(evaluateAlerts([alert({ since: 5 * M })], [], 47 * M, S), [{ type: 'resolve', alert: alert({ since: 5 * M }), lastedMs: 42 * M }]);
});

test('a pool empty is watched first and raised after emptyFor, only when someone asked since it emptied', (t) => {
  t.like(evaluateAlerts([], [empty(null)], 0, S)[0], { type: 'watch', since: 0 });
  const pending = alert({ kind: 'pool-empty', status: 'pending', since: 0, raisedAt: null, lastSentAt: null, sent: 0 });
  t.deepEqual(evaluateAlerts([pending], [empty(null)], 10 * M, S), [], 'nobody asked: no alert however long');
  t.deepEqual(evaluateAlerts([pending], [empty(4 * M)], 4 * M, S), [], 'asked, but not empty for 5 minutes yet');
  t.like(evaluateAlerts([pending], [empty(4 * M)], 5 * M, S)[0], { type: 'raise', alert: { id: 7 }, since: 0 });
  t.deepEqual(evaluateAlerts([{ ...pending, since: 10 * M }], [empty(9 * M)], 20 * M, S), [], 'asked before this emptiness began: not counted');
});

test('a pending condition that goes away before it is raised is forgotten, without a message', (t) => {
  const pending = alert({ kind: 'pool-empty', status: 'pending', raisedAt: null, lastSentAt: null, sent: 0 });
  t.deepEqual(evaluateAlerts([pending], [], 3 * M, S), [{ type: 'forget', alert: pending }]);
});

test('the cloud unreachable counts from its last answer, and is an alert after 3 minutes', (t) => {
  const down: Observation = { kind: 'cloud-unreachable', pool: '', subject: '', detail: 'timeout', since: 0 };
  t.is(evaluateAlerts([], [down], 2 * M, S)[0]?.type, 'watch');
  t.like(evaluateAlerts([], [down], 3 * M, S)[0], { type: 'raise', since: 0 });
});

test('incidents are told apart by kind, pool and subject; repeated observations count once', (t) => {
  const bob: Observation = { kind: 'setup-failing', pool: '', subject: 'bob', detail: 'home' };
  const decisions = evaluateAlerts([alert({})], [circuit, circuit, { ...circuit, pool: 'imaging' }, bob, { ...bob, subject: 'carol' }], 10 * M, S);
  t.deepEqual(decisions.map((d) => `${d.type} ${d.type === 'resolve' || d.type === 'forget' ? d.alert.pool : `${d.observation.pool}${d.observation.subject}`}`), ['raise imaging', 'raise bob', 'raise carol']);
  t.is(alertName({ kind: 'setup-failing', pool: '', subject: 'bob' }), 'set-up failing for a user: bob');
  t.is(alertName({ kind: 'cloud-unreachable', pool: '', subject: '' }), 'cloud unreachable');
});
