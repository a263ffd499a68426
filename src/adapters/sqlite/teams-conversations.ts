import type { ConversationReferenceStore, StoredConversation, TeamsConversationReference } from '../../chat/teams/conversation-store.ts';
import type { SqliteStore } from './sqlite-store.ts';

type Row = { account: string; reference: string; updated_at: number; unreachable_at: number | null; unreachable_reason: string | null };

/**
 * Teams conversation references in the bot's SQLite file, so reminders reach a user after a
 * restart. A user Teams refused for good is marked, and the audit trail says so for admins.
 */
export class SqliteTeamsConversations implements ConversationReferenceStore {
  constructor(private readonly store: SqliteStore) {}

  get(userKey: string): StoredConversation | undefined {
    const row = this.store.db.prepare('SELECT account, reference, updated_at, unreachable_at, unreachable_reason FROM teams_conversations WHERE user_key = ?').get(userKey) as Row | undefined;
    if (!row) return undefined;
    return {
      reference: JSON.parse(row.reference) as TeamsConversationReference,
      account: row.account,
      updatedAt: row.updated_at,
      ...(row.unreachable_at !== null ? { unreachable: { at: row.unreachable_at, reason: row.unreachable_reason ?? '' } } : {}),
    };
  }

  put(userKey: string, entry: Omit<StoredConversation, 'unreachable'>): void {
    this.store.db
      .prepare(
        `INSERT INTO teams_conversations (user_key, account, reference, updated_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (user_key) DO UPDATE SET account = excluded.account, reference = excluded.reference,
           updated_at = excluded.updated_at, unreachable_at = NULL, unreachable_reason = NULL`,
      )
      .run(userKey, entry.account, JSON.stringify(entry.reference), entry.updatedAt);
  }

  markUnreachable(userKey: string, reason: string, at: number): void {
    this.store.transaction(() => {
      const row = this.get(userKey);
      if (!row || row.unreachable) return;
      this.store.db.prepare('UPDATE teams_conversations SET unreachable_at = ?, unreachable_reason = ? WHERE user_key = ?').run(at, reason, userKey);
      this.store.audit({ at, actor: 'teams', action: 'unreachable', target: row.account, result: 'blocked', detail: { reason } });
    });
  }
}
