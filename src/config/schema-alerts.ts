/** The `alerts:` keys: when the people who run the service are told, and where. */
import { z } from 'zod';
import { duration } from './schema-values.ts';

/** A Slack channel's id (channel details → About, at the bottom): public `C…`, private `G…`. */
const SLACK_CHANNEL = /^[CG][A-Z0-9]{2,}$/;

export const alerts = z.strictObject({
  /** An open alert is said again this often while it lasts. */
  repeat: duration.default(3_600_000),
  /** A pool without a ready VM, while users ask for one, is an alert after this long. */
  emptyFor: duration.default(300_000),
  /** The Slack channel alerts are posted in (the bot must be a member of it). */
  slackChannel: z.string().regex(SLACK_CHANNEL, 'a Slack channel id such as C0123ABCD (channel details → About, at the bottom), not its name').optional(),
  /** Every admin also gets each alert as a direct message, on each chat platform in use. */
  directToAdmins: z.boolean().default(true),
});

export type RawAlerts = z.output<typeof alerts>;
