/**
 * Where the bot can reach a Teams user later (reminders, teardown notices): the Bot Framework
 * conversation reference of their last message, kept per user. Persistent stores (the SQLite
 * store) implement this interface; the in-memory one is for tests and local trials.
 */

/** A Bot Framework conversation reference, as plain JSON: what proactive messages need. */
export interface TeamsConversationReference {
  serviceUrl: string;
  channelId: string;
  conversation: { id: string; conversationType?: string; tenantId?: string; isGroup?: boolean; name?: string };
  /** The user (`29:…` id, Entra object id). */
  user: { id: string; aadObjectId?: string; name?: string };
  /** The bot (`28:<app id>`). */
  agent: { id: string; name?: string };
  locale?: string;
}

export interface StoredConversation {
  reference: TeamsConversationReference;
  /** The facility account the user maps to. */
  account: string;
  /** When the user last talked to the bot (epoch ms), to the hour: an unchanged reference is not rewritten more often. */
  updatedAt: number;
  /** Set when Teams refused a message because the user removed or blocked the app. */
  unreachable?: { at: number; reason: string };
}

export interface ConversationReferenceStore {
  get(userKey: string): StoredConversation | undefined | Promise<StoredConversation | undefined>;
  /** Records where the user can be reached; clears `unreachable` (they talked to the bot again). */
  put(userKey: string, entry: Omit<StoredConversation, 'unreachable'>): void | Promise<void>;
  /** Teams refused a message for good: no more attempts until the user talks to the bot again. */
  markUnreachable(userKey: string, reason: string, at: number): void | Promise<void>;
}

export class InMemoryConversationReferenceStore implements ConversationReferenceStore {
  private readonly entries = new Map<string, StoredConversation>();

  get(userKey: string): StoredConversation | undefined {
    const entry = this.entries.get(userKey);
    return entry && structuredClone(entry);
  }

  put(userKey: string, entry: Omit<StoredConversation, 'unreachable'>): void {
    this.entries.set(userKey, structuredClone({ reference: entry.reference, account: entry.account, updatedAt: entry.updatedAt }));
  }

  markUnreachable(userKey: string, reason: string, at: number): void {
    const entry = this.entries.get(userKey);
    if (entry) entry.unreachable = { at, reason };
  }

  get size(): number {
    return this.entries.size;
  }
}
