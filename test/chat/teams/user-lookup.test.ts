/**
 * The Teams user look-up remembers where each user can be reached (their conversation
 * reference) as they talk to the bot: written when it changes, not again with every message.
 */
import test from 'ava';
import { SystemClock } from '../../../src/adapters/system-clock.ts';
import { InMemoryConversationReferenceStore, type StoredConversation } from '../../../src/chat/teams/conversation-store.ts';
import { TEAMS_MESSAGES_PATH, TeamsAdapter } from '../../../src/chat/teams/teams-adapter.ts';
import { HttpServer } from '../../../src/http/http-server.ts';
import { silentLogger } from '../../../src/ports/logger.ts';
import { filledHarness } from '../../helpers/replies.ts';
import { channelMessage, FakeConnector, personalMessage, postActivity, type TestUser } from './fake-connector.ts';

const ALICE: TestUser = { id: '29:1alice', aadObjectId: '6f1e0c1a-0000-4000-8000-0000000a11ce', name: 'Alice Example' };

/** The in-memory store, counting its writes. */
class CountingReferences extends InMemoryConversationReferenceStore {
  puts = 0;
  override put(userKey: string, entry: Omit<StoredConversation, 'unreachable'>): void {
    this.puts++;
    super.put(userKey, entry);
  }
}

test('a user who talks to the bot again from the same conversation is not written again until an hour has passed, nor from a channel; a user marked unreachable is', async (t) => {
  const h = await filledHarness(t);
  const fake = await FakeConnector.start();
  t.teardown(() => fake.close());
  fake.members.set(ALICE.id, { id: ALICE.id, aadObjectId: ALICE.aadObjectId, name: ALICE.name, userPrincipalName: 'alice@facility.example', userRole: 'user' });
  const references = new CountingReferences();
  const http = new HttpServer(silentLogger);
  const teams = new TeamsAdapter({
    auth: { mode: 'anonymous' },
    host: '127.0.0.1',
    http,
    dispatch: (inv) => h.app.dispatch(inv),
    identity: { contact: 'the DAaaS team', domains: ['facility.example'] },
    references,
    clock: h.clock,
    log: silentLogger,
    outbound: { clock: new SystemClock(), limits: { perConversation: [{ limit: 50, ms: 1_000 }], perTenant: [{ limit: 100, ms: 1_000 }] }, backoff: { initialMs: 10, maxMs: 50 } },
  });
  const port = (await http.listen('127.0.0.1', 0)).port;
  await teams.start();
  t.teardown(async () => {
    await teams.stop();
    await http.close();
  });
  const say = async (activity: ReturnType<typeof personalMessage>) => {
    const answered = fake.delivered().length;
    t.true((await postActivity(`http://127.0.0.1:${port}${TEAMS_MESSAGES_PATH}`, activity)).status < 300);
    await fake.waitFor(() => (fake.delivered().length > answered ? true : undefined), 'the answer');
  };

  await say(personalMessage(fake, ALICE, 'help'));
  t.is(references.puts, 1, 'remembered at the first message');
  const first = references.get(ALICE.aadObjectId)!;
  await say(personalMessage(fake, ALICE, 'status'));
  await say(personalMessage(fake, ALICE, 'pools'));
  t.is(references.puts, 1, 'the same conversation again: nothing written');

  await h.clock.advance(3_600_000);
  await say(personalMessage(fake, ALICE, 'status'));
  t.is(references.puts, 2, 'an hour on: written again, so the time it was last seen stays current');
  t.true(references.get(ALICE.aadObjectId)!.updatedAt > first.updatedAt);

  references.markUnreachable(ALICE.aadObjectId, 'MessageWritesBlocked', h.clock.now());
  await say(personalMessage(fake, ALICE, 'status'));
  t.is(references.puts, 3, 'talking again clears unreachable');
  t.is(references.get(ALICE.aadObjectId)!.unreachable, undefined);

  // A channel mention keeps the personal conversation (reminders go there): unchanged, not written.
  await say(channelMessage(fake, ALICE, 'pools'));
  t.is(references.puts, 3);
  t.is(references.get(ALICE.aadObjectId)!.reference.conversation.conversationType, 'personal');

});
