import test from 'ava';
import { join } from 'node:path';
import { ManualClock } from '../../src/adapters/manual-clock.ts';
import { SqliteDeliveryLog } from '../../src/adapters/sqlite/delivery-log.ts';
import { SqliteStore } from '../../src/adapters/sqlite/sqlite-store.ts';
import { InboundPipeline, type Identified, type InboundOptions } from '../../src/chat/inbound.ts';
import type { Invocation } from '../../src/chat/invocation.ts';
import { reply, text, type Reply } from '../../src/chat/reply.ts';
import type { DeliveryLog } from '../../src/ports/delivery-log.ts';
import { tempDir } from '../helpers/harness.ts';
import { recordingLogger } from '../helpers/recording-logger.ts';

const texts = (r: Reply) => r.blocks.flatMap((b) => (b.type === 'text' ? [b.text] : [])).join('\n');

/** A pipeline over a platform whose users are their own accounts, rendering a reply as its title. */
function pipeline(options: Partial<InboundOptions<string, string>> & { deliveries?: DeliveryLog } = {}) {
  const clock = new ManualClock();
  const logger = recordingLogger();
  const dispatched: Invocation[] = [];
  const inbound = new InboundPipeline<string, string>({
    platform: 'test',
    platformName: 'Testchat',
    dispatch: async (inv) => (dispatched.push(inv), reply('success', `did ${inv.text}`)),
    lookUp: async (user): Promise<Identified> => (user.startsWith('x') ? { ok: false, reply: reply('error', `${user} is not linked`) } : { ok: true, account: user }),
    render: (answer, { owner }) => `${owner ?? '-'}: ${answer.title}`,
    howToClaim: 'Claim your own with: claim <pool>.',
    clock,
    log: logger.log,
    ...options,
  });
  return { inbound, clock, logger, dispatched };
}

test('de-duplicate: a delivery seen before a restart is still a repeat after it (file store), and fresh once it expires', async (t) => {
  const dir = tempDir();
  t.teardown(dir.remove);
  const path = join(dir.path, 'daaas.db');
  const before = new SqliteStore(path);
  const first = pipeline({ deliveries: new SqliteDeliveryLog(before), repeatWindowMs: 60_000 });
  t.true(await first.inbound.firstDelivery('slack:event:Ev1'));
  t.false(await first.inbound.firstDelivery('slack:event:Ev1', { retryNum: 1 }));
  t.regex(first.logger.text(), /"delivery":"slack:event:Ev1","retryNum":1,"msg":"repeated Testchat delivery ignored"/);
  before.close();

  const after = new SqliteStore(path);
  t.teardown(() => after.close());
  const second = pipeline({ deliveries: new SqliteDeliveryLog(after), repeatWindowMs: 60_000 });
  t.false(await second.inbound.firstDelivery('slack:event:Ev1'), 'the restarted bot knows it');
  t.true(await second.inbound.firstDelivery('slack:event:Ev2'));
  await second.clock.advance(60_000);
  t.true(await second.inbound.firstDelivery('slack:event:Ev1'), 'forgotten once the window has passed');
});

test('answerOnce: a repeat gets the first answer, while it is worked out and after a restart; the work runs once', async (t) => {
  const dir = tempDir();
  t.teardown(dir.remove);
  const path = join(dir.path, 'daaas.db');
  const before = new SqliteStore(path);
  const { inbound } = pipeline({ deliveries: new SqliteDeliveryLog(before) });
  let runs = 0;
  let finish!: () => void;
  const slow = new Promise<void>((resolve) => (finish = resolve));
  const work = async () => (runs++, await slow, { card: 'extended' });
  const firstTime = inbound.answerOnce('teams:invoke:c\u0000a1', 600_000, work);
  const meanwhile = inbound.answerOnce('teams:invoke:c\u0000a1', 600_000, work);
  finish();
  t.deepEqual(await firstTime, { card: 'extended' });
  t.deepEqual(await meanwhile, { card: 'extended' });
  t.deepEqual(await inbound.answerOnce('teams:invoke:c\u0000a1', 600_000, work), { card: 'extended' });
  before.close();

  const after = new SqliteStore(path);
  t.teardown(() => after.close());
  const restarted = pipeline({ deliveries: new SqliteDeliveryLog(after) });
  t.deepEqual(await restarted.inbound.answerOnce('teams:invoke:c\u0000a1', 600_000, work), { card: 'extended' });
  t.is(runs, 1);
});

test('identify: a platform that does not answer gets one apology naming it; the failure is logged with the platform’s fields', async (t) => {
  const { inbound, logger, dispatched } = pipeline({
    lookUp: async () => {
      throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    },
    describe: { user: (user) => ({ chatUser: user }), lookUpFailure: (error) => ({ code: (error as { code?: string }).code }) },
  });
  const outcome = await inbound.handle({ user: 'alice', conversation: 'D1', text: 'claim physics' });
  t.is(outcome.kind, 'refused');
  t.is(outcome.reply.title, 'Sorry, Testchat did not answer when the bot looked you up.');
  t.is(texts(outcome.reply), 'Nothing was changed. Please try again in a minute.');
  t.is(outcome.rendered, '-: Sorry, Testchat did not answer when the bot looked you up.', 'rendered without anyone’s buttons');
  t.deepEqual(dispatched, [], 'nothing ran');
  t.regex(logger.text(), /"level":"warn".*"chatUser":"alice","code":"ECONNRESET","msg":"could not look up a Testchat user"/);
});

test('an unmapped user gets the look-up’s own answer, and nothing runs', async (t) => {
  const { inbound, dispatched } = pipeline();
  const outcome = await inbound.handle({ user: 'xavier', conversation: 'D1', text: 'status' });
  t.like(outcome, { kind: 'refused', rendered: '-: xavier is not linked' });
  t.deepEqual(dispatched, []);
});

test('dispatch: the invocation names the platform, account and conversation with a request id; the answer is rendered for its owner', async (t) => {
  const { inbound, dispatched } = pipeline();
  const outcome = await inbound.handle({ user: 'alice', conversation: 'D1', text: 'claim physics' });
  t.like(outcome, { kind: 'answered', account: 'alice', rendered: 'alice: did claim physics', stranger: false, notYours: false });
  t.like(dispatched[0], { platform: 'test', account: 'alice', conversation: 'D1', text: 'claim physics' });
  t.regex(dispatched[0]!.requestId ?? '', /^[0-9a-f]{8}$/);
});

test('an internal error becomes the one apology, quoting the reference the log has', async (t) => {
  const { inbound, logger } = pipeline({
    dispatch: async () => {
      throw new Error('the store is on fire');
    },
  });
  const outcome = await inbound.handle({ user: 'alice', conversation: 'D1', text: 'status' });
  t.is(outcome.reply.tone, 'error');
  t.is(outcome.reply.title, 'Sorry, something went wrong on our side.');
  const reference = /quote reference ([0-9a-f]{8})\.$/.exec(texts(outcome.reply))?.[1];
  t.truthy(reference);
  t.notRegex(JSON.stringify(outcome.reply), /on fire/, 'the error itself is for the log');
  t.regex(logger.text(), new RegExp(`"level":"error".*"requestId":"${reference}".*"msg":"command failed"`));
});

test('someone else’s button: a refusal is said kindly, naming its holder; the holder’s own refusals are not', async (t) => {
  const { inbound } = pipeline({ dispatch: async () => reply('error', 'That VM is not yours.', text('Nothing was changed.')) });
  const stranger = await inbound.handle({ user: 'bob', conversation: 'D2', text: 'extend vm-1', owner: 'alice' });
  t.like(stranger, { kind: 'answered', account: 'bob', stranger: true, notYours: true });
  t.is(stranger.reply.title, 'Sorry, that button is not yours to press.');
  t.regex(texts(stranger.reply), /held by alice.*\(That VM is not yours\.\)\nClaim your own with: claim <pool>\./s);
  const owner = await inbound.handle({ user: 'alice', conversation: 'D1', text: 'extend vm-1', owner: 'alice' });
  t.like(owner, { stranger: false, notYours: false });
  t.is(owner.reply.title, 'That VM is not yours.');
});
