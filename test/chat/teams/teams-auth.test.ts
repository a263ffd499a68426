import test from 'ava';
import { isLoopbackHost, isLoopbackUrl, teamsAuthFromEnv, teamsRequestedInEnv } from '../../../src/chat/teams/teams-auth.ts';

const TENANT = '72f988bf-0000-4000-8000-00000000d4a5';
const APP = '0b5e7a1c-0000-4000-8000-00000000b07a';

function error(result: ReturnType<typeof teamsAuthFromEnv>): string {
  return result.ok ? '' : result.error;
}

test('the SDK’s variable names give production credentials, whichever spelling is used', (t) => {
  t.deepEqual(teamsAuthFromEnv({ clientId: APP, clientSecret: 's3cret', tenantId: TENANT }, '0.0.0.0'), {
    ok: true,
    auth: { mode: 'production', clientId: APP, clientSecret: 's3cret', tenantId: TENANT, source: 'clientId/clientSecret/tenantId' },
  });
  // Case-insensitive, as the SDK reads them.
  t.like(teamsAuthFromEnv({ CLIENTID: APP, CLIENTSECRET: 's3cret', TENANTID: TENANT }, '0.0.0.0'), { ok: true, auth: { clientId: APP } });
  t.like(
    teamsAuthFromEnv({ Connections__ServiceConnection__Settings__ClientId: APP, Connections__ServiceConnection__Settings__ClientSecret: 's3cret', Connections__ServiceConnection__Settings__TenantId: TENANT }, '::'),
    { ok: true, auth: { mode: 'production', clientId: APP, source: 'Connections__<name>__Settings__*' } },
  );
  t.like(teamsAuthFromEnv({ MicrosoftAppId: APP, MicrosoftAppPassword: 's3cret', MicrosoftAppTenantId: TENANT }, '10.0.0.5'), { ok: true, auth: { tenantId: TENANT } });
});

test('missing or partial credentials refuse start-up and say what to set', (t) => {
  const none = error(teamsAuthFromEnv({}, '127.0.0.1'));
  t.regex(none, /Teams needs credentials and none are set/);
  t.regex(none, /clientId, clientSecret and tenantId/);
  t.regex(none, /TEAMS_ALLOW_ANONYMOUS=1 with DAAAS_HOST=127\.0\.0\.1/);
  t.regex(error(teamsAuthFromEnv({ clientId: APP }, '0.0.0.0')), /from clientId\/clientSecret\/tenantId are incomplete: clientSecret, tenantId are missing/);
  t.regex(error(teamsAuthFromEnv({ clientId: APP, clientSecret: 'x', tenantId: 'common' }, '0.0.0.0')), /"common" is not a directory.*single-tenant/);
});

test('anonymous mode needs the explicit switch, a loopback address, no credentials and no NODE_ENV=production', (t) => {
  t.deepEqual(teamsAuthFromEnv({ TEAMS_ALLOW_ANONYMOUS: '1' }, '127.0.0.1'), { ok: true, auth: { mode: 'anonymous' } });
  t.deepEqual(teamsAuthFromEnv({ TEAMS_ALLOW_ANONYMOUS: 'true' }, 'localhost'), { ok: true, auth: { mode: 'anonymous' } });
  t.deepEqual(teamsAuthFromEnv({ TEAMS_ALLOW_ANONYMOUS: '1' }, '::1'), { ok: true, auth: { mode: 'anonymous' } });
  for (const host of ['0.0.0.0', '::', '10.1.2.3', 'bot.facility.example', '']) {
    t.regex(error(teamsAuthFromEnv({ TEAMS_ALLOW_ANONYMOUS: '1' }, host)), /honoured only when the bot listens on a loopback address/, host);
  }
  t.regex(error(teamsAuthFromEnv({ TEAMS_ALLOW_ANONYMOUS: '1', clientId: APP }, '127.0.0.1')), /are both set/);
  t.regex(error(teamsAuthFromEnv({ TEAMS_ALLOW_ANONYMOUS: '1', NODE_ENV: 'production' }, '127.0.0.1')), /NODE_ENV=production/);
  t.regex(error(teamsAuthFromEnv({ TEAMS_ALLOW_ANONYMOUS: 'please' }, '127.0.0.1')), /TEAMS_ALLOW_ANONYMOUS=please is not understood/);
  // Off means off: credentials are then required.
  t.regex(error(teamsAuthFromEnv({ TEAMS_ALLOW_ANONYMOUS: '0' }, '127.0.0.1')), /none are set/);
});

test('loopback means 127/8, ::1 and localhost; URLs likewise', (t) => {
  for (const host of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1', 'localhost', 'LOCALHOST', 'app.localhost']) t.true(isLoopbackHost(host), host);
  for (const host of ['0.0.0.0', '::', '', '128.0.0.1', '10.0.0.1', 'example.org', 'localhost.example.org', '::ffff:10.0.0.1']) t.false(isLoopbackHost(host), host);
  t.true(isLoopbackUrl('http://127.0.0.1:3978/'));
  t.true(isLoopbackUrl('http://[::1]:3978/'));
  t.false(isLoopbackUrl('https://smba.example.org/emea/'));
  t.false(isLoopbackUrl('file:///etc/passwd'));
  t.false(isLoopbackUrl('not a url'));
  t.false(isLoopbackUrl(undefined));
});

test('Teams is asked for by any credential variable or the anonymous switch', (t) => {
  t.false(teamsRequestedInEnv({ DAAAS_HOST: '127.0.0.1', SLACK_BOT_TOKEN: 'xoxb-1' }));
  t.true(teamsRequestedInEnv({ TEAMS_ALLOW_ANONYMOUS: '1' }));
  t.true(teamsRequestedInEnv({ tenantId: TENANT }));
  t.true(teamsRequestedInEnv({ MICROSOFTAPPID: APP }));
  t.true(teamsRequestedInEnv({ Connections__ServiceConnection__Settings__ClientId: APP }));
});
