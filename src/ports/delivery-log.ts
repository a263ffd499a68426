/**
 * Deliveries a chat platform sends more than once (Slack retries events it thinks went
 * unanswered, Teams repeats messages and card-button invokes): each is remembered for a while,
 * with the answer it got where the platform expects the same answer again, so a repeat is
 * recognised even after the bot restarted.
 */
export interface DeliveryLog {
  /**
   * Records `key` until `expiresAt` (epoch ms) unless it is already recorded and unexpired at
   * `now`: true the first time, false for a repeat.
   */
  record(key: string, now: number, expiresAt: number): boolean | Promise<boolean>;
  /** Keeps the answer given to the delivery `key` (JSON text), for its repeats. */
  keepAnswer(key: string, answer: string): void | Promise<void>;
  /** The answer kept for `key`, if it is recorded and unexpired at `now`. */
  answerOf(key: string, now: number): string | undefined | Promise<string | undefined>;
}
