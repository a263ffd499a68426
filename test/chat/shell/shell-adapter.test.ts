import test from 'ava';
import { PassThrough } from 'node:stream';
import { ManualClock } from '../../../src/adapters/manual-clock.ts';
import type { Invocation } from '../../../src/chat/invocation.ts';
import { fields, reply, text, type Reply } from '../../../src/chat/reply.ts';
import { SHELL_PLATFORM, ShellAdapter, waitForInputWork } from '../../../src/chat/shell/shell-adapter.ts';
import { SystemClock } from '../../../src/adapters/system-clock.ts';
import { createHarness } from '../../helpers/harness.ts';

const NOW = Date.UTC(2026, 0, 5, 9, 0, 0);

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** Lets streams, readline and promise chains run, without any timer. */
async function flush(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** Waits, without a timer, until `condition` holds (the test timeout bounds it). */
async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise<void>((resolve) => setImmediate(resolve));
}

function shell(options: { interactive?: boolean; dispatch?: (inv: Invocation) => Promise<Reply>; timeZone?: string; account?: string } = {}) {
  const input = new PassThrough();
  const output = new PassThrough();
  let written = '';
  output.on('data', (chunk: Buffer) => (written += chunk.toString('utf8')));
  const calls: Invocation[] = [];
  const clock = new ManualClock(NOW);
  const adapter = new ShellAdapter({
    input,
    output,
    account: options.account ?? 'alice',
    interactive: options.interactive ?? false,
    clock,
    timeZone: options.timeZone ?? 'UTC',
    dispatch: async (inv) => {
      calls.push(inv);
      return options.dispatch ? options.dispatch(inv) : reply('info', `answer to ${inv.text}`);
    },
  });
  let done = false;
  const running = adapter.run().then(() => {
    done = true;
  });
  return {
    input,
    adapter,
    clock,
    calls,
    texts: () => calls.map((c) => c.text),
    output: () => written,
    running,
    isDone: () => done,
  };
}

test('each line is echoed as "account> line" and answered, as a transcript', async (t) => {
  const s = shell();
  s.input.end('status\npools\n');
  await s.running;
  t.is(s.output(), 'alice> status\n• answer to status\n\nalice> pools\n• answer to pools\n\n');
});

test('every line becomes a shell invocation from the terminal, trimmed', async (t) => {
  const s = shell({ account: 'bob' });
  s.input.end('   claim physics  \t\n');
  await s.running;
  // Each carries a request id of its own, which correlates its log lines.
  t.deepEqual(s.calls.map(({ requestId, ...rest }) => rest), [{ platform: SHELL_PLATFORM, account: 'bob', conversation: 'terminal', text: 'claim physics' }]);
  t.regex(s.calls[0]!.requestId ?? '', /^[0-9a-f]{8}$/);
  t.is(SHELL_PLATFORM, 'shell');
  t.true(s.output().startsWith('bob> claim physics\n'));
});

test('a slow answer to line 1 is printed before line 2 is even dispatched', async (t) => {
  const gate = deferred<Reply>();
  const s = shell({ dispatch: (inv) => (inv.text === 'first' ? gate.promise : Promise.resolve(reply('success', `answer to ${inv.text}`))) });
  s.input.end('first\nsecond\nthird\n');
  await until(() => s.calls.length === 1);
  await flush();
  t.deepEqual(s.texts(), ['first'], 'the second line waits for the first answer');
  t.is(s.output(), 'alice> first\n');
  t.false(s.isDone(), 'run() does not resolve while an answer is pending');

  gate.resolve(reply('info', 'answer to first'));
  await s.running;
  t.deepEqual(s.texts(), ['first', 'second', 'third']);
  t.is(s.output(), 'alice> first\n• answer to first\n\nalice> second\n✔ answer to second\n\nalice> third\n✔ answer to third\n\n');
});

test('the end of input resolves run() only after every pending answer is printed', async (t) => {
  const gates = [deferred<Reply>(), deferred<Reply>()];
  const s = shell({ dispatch: () => gates[s.calls.length - 1]!.promise });
  s.input.end('one\ntwo\n');
  await until(() => s.calls.length === 1);
  await flush();
  t.false(s.isDone());
  gates[0]!.resolve(reply('info', 'answer one'));
  await until(() => s.calls.length === 2);
  await flush();
  t.false(s.isDone(), 'still waiting for the answer to the last line');
  t.false(s.output().includes('answer two'));
  gates[1]!.resolve(reply('info', 'answer two'));
  await s.running;
  t.true(s.output().endsWith('alice> two\n• answer two\n\n'), s.output());
});

test('blank and whitespace-only lines are ignored', async (t) => {
  const s = shell();
  s.input.end('\n   \n\t\nstatus\n\n \n');
  await s.running;
  t.deepEqual(s.texts(), ['status']);
  t.is(s.output(), 'alice> status\n• answer to status\n\n');
});

test('input without a final newline is still answered', async (t) => {
  const s = shell();
  s.input.end('status');
  await s.running;
  t.deepEqual(s.texts(), ['status']);
});

for (const word of ['exit', 'quit', 'EXIT', '  Quit  ']) {
  test(`"${word}" ends the session without the input ending`, async (t) => {
    const s = shell();
    s.input.write('status\n');
    await until(() => s.output().includes('answer to status'));
    s.input.write(`${word}\n`);
    await s.running;
    t.deepEqual(s.texts(), ['status']);
    t.false(s.output().includes(word.trim()), 'exit is not sent to the bot nor echoed');
    // Nothing typed after the session ended is read.
    s.input.write('claim physics\n');
    await flush();
    t.deepEqual(s.texts(), ['status']);
  });
}

test('exit waits for the answers to the lines before it', async (t) => {
  const gate = deferred<Reply>();
  const s = shell({ dispatch: () => gate.promise });
  s.input.write('status\n');
  await until(() => s.calls.length === 1);
  s.input.write('exit\n');
  await flush();
  t.false(s.isDone());
  gate.resolve(reply('info', 'late answer'));
  await s.running;
  t.is(s.output(), 'alice> status\n• late answer\n\n');
});

test('answers are rendered at the clock\'s time in the configured zone', async (t) => {
  const s = shell({ timeZone: 'Europe/Zurich', dispatch: async () => reply('info', 'VM', fields({ label: 'Expires', value: { time: NOW + 2 * 86_400_000 } })) });
  s.input.end('status\n');
  await s.running;
  t.is(s.output(), 'alice> status\n• VM\n  Expires: Wed 7 Jan, 10:00 CET (in 2d)\n\n');
});

test('notify() prints a direct message block, rendered at the clock\'s time', async (t) => {
  const s = shell();
  await s.clock.advance(60 * 60_000);
  await s.adapter.notify(
    { platform: SHELL_PLATFORM, user: 'alice', conversation: 'terminal' },
    reply('warning', 'physics-k3f9 will be torn down in 1h', text('Extend it or release it.'), fields({ label: 'Expires', value: { time: NOW + 2 * 3_600_000 } })),
  );
  t.is(
    s.output(),
    '\n[direct message to alice]\n! physics-k3f9 will be torn down in 1h\n  Extend it or release it.\n  Expires: Mon 5 Jan, 11:00 UTC (in 1h)\n\n',
  );
  s.input.end();
  await s.running;
});

test('a direct message arriving between commands does not disturb the transcript', async (t) => {
  const gate = deferred<Reply>();
  const s = shell({ dispatch: (inv) => (inv.text === 'status' ? gate.promise : Promise.resolve(reply('info', `answer to ${inv.text}`))) });
  s.input.end('status\npools\n');
  await until(() => s.calls.length === 1);
  await s.adapter.notify({ platform: SHELL_PLATFORM, user: 'alice', conversation: 'terminal' }, reply('info', 'imaging-1 has been torn down'));
  gate.resolve(reply('info', 'answer to status'));
  await s.running;
  t.is(
    s.output(),
    'alice> status\n\n[direct message to alice]\n• imaging-1 has been torn down\n\n• answer to status\n\nalice> pools\n• answer to pools\n\n',
  );
});

test('interactive: a prompt is shown, lines are not echoed by the adapter, and the prompt returns after each answer', async (t) => {
  const s = shell({ interactive: true });
  await flush();
  t.true(s.output().includes('alice> '), JSON.stringify(s.output()));
  t.deepEqual(s.texts(), []);
  s.input.write('status\n');
  await until(() => s.output().includes('answer to status'));
  await flush();
  const out = s.output();
  t.deepEqual(s.texts(), ['status']);
  t.false(out.includes('alice> status\n'), 'no transcript echo on a terminal');
  const answerAt = out.indexOf('• answer to status');
  t.is(out.slice(answerAt - 4, answerAt), '\r\x1b[K', 'the answer clears the prompt line first');
  t.true(out.slice(answerAt).includes('alice> '), 'the prompt is shown again after the answer');
  s.input.write('exit\n');
  await s.running;
});

test('interactive: a direct message clears the prompt line and shows the prompt again', async (t) => {
  const s = shell({ interactive: true });
  await flush();
  const before = s.output().length;
  await s.adapter.notify({ platform: SHELL_PLATFORM, user: 'alice', conversation: 'terminal' }, reply('info', 'hello'));
  const out = s.output().slice(before);
  t.true(out.startsWith('\r\x1b[K\n[direct message to alice]\n• hello\n'), JSON.stringify(out));
  t.true(out.includes('alice> '));
  s.input.end();
  await s.running;
});

test('end to end with the bot: a piped session claims and shows status', async (t) => {
  const h = createHarness();
  t.teardown(() => h.close());
  await h.run(15_000);
  const input = new PassThrough();
  const output = new PassThrough();
  let written = '';
  output.on('data', (chunk: Buffer) => (written += chunk.toString('utf8')));
  const adapter = new ShellAdapter({ input, output, account: 'alice', interactive: false, clock: h.clock, timeZone: 'UTC', dispatch: h.app.dispatch });
  const running = adapter.run();
  input.end('/daaas claim physics\nstatus\nclaim physics\n');
  await running;
  const vm = h.store.activeLeases({ user: 'alice' })[0]?.vm.name ?? 'missing';
  t.regex(written, new RegExp(`^alice> /daaas claim physics\\n✔ ${vm} is yours for 2d\\n`));
  t.true(written.includes(`alice> status\n• Your VM\n  VM:              ${vm}\n`), written);
  t.true(written.includes(`alice> claim physics\n✖ You already hold ${vm} from physics`), written);
  t.is(h.store.activeLeases({ user: 'alice' })[0]?.platform, SHELL_PLATFORM, 'reminders will go back to the shell');
});

test('lines after exit are not run, even when they arrive in the same chunk', async (t) => {
  const s = shell();
  s.input.write('status\nexit\nrelease --yes\n');
  await s.running;
  t.deepEqual(s.texts(), ['status']);
  t.is(s.output(), 'alice> status\n• answer to status\n\n');
});

test('a line whose answer fails is reported and the next lines are still answered', async (t) => {
  const s = shell({
    // A zone the renderer cannot use: answers showing a time fail to render.
    timeZone: 'Nowhere/Atlantis',
    dispatch: async (inv) => {
      if (inv.text === 'boom') throw new Error('dispatcher exploded');
      if (inv.text === 'when') return reply('info', 'expiry', fields({ label: 'Expires', value: { time: NOW } }));
      return reply('info', `answer to ${inv.text}`);
    },
  });
  s.input.end('boom\nwhen\nstatus\n');
  await s.running;
  // The command failing inside the bot: the one apology, with a reference into the log.
  t.regex(s.output(), /alice> boom\n✖ Sorry, something went wrong on our side\.\n {2}Nothing was changed\. If it happens again, tell the admins and quote reference [0-9a-f]{8}\.\n/);
  t.notRegex(s.output(), /dispatcher exploded/, 'the error itself is for the log, not the user');
  // The answer failing to render: reported as such.
  t.regex(s.output(), /alice> when\n✖ That message could not be answered: Invalid time zone specified: Nowhere\/Atlantis\n/);
  t.regex(s.output(), /alice> status\n• answer to status\n/);
});

test('end of piped input: nothing left, no wait and nothing said; work left is waited for, saying so, and given up on at the limit', async (t) => {
  const said: string[] = [];
  const say = (line: string) => void said.push(line);
  const clock = new SystemClock();
  t.true(await waitForInputWork({ pending: () => ({ setups: 0, messages: 0 }), clock, limitMs: 1_000, say }));
  t.deepEqual(said, []);

  let setups = 2;
  t.true(await waitForInputWork({ pending: () => ({ setups: setups > 0 ? setups-- : 0, messages: 0 }), clock, limitMs: 5_000, pollMs: 5, say }));
  t.deepEqual(said, ['(End of input: waiting up to 5 s for 2 home set-ups to finish.)\n']);

  said.length = 0;
  const started = Date.now();
  t.false(await waitForInputWork({ pending: () => ({ setups: 1, messages: 1 }), clock, limitMs: 1_000, pollMs: 20, say }));
  t.true(Date.now() - started >= 990);
  t.deepEqual(said, ['(End of input: waiting up to 1 s for 1 home set-up to finish.)\n', '(Stopped waiting after 1 s: 1 home set-up is still running; the bot carries on at its next start.)\n']);
});

test('the help table fits the terminal width the adapter is given, read at each answer', async (t) => {
  const h = createHarness();
  t.teardown(() => h.close());
  const input = new PassThrough();
  const output = new PassThrough();
  let written = '';
  output.on('data', (chunk: Buffer) => (written += chunk.toString('utf8')));
  let columns: number | undefined = 60;
  const adapter = new ShellAdapter({ input, output, account: 'alice', interactive: false, clock: h.clock, timeZone: 'UTC', dispatch: h.app.dispatch, columns: () => columns });
  const running = adapter.run();
  input.write('help\n');
  await until(() => written.includes('More on one command'));
  t.deepEqual(written.split('\n').filter((l) => l.length > 60 && !l.startsWith('  Type a command')), []);
  const narrow = written;
  columns = undefined;
  input.end('help\n');
  await running;
  t.true(written.slice(narrow.length).split('\n').some((l) => l.length > 60), 'no width: the table as wide as it is');
});
