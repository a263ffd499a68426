import test from 'ava';
import { HttpServer } from '../../src/http/http-server.ts';
import { readiness, readyzHandler, type ReadinessSources } from '../../src/http/readiness.ts';

const NOW = 1_000_000;
const base: ReadinessSources = {
  storeWritable: () => {},
  cloud: () => ({ lastObservedAt: NOW - 10_000, lastError: null }),
  chats: () => [{ name: 'slack', connected: true }],
  now: () => NOW,
  cloudFreshMs: 180_000,
};
const failing = (s: Partial<ReadinessSources>) => readiness({ ...base, ...s }).filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}${c.cause ? ` (${c.cause})` : ''}`);

test('ready when the store takes writes, the cloud answered lately and every chat is connected', (t) => {
  t.deepEqual(failing({}), []);
});

test('each reason not to be ready is named', (t) => {
  t.deepEqual(failing({ storeWritable: () => { throw new Error('disk I/O error'); } }), ['store: not writable (disk I/O error)']);
  t.deepEqual(failing({ cloud: () => ({ lastObservedAt: null, lastError: null }) }), ['cloud: not observed yet']);
  t.deepEqual(failing({ cloud: () => ({ lastObservedAt: NOW - 10_000, lastError: 'list servers: the cloud answered 503' }) }), ['cloud: not answering (list servers: the cloud answered 503)']);
  t.deepEqual(failing({ cloud: () => ({ lastObservedAt: NOW - 600_000, lastError: null }) }), ['cloud: last observed 600 s ago']);
  t.deepEqual(failing({ chats: () => [{ name: 'teams', connected: false }] }), ['chat:teams: not connected']);
});

test('the public answer names the failing check in words; the cause goes to the log, once per change', async (t) => {
  const lines: { level: string; fields: object }[] = [];
  const log = { debug: () => {}, info: (fields: object) => void lines.push({ level: 'info', fields }), warn: (fields: object) => void lines.push({ level: 'warn', fields }), error: () => {}, child: () => log };
  const secretish = 'Keystone at https://keystone.internal.example:5000/v3 refused application credential 7f3e (from clouds.yaml)';
  let cloudError: string | null = secretish;
  const server = new HttpServer(log);
  server.mount('GET', '/readyz', readyzHandler({ ...base, cloud: () => ({ lastObservedAt: NOW - 10_000, lastError: cloudError }), log }));
  const { port } = await server.listen('127.0.0.1', 0);
  t.teardown(() => server.close());
  const get = async () => {
    const res = await fetch(`http://127.0.0.1:${port}/readyz`);
    return { status: res.status, body: await res.text() };
  };

  const first = await get();
  t.is(first.status, 503);
  t.deepEqual(JSON.parse(first.body).checks.find((c: { name: string }) => c.name === 'cloud'), { name: 'cloud', ok: false, detail: 'not answering' });
  for (const leak of ['keystone', 'internal.example', 'credential', 'clouds.yaml']) t.false(first.body.toLowerCase().includes(leak), `the answer mentions ${leak}`);
  await get();
  t.is(lines.filter((l) => l.level === 'warn').length, 1, 'logged once while nothing changes');
  t.regex(JSON.stringify(lines[0]!.fields), /keystone\.internal\.example/, 'the log has the cause');

  cloudError = null;
  t.is((await get()).status, 200);
  t.is(lines.at(-1)!.level, 'info');
});
