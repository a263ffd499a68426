import test from 'ava';
import { parse } from 'yaml';
import { mergeUserData } from '../../src/adapters/cloud-init.ts';

const ours = '#cloud-config\nssh_deletekeys: true\nssh_keys:\n  ed25519_public: ssh-ed25519 AAAA\n';

test('without one side, the other is used as it is', (t) => {
  t.is(mergeUserData(undefined, ours), ours);
  t.is(mergeUserData('#!/bin/sh\necho hi\n', undefined), '#!/bin/sh\necho hi\n');
  t.is(mergeUserData(undefined, undefined), undefined);
});

test("configured #cloud-config is merged key by key: the bot's ssh_keys entries win, the site's others stay", (t) => {
  const site = '#cloud-config\npackages: [htop]\nssh_deletekeys: false\nssh_keys:\n  rsa_public: ssh-rsa AAAB\n  ed25519_public: ssh-ed25519 OLD\n';
  const merged = mergeUserData(site, ours)!;
  t.true(merged.startsWith('#cloud-config\n'));
  t.deepEqual(parse(merged), { packages: ['htop'], ssh_deletekeys: true, ssh_keys: { rsa_public: 'ssh-rsa AAAB', ed25519_public: 'ssh-ed25519 AAAA' } });
});

test('a script, or #cloud-config that does not parse, becomes one part of a MIME archive beside the bot’s', (t) => {
  for (const [site, type] of [
    ['#!/bin/sh\necho hi\n', 'text/x-shellscript'],
    ['#cloud-config\n: [broken\n', 'text/cloud-config'],
  ] as const) {
    const merged = mergeUserData(site, ours)!;
    const boundary = /boundary="([^"]+)"/.exec(merged)![1]!;
    t.true(merged.startsWith('Content-Type: multipart/mixed;'));
    const parts = merged.split(`--${boundary}`).slice(1, -1);
    t.is(parts.length, 2);
    t.true(parts[0]!.includes(`Content-Type: ${type}`) && parts[0]!.includes(site));
    t.true(parts[1]!.includes('Content-Type: text/cloud-config') && parts[1]!.includes(ours));
    t.true(merged.trimEnd().endsWith(`--${boundary}--`));
  }
});

test('a configured MIME archive becomes a nested part with its own headers', (t) => {
  const site = 'Content-Type: multipart/mixed; boundary="site"\nMIME-Version: 1.0\n\n--site\nContent-Type: text/x-shellscript\n\n#!/bin/sh\n--site--\n';
  const merged = mergeUserData(site, ours)!;
  const boundary = /^Content-Type: multipart\/mixed; boundary="([^"]+)"/.exec(merged)![1]!;
  t.not(boundary, 'site');
  t.true(merged.includes(`--${boundary}\n${site}`));
});
