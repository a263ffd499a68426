/**
 * Where the OpenStack credentials come from, the way OpenStack users already keep them:
 * `clouds.yaml` (with `secure.yaml` beside it) chosen by `OS_CLOUD`, or the `OS_*` variables
 * an openrc file exports. The search path is the openstack CLI's: the current directory,
 * ~/.config/openstack, /etc/openstack (first file found wins), or OS_CLIENT_CONFIG_FILE.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';

export type Interface = 'public' | 'internal' | 'admin';

export type OpenStackAuth =
  | {
      kind: 'password';
      username?: string;
      userId?: string;
      password: string;
      userDomain: { name?: string; id?: string };
      project: { name?: string; id?: string };
      projectDomain: { name?: string; id?: string };
    }
  | { kind: 'application_credential'; id?: string; name?: string; secret: string; username?: string; userId?: string; userDomain: { name?: string; id?: string } };

export interface OpenStackSettings {
  /** Where the settings came from, for messages: "clouds.yaml entry x (path)" or "OS_* variables". */
  source: string;
  authUrl: string;
  auth: OpenStackAuth;
  region: string | null;
  interface: Interface;
  /** PEM bundle to trust instead of the system's, for clouds behind a facility CA. */
  caBundle: string | null;
  verifyTls: boolean;
}

export class OpenStackConfigError extends Error {
  override readonly name = 'OpenStackConfigError';
}

type Env = Readonly<Record<string, string | undefined>>;
type Loose = Record<string, unknown>;

/** Every place the CLI looks for `file`, in its order. */
export function searchPath(file: string, cwd: string, home: string): string[] {
  return [join(cwd, file), join(home, '.config', 'openstack', file), join('/etc', 'openstack', file)];
}

export interface ResolveOptions {
  /** A clouds.yaml entry named in the bot's configuration; OS_CLOUD otherwise. */
  cloud?: string;
  cwd?: string;
  home?: string;
}

/** Reads the settings from clouds.yaml when a cloud is named, else from the OS_* variables. */
export function resolveOpenStack(env: Env, options: ResolveOptions = {}): OpenStackSettings {
  const cloud = options.cloud ?? env.OS_CLOUD;
  if (cloud) return fromCloudsYaml(cloud, env, options.cwd ?? process.cwd(), options.home ?? homedir());
  if (env.OS_AUTH_URL) return fromEnv(env);
  throw new OpenStackConfigError(
    'no OpenStack cloud is configured: set OS_CLOUD to an entry of clouds.yaml, or source an openrc file that exports OS_AUTH_URL, OS_USERNAME, OS_PASSWORD, OS_PROJECT_NAME …',
  );
}

/** True when the environment names a cloud, so the real-cloud tests have something to run against. */
export function cloudConfigured(env: Env): boolean {
  return Boolean(env.OS_CLOUD || env.OS_AUTH_URL);
}

function fromEnv(env: Env): OpenStackSettings {
  const value = (key: string) => (env[`OS_${key}`] ? String(env[`OS_${key}`]) : undefined);
  const flat: Loose = {
    auth_type: value('AUTH_TYPE'),
    region_name: value('REGION_NAME'),
    interface: value('INTERFACE') ?? value('ENDPOINT_TYPE'),
    cacert: value('CACERT'),
    insecure: value('INSECURE'),
    auth: {
      auth_url: value('AUTH_URL'),
      username: value('USERNAME'),
      user_id: value('USER_ID'),
      password: value('PASSWORD'),
      project_name: value('PROJECT_NAME') ?? value('TENANT_NAME'),
      project_id: value('PROJECT_ID') ?? value('TENANT_ID'),
      user_domain_name: value('USER_DOMAIN_NAME'),
      user_domain_id: value('USER_DOMAIN_ID'),
      project_domain_name: value('PROJECT_DOMAIN_NAME'),
      project_domain_id: value('PROJECT_DOMAIN_ID'),
      domain_name: value('DOMAIN_NAME'),
      domain_id: value('DOMAIN_ID'),
      application_credential_id: value('APPLICATION_CREDENTIAL_ID'),
      application_credential_name: value('APPLICATION_CREDENTIAL_NAME'),
      application_credential_secret: value('APPLICATION_CREDENTIAL_SECRET'),
    },
  };
  return settingsFrom(flat, 'the OS_* variables', 'OS_');
}

function fromCloudsYaml(name: string, env: Env, cwd: string, home: string): OpenStackSettings {
  const cloudsFile = env.OS_CLIENT_CONFIG_FILE ? [resolve(env.OS_CLIENT_CONFIG_FILE)] : searchPath('clouds.yaml', cwd, home);
  const found = cloudsFile.find((path) => existsSync(path));
  if (!found) throw new OpenStackConfigError(`OS_CLOUD is "${name}" but no clouds.yaml was found (looked in ${cloudsFile.join(', ')})`);
  const clouds = readClouds(found);
  const entry = clouds[name];
  if (!entry) {
    const known = Object.keys(clouds);
    throw new OpenStackConfigError(`${found} has no cloud "${name}"${known.length ? ` (it has: ${known.join(', ')})` : ''}`);
  }
  // secure.yaml keeps the passwords apart from the shareable clouds.yaml; its values win.
  const secureFile = env.OS_CLIENT_SECURE_FILE ? [resolve(env.OS_CLIENT_SECURE_FILE)] : searchPath('secure.yaml', cwd, home);
  const secure = secureFile.find((path) => existsSync(path));
  const merged = secure ? deepMerge(entry, readClouds(secure)[name] ?? {}) : entry;
  return settingsFrom(merged, `clouds.yaml entry "${name}" (${found})`, '');
}

function readClouds(path: string): Record<string, Loose> {
  let doc: unknown;
  try {
    doc = parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new OpenStackConfigError(`${path} is not valid YAML: ${(error as Error).message}`);
  }
  const clouds = (doc as Loose | null)?.clouds;
  if (typeof clouds !== 'object' || clouds === null) throw new OpenStackConfigError(`${path} has no "clouds:" mapping`);
  return clouds as Record<string, Loose>;
}

function deepMerge(base: Loose, over: Loose): Loose {
  const out: Loose = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const prior = out[key];
    out[key] = isMapping(value) && isMapping(prior) ? deepMerge(prior, value) : value;
  }
  return out;
}

const isMapping = (value: unknown): value is Loose => typeof value === 'object' && value !== null && !Array.isArray(value);
const str = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : typeof value === 'number' ? String(value) : undefined);

/** `prefix` is "OS_" when the values came from the environment, so messages name the variable to set. */
function settingsFrom(raw: Loose, source: string, prefix: string): OpenStackSettings {
  const auth = isMapping(raw.auth) ? raw.auth : {};
  const key = (name: string) => (prefix ? `${prefix}${name.toUpperCase()}` : name === 'auth_url' || name in auth ? `auth.${name}` : name);
  const problems: string[] = [];
  const authUrl = str(auth.auth_url);
  if (!authUrl) problems.push(`${key('auth_url')} is missing`);

  const type = (str(raw.auth_type) ?? (str(auth.application_credential_secret) ? 'v3applicationcredential' : 'password')).toLowerCase();
  const userDomain = { name: str(auth.user_domain_name) ?? str(auth.domain_name), id: str(auth.user_domain_id) ?? str(auth.domain_id) };
  let credentials: OpenStackAuth | undefined;
  if (type === 'v3applicationcredential' || type === 'application_credential') {
    const secret = str(auth.application_credential_secret);
    const id = str(auth.application_credential_id);
    const name = str(auth.application_credential_name);
    if (!secret) problems.push(`${key('application_credential_secret')} is missing`);
    if (!id && !name) problems.push(`${key('application_credential_id')} (or a name with the user) is missing`);
    if (!id && name && !str(auth.username) && !str(auth.user_id)) problems.push(`an application credential given by name needs ${key('username')} or ${key('user_id')}`);
    credentials = { kind: 'application_credential', id, name, secret: secret ?? '', username: str(auth.username), userId: str(auth.user_id), userDomain };
  } else if (type === 'password' || type === 'v3password') {
    const password = str(auth.password);
    if (!password) problems.push(`${key('password')} is missing`);
    if (!str(auth.username) && !str(auth.user_id)) problems.push(`${key('username')} (or ${key('user_id')}) is missing`);
    const project = { name: str(auth.project_name), id: str(auth.project_id) };
    if (!project.name && !project.id) problems.push(`${key('project_name')} (or ${key('project_id')}) is missing: the bot needs a token scoped to its project`);
    if (str(auth.username) && !userDomain.name && !userDomain.id) problems.push(`${key('user_domain_name')} (or ${key('user_domain_id')}) is missing`);
    const projectDomain = { name: str(auth.project_domain_name) ?? str(auth.domain_name), id: str(auth.project_domain_id) ?? str(auth.domain_id) };
    if (project.name && !projectDomain.name && !projectDomain.id) problems.push(`${key('project_domain_name')} (or ${key('project_domain_id')}) is missing`);
    credentials = { kind: 'password', username: str(auth.username), userId: str(auth.user_id), password: password ?? '', userDomain, project, projectDomain };
  } else {
    problems.push(`${prefix ? 'OS_AUTH_TYPE' : 'auth_type'} "${type}" is not supported: use password or v3applicationcredential`);
  }

  const iface = (str(raw.interface) ?? 'public').replace(/URL$/, '');
  if (!['public', 'internal', 'admin'].includes(iface)) problems.push(`${prefix ? 'OS_INTERFACE' : 'interface'} "${iface}" is not public, internal or admin`);
  const caBundle = str(raw.cacert) ?? null;
  if (caBundle && !existsSync(caBundle)) problems.push(`${prefix ? 'OS_CACERT' : 'cacert'}: ${caBundle} does not exist`);
  const insecure = raw.verify === false || ['1', 'true', 'yes'].includes(String(raw.insecure ?? '').toLowerCase());

  if (problems.length || !credentials || !authUrl) throw new OpenStackConfigError(`OpenStack settings from ${source} are incomplete: ${problems.join('; ')}`);
  return {
    source,
    authUrl: authUrl.replace(/\/+$/, ''),
    auth: credentials,
    region: str(raw.region_name) ?? null,
    interface: iface as Interface,
    caBundle,
    verifyTls: !insecure,
  };
}
