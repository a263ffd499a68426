import test from 'ava';
import { InMemoryConversationReferenceStore, type TeamsConversationReference } from '../../../src/chat/teams/conversation-store.ts';

const REFERENCE: TeamsConversationReference = {
  serviceUrl: 'http://127.0.0.1:1/',
  channelId: 'msteams',
  conversation: { id: 'a:personal', conversationType: 'personal', tenantId: 't' },
  user: { id: '29:1jane', aadObjectId: 'oid' },
  agent: { id: '28:bot' },
};

test('a reference is kept per user; unreachable until the user talks again; callers get copies', (t) => {
  const store = new InMemoryConversationReferenceStore();
  t.is(store.get('oid'), undefined);
  store.markUnreachable('oid', 'nobody', 1);
  t.is(store.get('oid'), undefined, 'marking an unknown user does nothing');

  store.put('oid', { reference: REFERENCE, account: 'jane', updatedAt: 10 });
  store.markUnreachable('oid', 'MessageWritesBlocked', 20);
  t.deepEqual(store.get('oid'), { reference: REFERENCE, account: 'jane', updatedAt: 10, unreachable: { at: 20, reason: 'MessageWritesBlocked' } });

  const copy = store.get('oid')!;
  copy.reference.conversation.id = 'changed';
  t.is(store.get('oid')!.reference.conversation.id, 'a:personal');

  store.put('oid', { reference: REFERENCE, account: 'jane', updatedAt: 30 });
  t.deepEqual(store.get('oid'), { reference: REFERENCE, account: 'jane', updatedAt: 30 });
  t.is(store.size, 1);
});
