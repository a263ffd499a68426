import test from 'ava';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { ConfigError, parseConfig } from '../../src/config/load-config.ts';

const DEFAULT_TEXT = readFileSync(fileURLToPath(new URL('../../config/default.yaml', import.meta.url)), 'utf8');
const withScheduler = (scheduler: Record<string, unknown>) => {
  const doc = YAML.parse(DEFAULT_TEXT) as Record<string, Record<string, unknown>>;
  doc.scheduler = { ...doc.scheduler, ...scheduler };
  return YAML.stringify(doc);
};

test('scheduler.resyncEvery: a full walk of the cloud every 10 minutes unless said otherwise', (t) => {
  t.is(parseConfig(DEFAULT_TEXT, 'default.yaml', {}).scheduler.resyncEveryMs, 600_000);
  t.is(parseConfig(withScheduler({ resyncEvery: '2m' }), 'site.yaml', {}).scheduler.resyncEveryMs, 120_000);
  const doc = YAML.parse(DEFAULT_TEXT) as Record<string, Record<string, unknown>>;
  delete doc.scheduler!.resyncEvery;
  t.is(parseConfig(YAML.stringify(doc), 'site.yaml', {}).scheduler.resyncEveryMs, 600_000);
});

test('scheduler.resyncEvery that is not a duration is refused, naming the key', (t) => {
  for (const bad of ['often', '0s', -1]) {
    const error = t.throws(() => parseConfig(withScheduler({ resyncEvery: bad }), 'bad.yaml', {}), { instanceOf: ConfigError }) as ConfigError;
    t.true(error.problems.some((p) => p.includes('scheduler.resyncEvery')), error.message);
  }
});
