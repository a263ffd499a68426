/**
 * The operator's command line: the bot's own code and configuration, without chat. So far it
 * checks the cloud; `npm run daaas -- cloud check`.
 */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { connectOpenStack } from '../adapters/openstack/connect.ts';
import { OpenStackConfigError } from '../adapters/openstack/os-config.ts';
import { SystemClock } from '../adapters/system-clock.ts';
import { ConfigError, loadConfig } from '../config/load-config.ts';
import { silentLogger } from '../ports/logger.ts';
import { checkCloud } from './cloud-check.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

const HELP = `Usage: npm run daaas -- <command> [options]

Commands:
  cloud check   authenticate with the cloud and check everything the pools need:
                images, flavours, networks, the compute API version and the quota

Options:
  --json        print the findings as JSON
  --help        show this text

The configuration comes from DAAAS_CONFIG (default: config/default.yaml); the OpenStack
cloud from OS_CLOUD (clouds.yaml) or the OS_* variables of an openrc.
Exit status: 0 when all is well, 1 when something is missing, 2 on a usage or configuration error.
`;

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { json: { type: 'boolean' }, help: { type: 'boolean' } }, allowPositionals: true });
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${HELP}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (positionals.join(' ') !== 'cloud check') {
    process.stderr.write(`${positionals.length ? `Unknown command "${positionals.join(' ')}".` : 'No command given.'}\n\n${HELP}`);
    return 2;
  }

  const configPath = process.env.DAAAS_CONFIG ? resolve(process.env.DAAAS_CONFIG) : join(ROOT, 'config', 'default.yaml');
  let config;
  try {
    config = loadConfig(configPath, process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    return 2;
  }
  if (config.cloud.driver !== 'openstack') {
    process.stdout.write(`${config.source} uses the simulated cloud (cloud.driver: ${config.cloud.driver}): there is no cloud to check. Set cloud.driver: openstack to use a real one.\n`);
    return 0;
  }
  const clock = new SystemClock();
  let connection;
  try {
    connection = connectOpenStack(config.cloud.openstack, process.env, clock, silentLogger);
  } catch (error) {
    if (!(error instanceof OpenStackConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    return 2;
  }
  const findings = await checkCloud({ ...connection, pools: config.pools, now: clock.now() });
  const problems = findings.filter((f) => !f.ok).length;
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ ok: problems === 0, findings }, null, 2)}\n`);
  } else {
    for (const f of findings) process.stdout.write(`${f.ok ? '✔' : '✖'} ${f.subject}: ${f.message}\n`);
    process.stdout.write(problems ? `\n${problems} problem${problems === 1 ? '' : 's'} found: the bot cannot fill every pool until they are fixed.\n` : '\nAll good: the bot can fill every pool on this cloud.\n');
  }
  return problems ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`daaas stopped on an unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
