import test from 'ava';
import { CLOUDS, ServiceUrlPolicy } from '../../../src/chat/teams/service-urls.ts';

test('the public cloud’s Bot Connector hosts are allowed over https, and nothing else', (t) => {
  const policy = new ServiceUrlPolicy(CLOUDS.public.serviceHosts);
  for (const url of ['https://smba.trafficmanager.net/emea/', 'https://smba.trafficmanager.net/amer/', 'https://SMBA.trafficmanager.net/teams/', 'https://europe.webchat.botframework.com/']) t.true(policy.allows(url), url);
  const refused: [string, RegExp][] = [
    ['http://smba.trafficmanager.net/emea/', /scheme http: is not https/],
    ['https://smba.trafficmanager.net.evil.example/emea/', /not on the allowed service hosts/],
    ['https://evil-smba.trafficmanager.net/', /not on the allowed service hosts/],
    ['https://botframework.com.evil.example/', /not on the allowed service hosts/],
    ['https://user:pw@smba.trafficmanager.net/emea/', /carries credentials/],
    ['https://smba.infra.gov.teams.microsoft.us/', /not on the allowed service hosts/],
    ['https://127.0.0.1:3978/', /not on the allowed service hosts/],
    ['file:///etc/passwd', /not https/],
    ['not a url', /not a URL/],
  ];
  for (const [url, why] of refused) t.regex(policy.refusal(url) ?? 'allowed', why, url);
  t.is(policy.refusal(undefined), 'no serviceUrl');
});

test('the government cloud has its own hosts; configured patterns replace them; plain http only to this machine', (t) => {
  const gov = new ServiceUrlPolicy(CLOUDS.gov.serviceHosts);
  t.true(gov.allows('https://smba.infra.gov.teams.microsoft.us/'));
  t.true(gov.allows('https://smba.infra.dod.teams.microsoft.us/'));
  t.true(gov.allows('https://smba.infra.gcc.teams.microsoft.com/gcc/'));
  t.false(gov.allows('https://smba.trafficmanager.net/emea/'));

  const local = new ServiceUrlPolicy(['127.0.0.1']);
  t.true(local.allows('http://127.0.0.1:4000/'));
  t.false(local.allows('http://localhost:4000/'), 'the pattern names the host, not every loopback name');
  t.throws(() => new ServiceUrlPolicy(['https://smba.trafficmanager.net/']), { message: /is not a host pattern/ });
  t.throws(() => new ServiceUrlPolicy(['*']), { message: /is not a host pattern/ });
});

test('anonymous local mode: loopback service URLs only', (t) => {
  const anonymous = new ServiceUrlPolicy(undefined);
  t.true(anonymous.allows('http://127.0.0.1:4000/'));
  t.true(anonymous.allows('http://[::1]:4000/'));
  t.true(anonymous.allows('http://localhost:4000/'));
  t.regex(anonymous.refusal('https://smba.trafficmanager.net/emea/') ?? '', /not a loopback address/);
});
