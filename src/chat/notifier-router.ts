import type { Notifier, Recipient } from '../ports/notifier.ts';
import type { Reply } from './reply.ts';

/** Delivers each direct message through the chat adapter of the platform the user came from. */
export class NotifierRouter implements Notifier {
  private readonly routes = new Map<string, Notifier>();
  private readonly watchers: ((to: Recipient, message: Reply) => void)[] = [];

  register(platform: string, notifier: Notifier): void {
    this.routes.set(platform, notifier);
  }

  /** Told of every message once its platform took it (the terminal shows those of users its admin acted as). */
  watch(watcher: (to: Recipient, message: Reply) => void): void {
    this.watchers.push(watcher);
  }

  /** The platforms messages can go to now: those whose chat adapter is running. */
  platforms(): string[] {
    return [...this.routes.keys()];
  }

  async notify(to: Recipient, message: Reply): Promise<void> {
    const route = this.routes.get(to.platform);
    if (!route) throw new Error(`no chat adapter for ${to.platform} is running, so ${to.user} cannot be told: ${message.title}`);
    await route.notify(to, message);
    for (const watcher of this.watchers) {
      try {
        watcher(to, message);
      } catch {
        // Watching never fails a delivery that happened.
      }
    }
  }
}
