import type { Reply } from '../chat/reply.ts';

/** Where a direct message goes: the user and the chat platform/conversation they use. */
export interface Recipient {
  platform: string;
  user: string;
  conversation: string;
}

/** Sends direct messages (reminders, teardown notices) through the user's chat platform. */
export interface Notifier {
  notify(to: Recipient, message: Reply): Promise<void>;
}
