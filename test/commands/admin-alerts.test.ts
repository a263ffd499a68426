import test from 'ava';
import { createHarness, RecordingNotifier, TEST_CONFIG, type Harness } from '../helpers/harness.ts';
import { auditSince, filledHarness, tableRows } from '../helpers/replies.ts';

const MIN = 60_000;

function alertsTo(h: Harness): string[] {
  return h.store.outboxMessages().filter((m) => m.kind === 'alert').map((m) => `${m.to.platform} ${m.to.user} ${m.to.conversation} · ${m.body.title}`);
}

test('admin alerts lists the open alerts, the last resolved ones and where alerts go', async (t) => {
  const h = await filledHarness(t);
  const calm = await h.say('root', 'admin alerts');
  t.is(calm.title, 'No open alerts');
  t.deepEqual(calm.blocks.map((b) => (b.type === 'text' ? b.text : b.type)), ['Nothing resolved recently.', 'Alerts go to: a direct message to each admin (root) on test.']);

  const imaging = h.store.listVms({ pool: 'imaging', states: ['ready'] })[0]!;
  h.store.updateVm(imaging.id, { state: 'releasing' }, h.clock.now());
  await h.say('dave', 'claim imaging');
  h.store.savePoolHealth({ pool: 'imaging', lastError: 'boot: Image imaging-gpu could not be found.', lastErrorAt: h.clock.now(), consecutiveFailures: 1, backoffUntil: h.clock.now() + 10 * MIN });
  await h.tick();
  const open = await h.say('root', 'admin alerts');
  t.is(open.title, '1 open alert');
  t.is(open.tone, 'warning');
  const [row] = tableRows(open);
  t.is(row!.alert, 'image missing: imaging');
  t.is(row!.told, 'once');
  t.true(open.blocks.some((b) => b.type === 'text' && /^image missing: imaging: The image of imaging \(imaging-gpu\) is missing from the cloud/.test(b.text)));

  h.store.savePoolHealth({ pool: 'imaging', lastError: null, lastErrorAt: null, consecutiveFailures: 0, backoffUntil: null });
  await h.clock.advance(7 * MIN);
  await h.tick();
  const after = await h.say('root', 'admin alerts');
  t.is(after.title, '1 open alert', 'the pool stayed empty for 5 minutes after dave was refused');
  t.is(tableRows(after)[0]!.alert, 'pool empty: imaging');
  const resolved = after.blocks.find((b) => b.type === 'table' && b.columns[0] === 'resolved alert');
  t.deepEqual(resolved && resolved.type === 'table' ? resolved.rows[0] : undefined, ['image missing: imaging', { time: h.clock.now() - 7 * MIN }, { duration: 7 * MIN }]);
});

test('admin alerts here keeps the conversation it was said in: alerts are posted there too, and it is audited', async (t) => {
  const h = await filledHarness(t);
  const start = h.store.auditLog().length;
  const here = await h.app.dispatch({ platform: 'test', account: 'root', conversation: 'dm-root', place: 'ops-room', text: 'admin alerts here' });
  t.is(here.title, 'Alerts will be posted here');
  t.deepEqual(auditSince(h, start).map((a) => [a.actor, a.action, a.result, a.detail]), [['root', 'admin alerts', 'ok', { platform: 'test' }]]);
  t.regex((await h.say('root', 'admin alerts')).blocks.map((b) => (b.type === 'text' ? b.text : '')).join(' '), /Alerts go to: the test conversation set by root .*; a direct message to each admin \(root\) on test\./);

  h.store.savePoolHealth({ pool: 'physics', lastError: 'boot: Image physics-base could not be found.', lastErrorAt: h.clock.now(), consecutiveFailures: 1, backoffUntil: null });
  await h.tick();
  t.deepEqual(alertsTo(h), ['test #alerts ops-room · ALERT: image missing: physics', 'test root  · ALERT: image missing: physics']);
  t.deepEqual(h.dms.sent.map((s) => `${s.to.user}@${s.to.conversation}: ${s.message.title}`), ['#alerts@ops-room: ALERT: image missing: physics', 'root@: ALERT: image missing: physics']);
});

test('admin alerts here where the platform cannot say where, a wrong word, and non-admins are refused, each audited', async (t) => {
  const h = await filledHarness(t);
  const start = h.store.auditLog().length;
  const nowhere = await h.say('root', 'admin alerts here');
  t.is(nowhere.title, 'This chat (test) cannot be kept as a place for alerts.');
  t.is((await h.app.dispatch({ platform: 'shell', account: 'root', conversation: 'shell', text: 'admin alerts here' })).title, 'The terminal already shows every alert to its admin.');
  t.regex((await h.app.dispatch({ platform: 'slack', account: 'root', conversation: 'UROOT', text: 'admin alerts here' })).title, /^In Slack, alerts go to the channel named in the configuration \(alerts\.slackChannel\)/);
  t.is((await h.say('root', 'admin alerts there')).title, '"there" is not something admin alerts does.');
  t.is((await h.say('alice', 'admin alerts')).title, '"admin alerts" is for admins of the bot.');
  t.is((await h.app.dispatch({ platform: 'test', account: 'alice', conversation: 'dm-alice', place: 'her-room', text: 'admin alerts here' })).title, '"admin alerts" is for admins of the bot.');
  t.deepEqual(auditSince(h, start).map((a) => [a.actor, a.result]), [
    ['root', 'BAD_INPUT'],
    ['root', 'BAD_INPUT'],
    ['root', 'BAD_INPUT'],
    ['root', 'BAD_INPUT'],
    ['alice', 'ADMIN_ONLY'],
    ['alice', 'ADMIN_ONLY'],
  ]);
  t.is(h.app.service.alerts!.overview().destinations.length, 1, 'nothing was added');
});

test('destinations: the configured Slack channel, and no direct messages when directToAdmins is false', async (t) => {
  const config = `${TEST_CONFIG.replace('instance: test\n', 'instance: test\nalerts:\n  slackChannel: C0ALERTS\n  directToAdmins: false\n')}`;
  const h = createHarness({ config });
  t.teardown(() => h.close());
  await h.run(MIN, 5_000);
  t.deepEqual(h.app.service.alerts!.overview().destinations, ['the Slack channel C0ALERTS (slack is not running)']);
  const slack = new RecordingNotifier(h.clock);
  h.app.notifier.register('slack', slack);
  t.deepEqual(h.app.service.alerts!.overview().destinations, ['the Slack channel C0ALERTS']);
  h.store.savePoolHealth({ pool: 'physics', lastError: 'boot: Image physics-base could not be found.', lastErrorAt: h.clock.now(), consecutiveFailures: 1, backoffUntil: null });
  await h.tick();
  t.deepEqual(alertsTo(h), ['slack #alerts C0ALERTS · ALERT: image missing: physics']);
  t.deepEqual(slack.sent.map((s) => [s.to.conversation, s.message.title]), [['C0ALERTS', 'ALERT: image missing: physics']]);
  t.deepEqual(h.dms.sent, [], 'no admin is messaged directly');
});

test('a malformed alerts configuration is refused with clear reasons', (t) => {
  const error = t.throws(() => createHarness({ config: TEST_CONFIG.replace('instance: test\n', 'instance: test\nalerts:\n  slackChannel: "#ops"\n  repeat: soon\n  emptyFor: 0s\n') }));
  t.regex(error!.message, /alerts\.slackChannel: a Slack channel id such as C0123ABCD/);
  t.regex(error!.message, /alerts\.repeat: "soon" is not a duration/);
  t.regex(error!.message, /alerts\.emptyFor: "0s" is not a duration/);
});
