/**
 * The configuration checks that span several keys, run on the raw document so that they are
 * reported together with every other problem.
 */
import cron from 'node-cron';
import { parseDurationMs } from '../core/duration.ts';
import { DEFAULT_LEASE_MS, DIRECTORY_PREFIX, NAME, NAME_RULE } from './schema-values.ts';

export type Loose = Record<string, unknown>;
const mapping = (value: unknown): Loose | undefined =>
  typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Loose) : undefined;
/** A valid positive duration, the fallback when absent, undefined when invalid (reported elsewhere). */
function durationOr(value: unknown, fallback: number | undefined): number | undefined {
  if (value === undefined) return fallback;
  const ms = typeof value === 'string' ? parseDurationMs(value) : undefined;
  return ms !== undefined && ms > 0 ? ms : undefined;
}

/**
 * The rules that span several keys (size within max, reminders within the lease, groups and
 * flavours that exist, valid names). Run on the raw document, not the parsed one, so that they
 * are reported together with every other problem instead of only once those are fixed.
 */
export function crossCheck(data: Loose): string[] {
  const problems: string[] = [];
  const groups = mapping(mapping(data.access)?.groups) ?? {};
  const hasDirectory = mapping(mapping(data.access)?.directory) !== undefined;
  const admins = mapping(data.access)?.admins;
  for (const admin of Array.isArray(admins) ? admins : []) {
    if (typeof admin === 'string' && admin.startsWith(DIRECTORY_PREFIX) && !hasDirectory) problems.push(`access.admins: "${admin}" is a directory group, but access.directory is not configured`);
  }
  for (const group of Object.keys(groups)) if (!NAME.test(group)) problems.push(`access.groups.${group}: not a valid group name: ${NAME_RULE}`);
  const defaults = mapping(data.defaults) ?? {};
  const sim = mapping(mapping(data.cloud)?.simulated);
  const flavors = mapping(sim?.flavors);
  const images = Array.isArray(sim?.images) ? (sim.images as unknown[]) : undefined;

  for (const [poolName, raw] of Object.entries(mapping(data.pools) ?? {})) {
    const at = `pools.${poolName}`;
    if (!NAME.test(poolName)) problems.push(`${at}: not a valid pool name: ${NAME_RULE}`);
    const p = mapping(raw);
    if (!p) continue;
    if (typeof p.size === 'number' && typeof p.max === 'number' && p.size > p.max) problems.push(`${at}.size: size ${p.size} is larger than max ${p.max}`);
    const leaseMs = durationOr(p.lease, durationOr(defaults.lease, DEFAULT_LEASE_MS));
    const reminders = p.remindBefore ?? defaults.remindBefore;
    if (leaseMs !== undefined && Array.isArray(reminders) && reminders.some((r) => (durationOr(r, undefined) ?? 0) >= leaseMs)) {
      problems.push(`${at}.remindBefore: every reminder must come before the lease ends (shorter than the lease)`);
    }
    for (const group of Array.isArray(p.groups) ? p.groups : []) {
      if (typeof group === 'string' && group.startsWith(DIRECTORY_PREFIX)) {
        if (!hasDirectory) problems.push(`${at}.groups: "${group}" is a directory group, but access.directory is not configured`);
        continue;
      }
      if (typeof group === 'string' && !(group in groups)) problems.push(`${at}.groups: group "${group}" is not defined under access.groups`);
    }
    if (typeof p.flavor === 'string' && flavors && !(p.flavor in flavors)) problems.push(`${at}.flavor: flavor "${p.flavor}" is not one of the simulated cloud's flavors`);
    if (typeof p.image === 'string' && images && !images.includes(p.image)) problems.push(`${at}.image: image "${p.image}" is not one of the simulated cloud's images`);
  }

  const ansible = mapping(mapping(data.provisioner)?.ansible);
  if (mapping(data.provisioner)?.driver === 'ansible') {
    const target = ansible?.target ?? 'address';
    if (target === 'local' && !ansible?.sandboxRoot) problems.push('provisioner.ansible.sandboxRoot: needed with target "local": the plays then run on this machine, under that directory');
    if (target === 'address' && !mapping(ansible?.ssh)?.user) problems.push('provisioner.ansible.ssh.user: needed with target "address": the account the plays log in to VMs with');
  }

  const schedule = mapping(data.scheduler)?.schedule;
  if (typeof schedule === 'string' && !cron.validate(schedule)) {
    problems.push(`scheduler.schedule: "${schedule}" is not a cron expression (e.g. "* * * * *" for every minute)`);
  }
  return problems;
}

const SLACK_USER_ID = /^[UW][A-Z0-9]+$/;
const TEAMS_USER_ID = /^\d+:\S+$/;
const OBJECT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ADDRESS = /^[^@\s]+@[^@\s]+$/;

/**
 * Who may become an account through chat. A platform in use with an address rule needs
 * `domains`: without them any address would do — a guest's, or a connected workspace's
 * `alice@…` would become the facility's `alice`. Map keys must be something a user can be
 * known by, or they would never match. Run on the raw document, like `crossCheck`.
 */
export function identityCheck(data: Loose, inUse: { slack: boolean; slackWhy: string; teams: boolean; teamsWhy: string }): string[] {
  const problems: string[] = [];
  const platforms = [
    { key: 'slack', name: 'Slack', inUse: inUse.slack, why: inUse.slackWhy, defaultRule: 'email-local-part', mapKey: (k: string) => SLACK_USER_ID.test(k) || ADDRESS.test(k.trim()), keys: 'a Slack user id (U… or W…, as Slack writes it) or an e-mail address' },
    { key: 'teams', name: 'Teams', inUse: inUse.teams, why: inUse.teamsWhy, defaultRule: 'upn-local-part', mapKey: (k: string) => TEAMS_USER_ID.test(k.trim()) || OBJECT_ID.test(k.trim()) || ADDRESS.test(k.trim()), keys: 'an Entra object id, a Teams user id (29:…), a UPN or an e-mail address' },
  ];
  for (const p of platforms) {
    const identity = mapping(mapping(data[p.key])?.identity);
    for (const key of Object.keys(mapping(identity?.map) ?? {})) if (!p.mapKey(key)) problems.push(`${p.key}.identity.map.${key}: a key is ${p.keys}`);
    const rule = identity?.rule ?? p.defaultRule;
    const domains = identity?.domains;
    if (p.inUse && rule !== 'map-only' && typeof rule === 'string' && rule.endsWith('-local-part') && (!Array.isArray(domains) || domains.length === 0)) {
      problems.push(
        `${p.key}.identity.domains: needed with rule ${rule} while ${p.name} is in use (${p.why}): list the facility’s e-mail domains, e.g. [facility.example], so that only addresses there become accounts — or set ${p.key}.identity.rule: map-only and list each user under ${p.key}.identity.map`,
      );
    }
  }
  return problems;
}
