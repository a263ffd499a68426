import { isIP } from 'node:net';

/** Set to 1 for a local trial without an app registration; honoured only on a loopback address. */
export const ANONYMOUS_ENV = 'TEAMS_ALLOW_ANONYMOUS';

/** How the Teams endpoint authenticates Bot Framework requests and its own outbound calls. */
export type TeamsAuth =
  | {
      mode: 'production';
      /** The Entra app registration's application (client) id: also the bot id. */
      clientId: string;
      clientSecret: string;
      /** The directory (tenant) id of the single-tenant app registration. */
      tenantId: string;
      /** Which environment variables they came from, for the start-up log. */
      source: string;
    }
  | { mode: 'anonymous' };

export type TeamsAuthResult = { ok: true; auth: TeamsAuth } | { ok: false; error: string };

type Env = Readonly<Record<string, string | undefined>>;

/**
 * The spellings the Agents SDK itself reads (`loadAuthConfigFromEnv` and
 * `loadPrevAuthConfigFromEnv`), in the order it prefers them. Only the first connection is used:
 * the bot has one identity.
 */
const SOURCES = [
  { name: 'Connections__<name>__Settings__*', read: connectionSettings },
  { name: 'clientId/clientSecret/tenantId', read: (env: Env) => pick(env, 'clientId', 'clientSecret', 'tenantId') },
  { name: 'MicrosoftAppId/MicrosoftAppPassword/MicrosoftAppTenantId', read: (env: Env) => pick(env, 'MicrosoftAppId', 'MicrosoftAppPassword', 'MicrosoftAppTenantId') },
] as const;

const HOW =
  'Set the bot’s app registration with clientId, clientSecret and tenantId (the Agents SDK’s names; ' +
  'Connections__ServiceConnection__Settings__ClientId/ClientSecret/TenantId or MicrosoftAppId/MicrosoftAppPassword/MicrosoftAppTenantId work too).';

/**
 * The Teams adapter's credentials from the environment, checked against the address the bot's
 * HTTP server is bound to. Production needs the app id, secret and tenant; without them only an
 * explicit TEAMS_ALLOW_ANONYMOUS=1 on a loopback address is accepted, because anonymous mode
 * accepts any request and would post replies to whatever serviceUrl a request names.
 */
export function teamsAuthFromEnv(env: Env, boundHost: string): TeamsAuthResult {
  const anonymous = flag(env[ANONYMOUS_ENV]);
  if (anonymous === 'invalid') return { ok: false, error: `${ANONYMOUS_ENV}=${env[ANONYMOUS_ENV]} is not understood: write 1 to allow anonymous local use, or leave it unset.` };

  const found = SOURCES.map((s) => ({ name: s.name, ...s.read(env) })).find((c) => c.clientId || c.clientSecret || c.tenantId);
  if (anonymous) {
    if (found) return { ok: false, error: `Teams: ${ANONYMOUS_ENV}=1 and app credentials (${found.name}) are both set. Unset ${ANONYMOUS_ENV} to use the credentials, or unset the credentials for a local anonymous trial.` };
    if (!isLoopbackHost(boundHost)) {
      return {
        ok: false,
        error:
          `Teams: ${ANONYMOUS_ENV}=1 is honoured only when the bot listens on a loopback address (DAAAS_HOST=127.0.0.1, ::1 or localhost), and it listens on ${boundHost || '(all addresses)'}. ` +
          `Anonymous mode accepts any request and would post replies to any serviceUrl. For a reachable bot: ${HOW}`,
      };
    }
    if ((env.NODE_ENV ?? '').toLowerCase() === 'production') {
      return { ok: false, error: `Teams: ${ANONYMOUS_ENV}=1 cannot work with NODE_ENV=production: the Agents SDK then refuses every request without a token. Unset NODE_ENV for a local trial.` };
    }
    return { ok: true, auth: { mode: 'anonymous' } };
  }

  if (!found) return { ok: false, error: `Teams needs credentials and none are set. ${HOW} For a local trial without them: ${ANONYMOUS_ENV}=1 with DAAAS_HOST=127.0.0.1.` };
  const missing = (['clientId', 'clientSecret', 'tenantId'] as const).filter((k) => !found[k]);
  if (missing.length > 0) return { ok: false, error: `Teams credentials from ${found.name} are incomplete: ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} missing. ${HOW}` };
  const tenant = found.tenantId!.toLowerCase();
  if (tenant === 'common' || tenant === 'organizations' || tenant === 'consumers') {
    return { ok: false, error: `Teams: tenantId "${found.tenantId}" is not a directory. The bot is a single-tenant app: use the directory (tenant) id of its app registration.` };
  }
  return { ok: true, auth: { mode: 'production', clientId: found.clientId!, clientSecret: found.clientSecret!, tenantId: found.tenantId!, source: found.name } };
}

/**
 * Whether the environment asks for Teams at all: any of the credentials, or the anonymous switch.
 * The composition root starts the adapter when this (or the configuration) says so; then
 * teamsAuthFromEnv decides whether it may.
 */
export function teamsRequestedInEnv(env: Env): boolean {
  if (env[ANONYMOUS_ENV]?.trim()) return true;
  return SOURCES.some((s) => {
    const found = s.read(env);
    return Boolean(found.clientId || found.clientSecret || found.tenantId);
  });
}

/** 127.0.0.0/8, ::1 (also IPv4-mapped) and localhost: addresses no other machine can reach. */
export function isLoopbackHost(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) {
    // The URL parser writes every spelling of an IPv6 address the same (compressed) way.
    const normal = new URL(`http://[${h}]/`).hostname;
    return normal === '[::1]' || normal.startsWith('[::ffff:7f');
  }
  return false;
}

/** True when a URL points at this machine: in anonymous mode replies go only there. */
export function isLoopbackUrl(url: string | undefined): boolean {
  if (!url) return false;
  try {
    const parsed = new URL(url);
    return (parsed.protocol === 'http:' || parsed.protocol === 'https:') && isLoopbackHost(parsed.hostname);
  } catch {
    return false;
  }
}

function flag(value: string | undefined): boolean | 'invalid' {
  if (value === undefined || value.trim() === '') return false;
  const v = value.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off'].includes(v)) return false;
  return 'invalid';
}

/** Reads variables case-insensitively, as the SDK does. */
function get(env: Env, name: string): string | undefined {
  const direct = env[name];
  if (direct?.trim()) return direct.trim();
  const upper = name.toUpperCase();
  for (const [key, value] of Object.entries(env)) if (key.toUpperCase() === upper && value?.trim()) return value.trim();
  return undefined;
}

function pick(env: Env, id: string, secret: string, tenant: string): { clientId?: string; clientSecret?: string; tenantId?: string } {
  return defined({ clientId: get(env, id), clientSecret: get(env, secret), tenantId: get(env, tenant) });
}

/** `Connections__<name>__Settings__ClientId` and friends: the first connection that has any. */
function connectionSettings(env: Env): { clientId?: string; clientSecret?: string; tenantId?: string } {
  const byName = new Map<string, Record<string, string>>();
  for (const [key, value] of Object.entries(env)) {
    const match = /^connections__([^_]+(?:_[^_]+)*)__settings__(clientid|clientsecret|tenantid)$/i.exec(key);
    if (!match || !value?.trim()) continue;
    const settings = byName.get(match[1]!.toLowerCase()) ?? {};
    settings[match[2]!.toLowerCase()] = value.trim();
    byName.set(match[1]!.toLowerCase(), settings);
  }
  const first = byName.get('serviceconnection') ?? [...byName.values()][0];
  if (!first) return {};
  return defined({ clientId: first.clientid, clientSecret: first.clientsecret, tenantId: first.tenantid });
}

function defined<T extends Record<string, string | undefined>>(values: T): { [K in keyof T]?: string } {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined)) as { [K in keyof T]?: string };
}
