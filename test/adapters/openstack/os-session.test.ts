import test from 'ava';
import { resolveOpenStack } from '../../../src/adapters/openstack/os-config.ts';
import { OpenStackSession, type SessionOptions } from '../../../src/adapters/openstack/os-session.ts';
import { SystemClock } from '../../../src/adapters/system-clock.ts';
import { CloudError } from '../../../src/ports/cloud.ts';
import { FAKE_APP_CREDENTIAL, FAKE_USER, FakeOpenStack } from '../../helpers/fake-openstack.ts';
import { recordingLogger } from '../../helpers/recording-logger.ts';

async function setup(t: { teardown: (fn: () => Promise<void>) => void }, options: Partial<SessionOptions> & { env?: Record<string, string>; tokenTtlMs?: number } = {}) {
  const fake = await new FakeOpenStack({ tokenTtlMs: options.tokenTtlMs }).start();
  t.teardown(() => fake.stop());
  const recorder = recordingLogger();
  const session = new OpenStackSession({
    settings: resolveOpenStack(fake.env(options.env)),
    clock: new SystemClock(),
    log: recorder.log,
    backoffMs: 5,
    random: () => 0.5,
    timeoutMs: 2_000,
    ...options,
  });
  return { fake, session, recorder };
}

const LIST = { operation: 'list servers' } as const;
const BOOT = { operation: 'boot', method: 'POST', json: { server: { name: 'x' } } } as const;

test('authenticates once with a project-scoped password token and sends it on each call', async (t) => {
  const { fake, session } = await setup(t);
  await session.request('compute', '/flavors/detail', LIST);
  await session.request('compute', '/flavors/detail', LIST);
  t.is(fake.count('POST', /auth\/tokens/), 1);
  const auth = fake.requests.filter((r) => r.url.startsWith('/compute'));
  t.is(auth.length, 2);
  t.true(auth.every((r) => typeof r.headers['x-auth-token'] === 'string' && fake.tokens.has(r.headers['x-auth-token'])));
  t.is(session.projectId, fake.projectId);
});

test('an application credential authenticates without a password', async (t) => {
  const { fake, session } = await setup(t, {
    env: { OS_AUTH_TYPE: 'v3applicationcredential', OS_APPLICATION_CREDENTIAL_ID: FAKE_APP_CREDENTIAL.id, OS_APPLICATION_CREDENTIAL_SECRET: FAKE_APP_CREDENTIAL.secret, OS_PASSWORD: '' },
  });
  const { status } = await session.request('compute', '/limits', { operation: 'read limits' });
  t.is(status, 200);
  t.is(fake.count('POST', /auth\/tokens/), 1);
});

test('a token refused with 401 is renewed once and the call repeated; a second 401 is an error', async (t) => {
  const { fake, session } = await setup(t);
  await session.request('compute', '/limits', { operation: 'read limits' });
  fake.revokeTokens();
  const { status } = await session.request('compute', '/limits', { operation: 'read limits' });
  t.is(status, 200);
  t.is(fake.count('POST', /auth\/tokens/), 2);

  // Keystone answers, but Nova keeps refusing: no loop, a clear error.
  fake.fail({ status: 401, path: /^\/compute/, body: { error: { code: 401, message: 'The request you have made requires authentication.' } } }, { status: 401, path: /^\/compute/ });
  const error = await t.throwsAsync(session.request('compute', '/limits', { operation: 'read limits' }), { instanceOf: CloudError });
  t.is(error?.status, 401);
  t.is(fake.count('POST', /auth\/tokens/), 3);
});

test('a token is renewed before it expires rather than after a refusal', async (t) => {
  const { fake, session } = await setup(t, { tokenTtlMs: 60_000, renewBeforeMs: 59_000 });
  await session.request('compute', '/limits', { operation: 'read limits' });
  await new Promise((r) => setTimeout(r, 1_100));
  await session.request('compute', '/limits', { operation: 'read limits' });
  t.is(fake.count('POST', /auth\/tokens/), 2);
  t.is(fake.requests.filter((r) => r.url === '/compute/v2.1/limits').length, 2, 'no request was refused first');
});

test('wrong credentials: the error names the cloud answer and where the credentials came from, never the password', async (t) => {
  const { session, recorder } = await setup(t, { env: { OS_PASSWORD: 'not-the-password' } });
  const error = await t.throwsAsync(session.request('compute', '/limits', { operation: 'read limits' }), { instanceOf: CloudError });
  t.is(error?.status, 401);
  t.regex(error?.message ?? '', /authenticate: the cloud answered 401: The request you have made requires authentication\. \(credentials from the OS_\* variables\)/);
  t.notRegex(`${error?.message} ${recorder.text()}`, /not-the-password/);
});

test('GET and DELETE are retried on 5xx and on a reset connection, then succeed', async (t) => {
  const { fake, session, recorder } = await setup(t);
  fake.fail({ status: 503, method: 'GET', path: /servers/ }, { reset: true, method: 'GET', path: /servers/ });
  const { status } = await session.request('compute', '/servers/detail', LIST);
  t.is(status, 200);
  t.is(fake.count('GET', /servers\/detail/), 3);
  fake.fail({ status: 500, method: 'DELETE' });
  await session.request('compute', '/servers/nope', { operation: 'delete server', method: 'DELETE', accept: [404] });
  t.is(fake.count('DELETE', /servers\/nope/), 2);
  t.true(recorder.lines.some((l) => l.includes('trying again')));
});

test('GET gives up after its attempts with a CloudError carrying status and request id', async (t) => {
  const { fake, session } = await setup(t, { attempts: 3 });
  fake.fail(...Array.from({ length: 3 }, () => ({ status: 500, method: 'GET', path: /limits/ })));
  const error = await t.throwsAsync(session.request('compute', '/limits', { operation: 'read limits' }), { instanceOf: CloudError });
  t.is(error?.status, 500);
  t.regex(error?.requestId ?? '', /^req-/);
  t.is(error?.message, 'read limits: the cloud answered 500: Unexpected API Error.');
  t.true(error?.transient);
  t.is(fake.count('GET', /limits/), 3);
});

test('issuing a token is repeated after a 5xx: it changes nothing', async (t) => {
  const { fake, session } = await setup(t);
  fake.fail({ status: 503, method: 'POST', path: /auth\/tokens/ });
  await session.request('compute', '/limits', { operation: 'read limits' });
  t.is(fake.count('POST', /auth\/tokens/), 2);
});

test('a POST is never repeated after a 5xx or a reset: it may have created the server', async (t) => {
  const { fake, session } = await setup(t);
  await session.request('compute', '/limits', { operation: 'read limits' });
  fake.fail({ status: 500, method: 'POST', path: /servers/ });
  const five = await t.throwsAsync(session.request('compute', '/servers', BOOT), { instanceOf: CloudError });
  t.is(five?.status, 500);
  fake.fail({ reset: true, method: 'POST', path: /servers/ });
  const reset = await t.throwsAsync(session.request('compute', '/servers', BOOT), { instanceOf: CloudError });
  t.is(reset?.status, null);
  t.regex(reset?.message ?? '', /boot: the cloud at 127\.0\.0\.1:\d+ could not be reached \(ECONNRESET\)/);
  t.is(fake.count('POST', /servers/), 2);
});

test('429 and 413 with Retry-After are waited out and repeated, even for a POST', async (t) => {
  const { fake, session } = await setup(t);
  await session.request('compute', '/limits', { operation: 'read limits' });
  fake.fail({ status: 429, retryAfter: '1', method: 'POST' }, { status: 413, retryAfter: '0', method: 'POST', body: { overLimit: { code: 413, message: 'This request was rate-limited.', retryAfter: '0' } } });
  const started = Date.now();
  const refused = await t.throwsAsync(session.request('compute', '/servers', BOOT), { instanceOf: CloudError });
  t.is(refused?.status, 400, 'reached Nova in the end (which refuses this tiny body)');
  t.true(Date.now() - started >= 950, 'Retry-After: 1 was honoured');
  t.is(fake.count('POST', /servers/), 3);
});

test('a Retry-After longer than the bot will wait fails at once, for the next tick to try', async (t) => {
  const { fake, session } = await setup(t, { maxRetryAfterMs: 10_000 });
  fake.fail({ status: 429, retryAfter: '3600', method: 'GET', path: /limits/ });
  const error = await t.throwsAsync(session.request('compute', '/limits', { operation: 'read limits' }), { instanceOf: CloudError });
  t.is(error?.status, 429);
  t.true(error?.transient);
});

test('a 413 quota answer without Retry-After is final', async (t) => {
  const { fake, session } = await setup(t);
  fake.fail({ status: 413, method: 'POST', path: /servers/, body: { overLimit: { code: 413, message: 'Quota exceeded for ram' } } });
  const error = await t.throwsAsync(session.request('compute', '/servers', BOOT), { instanceOf: CloudError });
  t.is(error?.message, 'boot: the cloud answered 413: Quota exceeded for ram');
  t.is(fake.count('POST', /servers/), 1);
});

test('a refused connection is tried again for any method: the request never left', async (t) => {
  const fake = await new FakeOpenStack().start();
  const env = fake.env();
  await fake.stop();
  const session = new OpenStackSession({ settings: resolveOpenStack(env), clock: new SystemClock(), log: recordingLogger().log, backoffMs: 5, attempts: 3 });
  const error = await t.throwsAsync(session.request('compute', '/servers', BOOT), { instanceOf: CloudError });
  t.regex(error?.message ?? '', /authenticate: the cloud at 127\.0\.0\.1:\d+ could not be reached \(ECONNREFUSED\)/);
  t.true(error?.transient);
});

test('a missing service or region in the catalog is named in the error', async (t) => {
  const { session } = await setup(t, { env: { OS_REGION_NAME: 'Elsewhere' } });
  const error = await t.throwsAsync(session.request('compute', '/limits', { operation: 'read limits' }), { instanceOf: CloudError });
  t.is(error?.message, 'the compute service has no public endpoint in region Elsewhere (regions: RegionOne)');
  const { session: other } = await setup(t);
  const missing = await t.throwsAsync(other.endpoint('volumev3'), { instanceOf: CloudError });
  t.regex(missing?.message ?? '', /no volumev3 service \(it has: identity, compute, image, network\)/);
});

test('the token and the password never appear in logs or errors, even at debug level and on failures', async (t) => {
  const { fake, session, recorder } = await setup(t);
  fake.fail({ status: 500, method: 'GET' }, { reset: true, method: 'GET' });
  await session.request('compute', '/servers/detail', LIST);
  fake.fail({ status: 500, method: 'POST', path: /servers/ });
  const error = await t.throwsAsync(session.request('compute', '/servers', BOOT));
  const tokens = [...fake.tokens.keys()];
  t.true(tokens.length > 0);
  const everything = `${recorder.text()}\n${JSON.stringify(error, Object.getOwnPropertyNames(error))}\n${String(error?.stack)}`;
  for (const secret of [FAKE_USER.password, ...tokens]) t.false(everything.includes(secret), 'a secret leaked');
  t.true(recorder.lines.length >= 4, 'calls were logged');
});
