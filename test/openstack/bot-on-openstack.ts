/**
 * The bot's core and scheduler on the OpenStack adapter, against any OpenStack API: the fake
 * one in `npm test`, a real cloud whenever OS_CLOUD or OS_* are set. Real time, real HTTP.
 */
import type { ExecutionContext } from 'ava';
import { setTimeout as delay } from 'node:timers/promises';
import { OpenStackCloud } from '../../src/adapters/openstack/openstack-cloud.ts';
import { resolveOpenStack } from '../../src/adapters/openstack/os-config.ts';
import { OpenStackSession } from '../../src/adapters/openstack/os-session.ts';
import { SimProvisioner } from '../../src/adapters/sim-provisioner.ts';
import { SqliteStore } from '../../src/adapters/sqlite/sqlite-store.ts';
import { SystemClock } from '../../src/adapters/system-clock.ts';
import { createApp, type App } from '../../src/app.ts';
import { renderText } from '../../src/chat/shell/render-text.ts';
import { parseConfig } from '../../src/config/load-config.ts';
import type { CloudServer } from '../../src/ports/cloud.ts';
import { recordingLogger } from '../helpers/recording-logger.ts';

export interface BotOptions {
  env: Readonly<Record<string, string | undefined>>;
  /** Distinguishes this run's servers from any other on the same project. */
  instance: string;
  image: string;
  flavor: string;
  size: number;
  max?: number;
  storePath?: string;
  pageSize?: number;
  /** The pool's name (physics): another one, to play a pool renamed in the configuration. */
  pool?: string;
  /** The pool's lease (the configuration's default when omitted), with one reminder 5 s before. */
  lease?: string;
}

export interface Bot {
  app: App;
  cloud: OpenStackCloud;
  session: OpenStackSession;
  store: SqliteStore;
  logs: () => string;
  say(account: string, text: string): Promise<string>;
  /** Ticks as the loop would (every `pollMs`) until `done` holds; fails after `ms`. */
  until(t: ExecutionContext, what: string, done: () => boolean | Promise<boolean>, ms?: number): Promise<number>;
  servers(): Promise<CloudServer[]>;
  close(): Promise<void>;
}

export function botOn(o: BotOptions): Bot {
  const clock = new SystemClock();
  const recorder = recordingLogger();
  const config = parseConfig(
    `
instance: ${o.instance}
access: { admins: [root], groups: { physics: [alice, bob] } }
scheduler: { poll: 300ms, maxConcurrentBoots: 20, readinessTimeout: 120s, failedRetention: 1s, backoffInitial: 1s, backoffMax: 5s }
cloud: { driver: openstack, openstack: { pageSize: ${o.pageSize ?? 200} } }
provisioner: { driver: simulated, simulated: { provisionTime: 100ms } }
pools:
  ${o.pool ?? 'physics'}:${o.lease ? `\n    lease: ${o.lease}\n    remindBefore: [5s]` : ''}
    image: ${o.image}
    flavor: ${o.flavor}
    networks: []
    size: ${o.size}
    max: ${o.max ?? o.size * 2}
    groups: [physics]
    owner: { name: Physics, contact: physics@facility.example }
`,
    'openstack-test.yaml',
    {},
  );
  if (config.cloud.driver !== 'openstack') throw new Error('unreachable');
  const session = new OpenStackSession({ settings: resolveOpenStack(o.env), clock, log: recorder.log, backoffMs: 50 });
  const cloud = new OpenStackCloud({ session, clock, pageSize: config.cloud.openstack.pageSize });
  const store = new SqliteStore(o.storePath ?? ':memory:');
  const provisioner = new SimProvisioner({ clock, provisionMs: 100 });
  const app = createApp({ config, store, cloud, provisioner, clock, log: recorder.log });
  const say = async (account: string, text: string) => renderText(await app.dispatch({ platform: 'test', account, conversation: `dm-${account}`, text }), { now: clock.now(), timeZone: 'UTC' });
  return {
    app,
    cloud,
    session,
    store,
    logs: recorder.text,
    say,
    async until(t, what, done, ms = 60_000) {
      const started = Date.now();
      for (;;) {
        await app.reconciler.tick();
        await app.reconciler.idle();
        if (await done()) return Date.now() - started;
        if (Date.now() - started > ms) {
          t.fail(`${what}: not reached within ${ms / 1000} s (last cloud error: ${app.reconciler.status.lastError ?? 'none'})`);
          throw new Error(what);
        }
        await delay(config.scheduler.pollMs);
      }
    },
    servers: () => cloud.listServers(app.reconciler.tag),
    async close() {
      await app.stop();
      store.close();
    },
  };
}

export const readyCount = (bot: Bot, pool = 'physics') => bot.store.listVms({ pool, states: ['ready'] }).length;

/** Deletes every server carrying `tag` and waits until the cloud has let them go. */
export async function sweep(cloud: OpenStackCloud, tag: string, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    const left = await cloud.listServers(tag);
    if (left.length === 0) return;
    if (Date.now() > end) throw new Error(`servers tagged ${tag} were still there after ${ms / 1000} s: ${left.map((s) => s.name).join(', ')}`);
    for (const server of left) if (server.status !== 'DELETED') await cloud.deleteServer(server.id);
    await delay(500);
  }
}
