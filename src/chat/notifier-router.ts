import type { Notifier, Recipient } from '../ports/notifier.ts';
import type { Reply } from './reply.ts';

/** Delivers each direct message through the chat adapter of the platform the user came from. */
export class NotifierRouter implements Notifier {
  private readonly routes = new Map<string, Notifier>();

  register(platform: string, notifier: Notifier): void {
    this.routes.set(platform, notifier);
  }

  async notify(to: Recipient, message: Reply): Promise<void> {
    const route = this.routes.get(to.platform);
    if (!route) throw new Error(`no chat adapter for ${to.platform} is running, so ${to.user} cannot be told: ${message.title}`);
    await route.notify(to, message);
  }
}
