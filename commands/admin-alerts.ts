import { YES_FLAG, type CommandSpec } from '../src/chat/command-spec.ts';
import { reply, table, text } from '../src/chat/reply.ts';
import { alertName } from '../src/core/alerts.ts';
import { UserError } from '../src/core/errors.ts';

export const adminAlerts: CommandSpec = {
  name: 'admin alerts',
  summary: 'Admins: the open alerts and the last resolved ones, and where alerts go; "here" in a Teams channel sends them there too.',
  args: [{ name: 'here', description: 'here: alerts also go to this conversation (a Teams channel or chat).' }],
  flags: [YES_FLAG],
  examples: ['admin alerts', 'admin alerts here'],
  permission: 'admin',
  handler({ args, service, audit, origin, who, now }) {
    const desk = service.alerts;
    if (!desk) return reply('info', 'This bot keeps no alerts', text('Its store was started without the alerts tables.'));
    if (args.here !== undefined) {
      if (args.here.toLowerCase() !== 'here') throw new UserError('BAD_INPUT', `"${args.here}" is not something admin alerts does.`, 'admin alerts lists them; admin alerts here sends them to this conversation too.');
      desk.here(who.account, origin, (detail) => service.auditAdminCommand(audit!, 'ok', detail));
      return reply('success', 'Alerts will be posted here', text('Every alert raised, repeated or resolved from now on is also posted in this conversation (it replaces the one set before on this platform).'));
    }
    const { open, resolved, destinations } = desk.overview();
    const where = text(`Alerts go to: ${destinations.length ? destinations.join('; ') : 'nowhere yet (set alerts.slackChannel, say admin alerts here in a Teams channel, or name admins)'}.`);
    const openTable =
      open.length > 0 &&
      table(
        ['alert', 'since', 'open for', 'told'],
        open.map((a) => [alertName(a), { time: a.since }, { duration: now - a.since }, a.sent === 1 ? 'once' : `${a.sent} times`]),
      );
    const details = open.map((a) => text(`${alertName(a)}: ${a.detail}`));
    const resolvedTable =
      resolved.length > 0 &&
      table(
        ['resolved alert', 'started', 'lasted'],
        resolved.map((a) => [alertName(a), { time: a.since }, { duration: (a.resolvedAt ?? now) - a.since }]),
      );
    const title = open.length === 0 ? 'No open alerts' : `${open.length} open alert${open.length === 1 ? '' : 's'}`;
    return reply(open.length ? 'warning' : 'success', title, openTable, ...details, resolvedTable || text('Nothing resolved recently.'), where);
  },
};
