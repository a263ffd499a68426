/**
 * Text that every chat platform's renderer needs alike: the one-line notification of a reply,
 * times in UTC where a platform cannot show the reader's zone, cutting to a platform's limits,
 * the answer to someone pressing a button on another person's VM, and the apologies for the
 * bot's own failures.
 */
import { reply, text, type Field, type Reply } from './reply.ts';

let utcFormat: Intl.DateTimeFormat | undefined;

/** A time in UTC, for places (notifications, fallbacks) that cannot show the reader's zone. */
export function utcTime(epochMs: number): string {
  // Made once, on first use: building a formatter costs far more than formatting (it was a good
  // part of rendering every answer with an expiry in it).
  utcFormat ??= new Intl.DateTimeFormat('en-GB', { weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit', timeZone: 'UTC' });
  return `${utcFormat.format(epochMs)} UTC`;
}

/** The title and, when the reply has a time (an expiry), that time in UTC: what a notification shows. */
export function notificationLine(answer: Reply, maxLength: number): string {
  const timed = answer.blocks
    .flatMap((b) => (b.type === 'fields' ? b.fields : []))
    .find((f): f is Field & { value: { time: number } } => typeof f.value === 'object' && 'time' in f.value);
  const when = timed ? ` (${timed.label.toLowerCase()}: ${utcTime(timed.value.time)})` : '';
  return truncate(`${answer.title}${when}`, maxLength);
}

export function truncate(value: string, max: number): string {
  return value.length <= max ? value : `${value.slice(0, max - 1)}…`;
}

export function chunk<T>(items: readonly T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size));
  return chunks;
}

/** Someone pressed a button on a VM held by `owner`: nothing changed, said kindly. */
export function notYoursRefusal(owner: string, refusal: Reply, howToClaim: string): Reply {
  return reply(
    'info',
    'Sorry, that button is not yours to press.',
    text(`It acts on a VM held by ${owner}, and only its holder can extend or release it, so nothing was changed. (${refusal.title})`),
    text(howToClaim),
  );
}

/** The bot failed inside: nothing the user can fix; `reference` finds the failure in the log. */
export function internalErrorReply(reference: string): Reply {
  return reply('error', 'Sorry, something went wrong on our side.', text(`Nothing was changed. If it happens again, tell the admins and quote reference ${reference}.`));
}

/** The chat platform did not answer when asked who the user is (`platformName`: "Slack", "Teams"). */
export function lookUpFailedReply(platformName: string): Reply {
  return reply('error', `Sorry, ${platformName} did not answer when the bot looked you up.`, text('Nothing was changed. Please try again in a minute.'));
}
