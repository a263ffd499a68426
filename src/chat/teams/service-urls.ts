import { isLoopbackHost } from './teams-auth.ts';

/**
 * Which Bot Framework cloud calls the bot: the issuer of the Bot Connector's tokens, where its
 * signing keys are published, and the hosts of the service URLs its activities name.
 */
export type TeamsCloud = 'public' | 'gov';

export interface CloudEndpoints {
  /** The `iss` of tokens the Bot Connector sends with each activity. */
  issuer: string;
  /** The scope of the bot's own tokens for calling the Bot Connector. */
  scope: string;
  /** OpenID metadata whose `jwks_uri` lists the Bot Connector's signing keys. */
  openIdMetadataUrl: string;
  /** Host patterns of the Bot Connector service URLs in this cloud. */
  serviceHosts: readonly string[];
}

export const CLOUDS: Readonly<Record<TeamsCloud, CloudEndpoints>> = {
  public: {
    issuer: 'https://api.botframework.com',
    scope: 'https://api.botframework.com',
    openIdMetadataUrl: 'https://login.botframework.com/v1/.well-known/openidconfiguration',
    // Teams' regional service URLs are paths on smba.trafficmanager.net (/amer/, /emea/, /apac/, /teams/ …).
    serviceHosts: ['smba.trafficmanager.net', '*.botframework.com'],
  },
  gov: {
    issuer: 'https://api.botframework.us',
    scope: 'https://api.botframework.us',
    openIdMetadataUrl: 'https://login.botframework.azure.us/v1/.well-known/openidconfiguration',
    serviceHosts: ['*.botframework.us', 'smba.infra.gcc.teams.microsoft.com', 'smba.infra.gov.teams.microsoft.us', 'smba.infra.dod.teams.microsoft.us'],
  },
};

/** `host.example`, `*.example` (any subdomain), or an IP address; lower case. */
export const HOST_PATTERN = /^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/;

/**
 * The service URLs the bot may send to (member look-ups, replies, proactive messages), and so
 * the only ones it accepts activities from: the Bot Connector's bearer token goes with every call,
 * so a URL off this list would hand it to whoever runs that server.
 */
export class ServiceUrlPolicy {
  private readonly exact = new Set<string>();
  private readonly suffixes: string[] = [];

  /** `hosts`: patterns as in HOST_PATTERN; undefined: any loopback URL and nothing else (anonymous local mode). */
  constructor(readonly hosts: readonly string[] | undefined) {
    for (const raw of hosts ?? []) {
      const host = raw.trim().toLowerCase();
      if (!HOST_PATTERN.test(host)) throw new Error(`"${raw}" is not a host pattern (expected e.g. smba.trafficmanager.net or *.botframework.com)`);
      if (host.startsWith('*.')) this.suffixes.push(host.slice(1));
      else this.exact.add(host);
    }
  }

  /** Undefined when `url` may be used; otherwise why not, in words for the log. */
  refusal(url: string | undefined): string | undefined {
    if (!url) return 'no serviceUrl';
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return 'the serviceUrl is not a URL';
    }
    const host = parsed.hostname.toLowerCase().replace(/^\[(.*)\]$/, '$1');
    const loopback = isLoopbackHost(host);
    // Plain HTTP only to this machine: elsewhere the token would cross the network in clear.
    if (parsed.protocol !== 'https:' && !(parsed.protocol === 'http:' && loopback)) return `the serviceUrl's scheme ${parsed.protocol} is not https`;
    if (parsed.username || parsed.password) return 'the serviceUrl carries credentials';
    if (this.hosts === undefined) return loopback ? undefined : `${host} is not a loopback address (anonymous local mode)`;
    if (this.exact.has(host) || this.suffixes.some((suffix) => host.endsWith(suffix))) return undefined;
    return `${host} is not on the allowed service hosts (teams.serviceUrls)`;
  }

  allows(url: string | undefined): boolean {
    return this.refusal(url) === undefined;
  }
}
