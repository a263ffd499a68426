import type { Agent } from 'node:http';
import type { Agent as HttpsAgent } from 'node:https';
import type { Clock } from '../../ports/clock.ts';
import type { Logger } from '../../ports/logger.ts';
import { OpenStackCloud } from './openstack-cloud.ts';
import { resolveOpenStack, type OpenStackSettings } from './os-config.ts';
import { OpenStackSession } from './os-session.ts';

/** The `cloud.openstack` block of the bot's configuration. */
export interface OpenStackConfig {
  /** A clouds.yaml entry; OS_CLOUD or the OS_* variables otherwise. */
  cloud?: string;
  pageSize: number;
  timeout: number;
  imageRefresh: number;
  keyName?: string;
  securityGroups: string[];
  userData?: string;
}

export interface OpenStackConnection {
  settings: OpenStackSettings;
  session: OpenStackSession;
  cloud: OpenStackCloud;
}

/**
 * The OpenStack adapter as the configuration and the environment describe it. Throws
 * OpenStackConfigError, naming what is missing, when no usable cloud is configured.
 */
export function connectOpenStack(
  config: OpenStackConfig,
  env: Readonly<Record<string, string | undefined>>,
  clock: Clock,
  log: Logger,
  /** The outbound proxy's agents for a URL (NO_PROXY usually exempts the cloud); undefined: direct. */
  agentsFor?: (url: string) => { http?: Agent; https?: HttpsAgent } | undefined,
): OpenStackConnection {
  const settings = resolveOpenStack(env, config.cloud ? { cloud: config.cloud } : {});
  const session = new OpenStackSession({ settings, clock, log, timeoutMs: config.timeout, ...(agentsFor ? { agentsFor } : {}) });
  const cloud = new OpenStackCloud({
    session,
    clock,
    pageSize: config.pageSize,
    imageRefreshMs: config.imageRefresh,
    ...(config.keyName ? { keyName: config.keyName } : {}),
    securityGroups: config.securityGroups,
    ...(config.userData ? { userData: config.userData } : {}),
  });
  return { settings, session, cloud };
}
