import type { CommandSpec } from '../src/chat/command-spec.ts';
import { usage } from '../src/chat/command-spec.ts';
import { reply, table, text } from '../src/chat/reply.ts';
import { UserError } from '../src/core/errors.ts';

export const help: CommandSpec = {
  name: 'help',
  summary: 'What the bot can do; `help <command>` for one command in detail.',
  args: [
    { name: 'command', description: 'A command to explain.' },
    { name: 'subcommand', description: 'Its second word, for admin commands.' },
  ],
  examples: ['help', 'help release', 'help admin'],
  permission: 'user',
  handler({ who, args, commands }) {
    const visible = commands.filter((c) => c.permission === 'user' || who.isAdmin);
    // `help admin`: the admin commands, for admins only (to anyone else there is no such command).
    if (args.command?.toLowerCase() === 'admin' && !args.subcommand && who.isAdmin) {
      const admin = visible.filter((c) => c.permission === 'admin');
      return reply(
        'info',
        'Admin commands',
        text('For admins of the bot. Each is audited with who ran it, the target and the reason; destructive ones ask to confirm unless --yes.'),
        table(['command', 'what it does', 'example'], admin.map((c) => [usage(c), c.summary, `/daaas ${c.examples[0] ?? c.name}`])),
        text('More on one command: help admin <command>'),
      );
    }
    if (args.command) {
      const name = [args.command, args.subcommand].filter(Boolean).join(' ').toLowerCase();
      const spec = visible.find((c) => c.name === name);
      if (!spec) throw new UserError('UNKNOWN_COMMAND', `There is no command "${name}" to explain.`, 'See every command with: help');
      const rows = [
        ...spec.args.map((a) => [a.required ? `<${a.name}>` : `[${a.name}]`, a.description]),
        ...(spec.flags ?? []).map((f) => [`--${f.name}`, f.description]),
      ];
      const width = Math.max(0, ...rows.map(([word]) => word!.length));
      const details = rows.map(([word, description]) => `  ${word!.padEnd(width)}  ${description}`);
      return reply(
        'info',
        usage(spec),
        text(spec.summary),
        details.length ? text(details.join('\n')) : undefined,
        text(`Examples:\n${spec.examples.map((e) => `  /daaas ${e}`).join('\n')}`),
      );
    }
    return reply(
      'info',
      'DAaaS: analysis VMs on demand',
      text('Type a command, with or without /daaas in front.'),
      table(['command', 'what it does', 'example'], visible.map((c) => [usage(c), c.summary, `/daaas ${c.examples[0] ?? c.name}`])),
      text('More on one command: help <command>'),
    );
  },
};
