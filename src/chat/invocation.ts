/** The bot's own terminal as a chat platform (the shell adapter's SHELL_PLATFORM). */
export const TERMINAL_PLATFORM = 'shell';

/** A message to the bot from any chat platform, reduced to what the commands need. */
export interface Invocation {
  /** `shell`, `slack`, `teams`, … — also where direct messages to this user go. */
  platform: string;
  /** The facility account the platform user maps to. */
  account: string;
  /** Where the message came from, so answers and reminders can go back there. */
  conversation: string;
  text: string;
  /** Correlates the log lines of one command; shown to the user on internal errors. */
  requestId?: string;
  /**
   * The admin at the bot's terminal running this as `account` (`as bob claim excitations`, for
   * trials): allowed on the terminal only, for admins only, and audited as that admin.
   */
  actingAdmin?: string;
  /**
   * Where exactly the message was said, when that differs from `conversation` (a Teams channel
   * or group chat, kept as its conversation reference): what `admin alerts here` keeps.
   */
  place?: string;
}
