/**
 * One authenticated conversation with an OpenStack cloud: a Keystone v3 token (issued, cached,
 * renewed before it expires and once on a 401), the service catalog, and requests that retry
 * the way a cloud's bad days need — without ever repeating a request that may have done
 * something. Built on got. The token and the password never reach a log line or an error.
 */
import { readFileSync } from 'node:fs';
import type { Agent } from 'node:http';
import type { Agent as HttpsAgent } from 'node:https';
import got, { RequestError, type Got, type Method, type Response } from 'got';
import type { Clock } from '../../ports/clock.ts';
import { CloudError } from '../../ports/cloud.ts';
import type { Logger } from '../../ports/logger.ts';
import type { OpenStackAuth, OpenStackSettings } from './os-config.ts';

export interface SessionOptions {
  settings: OpenStackSettings;
  clock: Clock;
  log: Logger;
  /** Per attempt. */
  timeoutMs?: number;
  /** Attempts for a request that may be repeated (GET, DELETE), the first included. */
  attempts?: number;
  /** First back-off; doubles each time, with jitter. */
  backoffMs?: number;
  /** The longest Retry-After the bot waits for; a longer one fails the call (the next tick retries). */
  maxRetryAfterMs?: number;
  /** Renew the token when less than this is left of it. */
  renewBeforeMs?: number;
  random?: () => number;
  /** Node agents for a URL when it goes through the outbound proxy (HTTPS_PROXY/NO_PROXY); undefined: direct. */
  agentsFor?: (url: string) => { http?: Agent; https?: HttpsAgent } | undefined;
}

export interface RequestOptions {
  /** What the bot was doing, for errors and logs: "list servers", "boot". */
  operation: string;
  method?: Method;
  json?: unknown;
  searchParams?: Record<string, string | number>;
  headers?: Record<string, string>;
  /** Statuses that are answers, not errors (e.g. 404 for a delete). */
  accept?: number[];
  /** A POST that changes nothing (issuing a token), so it may be repeated like a GET. */
  idempotent?: boolean;
}

interface Token {
  value: string;
  expiresAt: number;
  projectId: string | null;
  catalog: CatalogEntry[];
}

interface CatalogEntry {
  type: string;
  endpoints: { interface: string; region_id?: string; region?: string; url: string }[];
}

/** Idempotent methods: repeating one after a reset or a 5xx cannot do anything twice. */
const REPEATABLE = new Set<Method>(['GET', 'HEAD', 'DELETE']);
/** Network errors after which the request may or may not have reached the cloud. */
const NETWORK_ERRORS = new Set(['ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ECONNREFUSED', 'EAI_AGAIN', 'ENOTFOUND', 'ENETUNREACH', 'EHOSTUNREACH', 'ECONNABORTED']);

export class OpenStackSession {
  private readonly http: Got;
  private token: Token | null = null;
  private issuing: Promise<Token> | null = null;
  private readonly timeoutMs: number;
  private readonly attempts: number;
  private readonly backoffMs: number;
  private readonly maxRetryAfterMs: number;
  private readonly renewBeforeMs: number;
  private readonly random: () => number;
  /** Requests sent, by operation: the figure "API calls per tick" comes from here. */
  readonly calls = new Map<string, number>();

  constructor(private readonly options: SessionOptions) {
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.attempts = options.attempts ?? 4;
    this.backoffMs = options.backoffMs ?? 500;
    this.maxRetryAfterMs = options.maxRetryAfterMs ?? 60_000;
    this.renewBeforeMs = options.renewBeforeMs ?? 300_000;
    this.random = options.random ?? Math.random;
    const { caBundle, verifyTls } = options.settings;
    this.http = got.extend({
      retry: { limit: 0 }, // retries are decided below, per method and status
      throwHttpErrors: false,
      followRedirect: false,
      timeout: { request: this.timeoutMs },
      headers: { 'user-agent': 'daaas-bot', accept: 'application/json' },
      https: { rejectUnauthorized: verifyTls, ...(caBundle ? { certificateAuthority: readFileSync(caBundle) } : {}) },
    });
  }

  get projectId(): string | null {
    return this.token?.projectId ?? null;
  }

  /** The URL of a service from the catalog, for this cloud's region and interface. */
  async endpoint(type: string): Promise<string> {
    const token = await this.currentToken();
    return endpointOf(token.catalog, type, this.options.settings);
  }

  /** Drops the cached token, so the next request authenticates again. */
  invalidate(): void {
    this.token = null;
  }

  /**
   * A request to `service` (a catalog type, such as compute) at `path`. Answers the parsed JSON
   * body (null when empty) and the status; anything not 2xx and not accepted is a CloudError.
   */
  async request<T>(service: string, path: string, options: RequestOptions): Promise<{ status: number; body: T | null }> {
    let renewed = false;
    for (;;) {
      const base = await this.endpoint(service);
      const token = this.token!;
      const response = await this.send(`${base.replace(/\/+$/, '')}${path}`, options, { 'x-auth-token': token.value });
      if (response.statusCode === 401 && !renewed) {
        // The token was revoked or expired early (a Keystone restart, a rotated key): once.
        this.options.log.info({ operation: options.operation }, 'token refused by the cloud; authenticating again');
        if (this.token === token) this.token = null;
        renewed = true;
        continue;
      }
      if (response.statusCode === 401) throw toCloudError(options.operation, base, response, undefined);
      return { status: response.statusCode, body: parseBody<T>(response) };
    }
  }

  private async currentToken(): Promise<Token> {
    if (this.token && this.token.expiresAt - this.options.clock.now() > this.renewBeforeMs) return this.token;
    this.issuing ??= this.issue().finally(() => (this.issuing = null));
    this.token = await this.issuing;
    return this.token;
  }

  private async issue(): Promise<Token> {
    const response = await this.send(`${this.options.settings.authUrl}/auth/tokens`, { operation: 'authenticate', method: 'POST', idempotent: true, json: authBody(this.options.settings.auth) }, {});
    if (response.statusCode >= 400) {
      const refused = toCloudError('authenticate', this.options.settings.authUrl, response, undefined);
      throw new CloudError(`${refused.message} (credentials from ${this.options.settings.source})`, 'authenticate', refused.status, refused.requestId);
    }
    const value = response.headers['x-subject-token'];
    const body = parseBody<{ token?: { expires_at?: string; project?: { id?: string }; catalog?: CatalogEntry[] } }>(response);
    if (typeof value !== 'string' || !body?.token) throw new CloudError('authenticate: Keystone answered without a token', 'authenticate', response.statusCode, requestIdOf(response));
    const expiresAt = body.token.expires_at ? Date.parse(body.token.expires_at) : Number.NaN;
    this.options.log.info({ project: body.token.project?.id, expiresAt: body.token.expires_at }, 'authenticated with Keystone');
    return {
      value,
      expiresAt: Number.isFinite(expiresAt) ? expiresAt : this.options.clock.now() + 3_600_000,
      projectId: body.token.project?.id ?? null,
      catalog: body.token.catalog ?? [],
    };
  }

  /** One request with its retries; answers the last response, or throws a CloudError. */
  private async send(url: string, options: RequestOptions, auth: Record<string, string>): Promise<Response<string>> {
    const method = options.method ?? 'GET';
    const path = new URL(url).pathname;
    for (let attempt = 1; ; attempt++) {
      const started = this.options.clock.now();
      this.calls.set(options.operation, (this.calls.get(options.operation) ?? 0) + 1);
      let response: Response<string> | undefined;
      let failure: RequestError | undefined;
      try {
        const agent = this.options.agentsFor?.(url);
        response = await this.http(url, {
          method,
          ...(agent ? { agent } : {}),
          headers: { ...options.headers, ...auth },
          ...(options.json !== undefined ? { json: options.json } : {}),
          ...(options.searchParams ? { searchParams: options.searchParams } : {}),
        });
      } catch (error) {
        if (!(error instanceof RequestError)) throw error;
        failure = error;
      }
      const status = response?.statusCode ?? null;
      const requestId = response ? requestIdOf(response) : null;
      this.options.log.debug({ operation: options.operation, method, path, status, requestId, attempt, ms: this.options.clock.now() - started, error: failure?.code }, 'cloud call');

      if (response && (status! < 400 || options.accept?.includes(status!) || status === 401)) return response;
      const wait = this.retryDelay(options.idempotent ? 'GET' : method, status, failure, response, attempt);
      if (wait === null) throw toCloudError(options.operation, url, response, failure);
      this.options.log.warn({ operation: options.operation, method, path, status, error: failure?.code, requestId, attempt, retryInMs: wait }, 'cloud call failed; trying again');
      await this.options.clock.sleep(wait);
    }
  }

  /** How long to wait before the next attempt, or null when this failure is final. */
  private retryDelay(method: Method, status: number | null, failure: RequestError | undefined, response: Response<string> | undefined, attempt: number): number | null {
    if (attempt >= this.attempts) return null;
    // 429, and 413 with Retry-After (Nova's rate limit): refused before anything was done, so
    // even a POST may be sent again, after the time the cloud asked for.
    const retryAfter = response ? retryAfterMs(response, this.options.clock.now()) : null;
    if (status === 429 || (status === 413 && retryAfter !== null)) {
      const wait = retryAfter ?? this.backoff(attempt);
      return wait <= this.maxRetryAfterMs ? wait : null;
    }
    // The connection was refused: the request never reached the cloud, any method may go again.
    if (failure?.code === 'ECONNREFUSED') return this.backoff(attempt);
    // Otherwise a POST may have created something: never repeated blindly.
    if (!REPEATABLE.has(method)) return null;
    if ((status !== null && status >= 500) || (failure && (NETWORK_ERRORS.has(failure.code) || failure.name === 'TimeoutError'))) return this.backoff(attempt);
    return null;
  }

  private backoff(attempt: number): number {
    const ceiling = this.backoffMs * 2 ** (attempt - 1);
    return Math.round(ceiling / 2 + (this.random() * ceiling) / 2);
  }
}

function authBody(auth: OpenStackAuth): unknown {
  const domain = (d: { name?: string; id?: string }) => (d.id ? { id: d.id } : { name: d.name });
  const user = (a: { username?: string; userId?: string; userDomain: { name?: string; id?: string } }) =>
    a.userId ? { id: a.userId } : { name: a.username, domain: domain(a.userDomain) };
  if (auth.kind === 'application_credential') {
    const credential = auth.id ? { id: auth.id, secret: auth.secret } : { name: auth.name, secret: auth.secret, user: user(auth) };
    // An application credential carries its own project scope.
    return { auth: { identity: { methods: ['application_credential'], application_credential: credential } } };
  }
  const project = auth.project.id ? { id: auth.project.id } : { name: auth.project.name, domain: domain(auth.projectDomain) };
  return {
    auth: {
      identity: { methods: ['password'], password: { user: { ...user(auth), password: auth.password } } },
      scope: { project },
    },
  };
}

function endpointOf(catalog: CatalogEntry[], type: string, settings: OpenStackSettings): string {
  const service = catalog.find((entry) => entry.type === type);
  if (!service) {
    throw new CloudError(`the cloud's service catalog has no ${type} service (it has: ${catalog.map((c) => c.type).join(', ') || 'nothing'})`, 'catalog', null);
  }
  const matches = service.endpoints.filter((e) => e.interface === settings.interface && (!settings.region || e.region_id === settings.region || e.region === settings.region));
  const endpoint = matches[0];
  if (!endpoint) {
    const regions = [...new Set(service.endpoints.map((e) => e.region_id ?? e.region))].join(', ');
    throw new CloudError(`the ${type} service has no ${settings.interface} endpoint${settings.region ? ` in region ${settings.region}` : ''} (regions: ${regions || 'none'})`, 'catalog', null);
  }
  return endpoint.url;
}

function parseBody<T>(response: Response<string>): T | null {
  if (!response.body) return null;
  try {
    return JSON.parse(response.body) as T;
  } catch {
    return null;
  }
}

function requestIdOf(response: Response<string>): string | null {
  const id = response.headers['x-openstack-request-id'] ?? response.headers['x-compute-request-id'];
  return typeof id === 'string' ? id : null;
}

function retryAfterMs(response: Response<string>, now: number): number | null {
  const header = response.headers['retry-after'];
  if (!header) return null;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(header);
  return Number.isFinite(at) ? Math.max(0, at - now) : null;
}

/**
 * The cloud's own words where it gave any — Nova wraps them as {"badRequest": {message}},
 * Keystone as {"error": {message}}, Neutron as {"NeutronError": {message}} — with the status
 * and request id, so an admin can quote it to the cloud's operators. Never the request itself:
 * its headers hold the token.
 */
function toCloudError(operation: string, url: string, response: Response<string> | undefined, failure: RequestError | undefined): CloudError {
  const host = new URL(url).host;
  if (!response) {
    const what = failure?.name === 'TimeoutError' ? 'did not answer in time' : `could not be reached (${failure?.code ?? failure?.message ?? 'network error'})`;
    return new CloudError(`${operation}: the cloud at ${host} ${what}`, operation, null);
  }
  const said = cloudMessage(response);
  return new CloudError(
    `${operation}: the cloud answered ${response.statusCode}${said ? `: ${said}` : ''}`,
    operation,
    response.statusCode,
    requestIdOf(response),
  );
}

export function cloudMessage(response: Response<string>): string {
  const body = parseBody<unknown>(response);
  if (typeof body === 'object' && body !== null) {
    const record = body as Record<string, unknown>;
    for (const value of [record.error, ...Object.values(record)]) {
      if (typeof value === 'object' && value !== null && typeof (value as { message?: unknown }).message === 'string') return (value as { message: string }).message;
    }
    if (typeof record.message === 'string') return record.message;
  }
  // Glance and proxies answer in HTML or plain text.
  return (response.body ?? '').replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 300);
}
