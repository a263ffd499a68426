/**
 * Outbound HTTP proxies, as a facility firewall often needs them: HTTPS_PROXY, HTTP_PROXY and
 * NO_PROXY (or their lower-case forms, which win, as curl and undici read them). Read once in the
 * composition root; each client is handed what it understands:
 *
 * - fetch-based clients (the Slack Web API, the Bot Framework key set) get `fetch`, bound to the
 *   proxy-aware undici dispatcher;
 * - Socket Mode's WebSocket gets the `dispatcher` itself;
 * - got (OpenStack) gets Node agents per URL from `nodeAgentsFor`;
 * - the Microsoft 365 Agents SDK calls the global `fetch` and takes no agent, so `installGlobal`
 *   makes the dispatcher the process's default (Teams connector and Entra token requests).
 *
 * NO_PROXY holds host names (`example.org` also covers its subdomains; a leading `.` or `*.` is
 * the same), optionally with `:port`, or `*` for every host. No CIDR ranges: an address is matched
 * as written.
 */
import type { Agent as NodeAgent } from 'node:http';
import type { Agent as NodeHttpsAgent } from 'node:https';
import { HttpProxyAgent } from 'http-proxy-agent';
import { HttpsProxyAgent } from 'https-proxy-agent';
import { EnvHttpProxyAgent, fetch as undiciFetch, setGlobalDispatcher, type Dispatcher } from 'undici';

export interface ProxySettings {
  /** The proxy for http:// URLs. */
  httpProxy?: string;
  /** The proxy for https:// URLs; HTTP_PROXY when unset. */
  httpsProxy?: string;
  /** NO_PROXY as given, empty when unset. */
  noProxy: string;
}

type Env = Readonly<Record<string, string | undefined>>;

/** Lower-case first, as curl and undici read them. */
function read(env: Env, name: string): string | undefined {
  const value = env[name.toLowerCase()] ?? env[name.toUpperCase()];
  return value?.trim() ? value.trim() : undefined;
}

/**
 * The proxy settings in the environment, undefined when no proxy is set (every call then goes
 * direct, as before). Throws naming the variable when a proxy is not an http(s) URL.
 */
export function proxySettingsFromEnv(env: Env): ProxySettings | undefined {
  const httpProxy = read(env, 'http_proxy');
  const httpsProxy = read(env, 'https_proxy');
  if (!httpProxy && !httpsProxy) return undefined;
  for (const [name, value] of [['HTTP_PROXY', httpProxy], ['HTTPS_PROXY', httpsProxy]] as const) {
    if (value === undefined) continue;
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw new Error(`${name} is not a URL: write it as http://proxy.example.org:3128`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`${name} must be an http:// or https:// URL, such as http://proxy.example.org:3128, not ${JSON.stringify(value)}`);
  }
  return { ...(httpProxy ? { httpProxy } : {}), ...(httpsProxy ? { httpsProxy } : {}), noProxy: read(env, 'no_proxy') ?? '' };
}

/** The proxy a request to `url` goes through, or undefined when it goes direct. The same rules undici applies. */
export function proxyFor(settings: ProxySettings, url: string | URL): string | undefined {
  const target = typeof url === 'string' ? new URL(url) : url;
  const proxy = target.protocol === 'https:' || target.protocol === 'wss:' ? (settings.httpsProxy ?? settings.httpProxy) : settings.httpProxy;
  if (!proxy) return undefined;
  return exempt(settings.noProxy, target) ? undefined : proxy;
}

function exempt(noProxy: string, target: URL): boolean {
  if (noProxy.trim() === '*') return true;
  const hostname = target.hostname.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  const secure = target.protocol === 'https:' || target.protocol === 'wss:';
  const port = Number(target.port || (secure ? 443 : 80));
  for (const raw of noProxy.split(/[,\s]/)) {
    if (!raw) continue;
    const parsed = /^(.+):(\d+)$/.exec(raw);
    const host = (parsed ? parsed[1]! : raw).replace(/^\*?\./, '').toLowerCase().replace(/^\[(.*)\]$/, '$1');
    if (parsed && Number(parsed[2]) !== port) continue;
    if (hostname === host || hostname.endsWith(`.${host}`)) return true;
  }
  return false;
}

/** The proxy's URL without its credentials, for the log. */
export function describeProxy(proxy: string): string {
  const url = new URL(proxy);
  url.username = '';
  url.password = '';
  return url.href.replace(/\/$/, '');
}

/** Node agents for got, by scheme, as got's `agent` option takes them. */
export interface NodeAgents {
  http?: NodeAgent;
  https?: NodeHttpsAgent;
}

/** The outbound proxy, as each kind of client takes it. */
export class OutboundProxy {
  /** The undici dispatcher: proxies what NO_PROXY does not exempt. */
  readonly dispatcher: Dispatcher;
  /** `fetch` through `dispatcher`. */
  readonly fetch: typeof globalThis.fetch;
  private readonly agents = new Map<string, NodeAgents>();

  constructor(readonly settings: ProxySettings) {
    this.dispatcher = new EnvHttpProxyAgent({
      // Explicit values, so the environment is read once, here, and never again behind our back.
      httpProxy: settings.httpProxy ?? '',
      httpsProxy: settings.httpsProxy ?? settings.httpProxy ?? '',
      noProxy: settings.noProxy,
    });
    const dispatcher = this.dispatcher;
    this.fetch = ((input: Parameters<typeof undiciFetch>[0], init?: Parameters<typeof undiciFetch>[1]) =>
      undiciFetch(input, { ...init, dispatcher })) as unknown as typeof globalThis.fetch;
  }

  /** Got's agents for a request to `url`; undefined when it goes direct (got's own agents then). */
  nodeAgentsFor(url: string | URL): NodeAgents | undefined {
    const proxy = proxyFor(this.settings, url);
    if (!proxy) return undefined;
    let agents = this.agents.get(proxy);
    if (!agents) {
      // The https agent tunnels (CONNECT) and then speaks TLS itself, as an https.Agent would.
      agents = { http: new HttpProxyAgent(proxy, { keepAlive: true }), https: new HttpsProxyAgent(proxy, { keepAlive: true }) as unknown as NodeHttpsAgent };
      this.agents.set(proxy, agents);
    }
    return agents;
  }

  /**
   * Makes the dispatcher the default of the process's global `fetch`: for the clients that take
   * no agent (the Microsoft 365 Agents SDK, for the Teams connector and Entra tokens).
   */
  installGlobal(): void {
    setGlobalDispatcher(this.dispatcher);
  }

  /** What the log says at start-up: which proxies, and what is exempt. */
  describe(): { httpProxy?: string; httpsProxy?: string; noProxy: string } {
    const { httpProxy, httpsProxy, noProxy } = this.settings;
    return { ...(httpProxy ? { httpProxy: describeProxy(httpProxy) } : {}), ...(httpsProxy ? { httpsProxy: describeProxy(httpsProxy) } : {}), noProxy };
  }

  async close(): Promise<void> {
    for (const agents of this.agents.values()) {
      agents.http?.destroy();
      agents.https?.destroy();
    }
    await this.dispatcher.close().catch(() => {});
  }
}

/** The outbound proxy the environment sets, or undefined (every call goes direct). */
export function outboundProxyFromEnv(env: Env): OutboundProxy | undefined {
  const settings = proxySettingsFromEnv(env);
  return settings ? new OutboundProxy(settings) : undefined;
}
