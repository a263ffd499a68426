import test from 'ava';
import { join } from 'node:path';
import { SqliteStore } from '../../../src/adapters/sqlite/sqlite-store.ts';
import { SqliteTeamsConversations } from '../../../src/adapters/sqlite/teams-conversations.ts';
import type { TeamsConversationReference } from '../../../src/chat/teams/conversation-store.ts';
import { tempDir } from '../../helpers/harness.ts';

const reference = (conversation: string): TeamsConversationReference => ({
  serviceUrl: 'https://smba.trafficmanager.net/emea/',
  channelId: 'msteams',
  conversation: { id: conversation, conversationType: 'personal', tenantId: 't1' },
  user: { id: '29:alice', aadObjectId: 'aad-alice' },
  agent: { id: '28:app' },
});

test('a reference survives a restart; a newer one replaces it and makes the user reachable again', (t) => {
  const dir = tempDir();
  t.teardown(dir.remove);
  const path = join(dir.path, 'daaas.db');
  const first = new SqliteStore(path);
  new SqliteTeamsConversations(first).put('aad-alice', { reference: reference('a:1'), account: 'alice', updatedAt: 1 });
  first.close();

  const store = new SqliteStore(path);
  t.teardown(() => store.close());
  const refs = new SqliteTeamsConversations(store);
  t.deepEqual(refs.get('aad-alice'), { reference: reference('a:1'), account: 'alice', updatedAt: 1 });
  refs.markUnreachable('aad-alice', '403 MessageWritesBlocked', 5);
  refs.markUnreachable('aad-alice', '403 MessageWritesBlocked', 6);
  t.deepEqual(refs.get('aad-alice')?.unreachable, { at: 5, reason: '403 MessageWritesBlocked' });
  t.deepEqual(
    store.auditLog({}).map((a) => [a.actor, a.action, a.target, a.result, a.detail]),
    [['teams', 'unreachable', 'alice', 'blocked', { reason: '403 MessageWritesBlocked' }]],
    'admins see it once in the audit trail',
  );
  refs.put('aad-alice', { reference: reference('a:2'), account: 'alice', updatedAt: 9 });
  t.deepEqual(refs.get('aad-alice'), { reference: reference('a:2'), account: 'alice', updatedAt: 9 });
  t.is(refs.get('nobody'), undefined);
  refs.markUnreachable('nobody', 'x', 10);
  t.is(store.auditLog({}).length, 1);
});
