import type { Reply } from '../core/reply.ts';

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

/**
 * Thrown by a Notifier when the platform will not take the message for this recipient however
 * often it is sent (no such user, the app removed or blocked): it is not tried again.
 */
export class UndeliverableError extends Error {}
