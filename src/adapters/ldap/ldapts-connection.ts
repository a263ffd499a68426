/**
 * One bound connection to the directory, as the rest of the adapter sees it (a search, whether it
 * can be used again, close), and the one that speaks LDAP with ldapts: TLS always, the CA checked.
 */
import { isIP } from 'node:net';
import { Client, type Entry } from 'ldapts';
import { silentLogger, type Logger } from '../../ports/logger.ts';

export interface LdapSearch {
  base: string;
  scope: 'base' | 'one' | 'sub';
  filter: string;
  attributes: string[];
  sizeLimit?: number;
}

/** An entry with its attribute names in lower case and every value a string. */
export interface LdapEntry {
  dn: string;
  attributes: Record<string, string[]>;
}

/** One bound connection to the directory. */
export interface LdapConnection {
  search(request: LdapSearch): Promise<LdapEntry[]>;
  /** Still connected, so it can be used again. */
  readonly usable: boolean;
  close(): Promise<void>;
}

/** The first value of an attribute (any case of its name). */
export function firstValue(entry: LdapEntry, attribute: string): string | undefined {
  return entry.attributes[attribute.toLowerCase()]?.[0];
}

/** What opening a connection needs. */
export interface LdapConnectSettings {
  /** `ldap://host[:port]` (StartTLS is always used) or `ldaps://host[:port]`. */
  url: string;
  /** PEM of the CA(s) that signed the directory's certificate; the system's CAs when absent. */
  ca?: string;
  /** Without it the connection stays anonymous. */
  bindDn?: string;
  bindPassword?: string;
  /** For connecting, StartTLS, binding and each search. */
  timeoutMs: number;
  log?: Logger;
}

/** A bound ldapts client: TLS from the first byte (ldaps) or after StartTLS (ldap), the CA checked either way. */
export async function connectLdapts(o: LdapConnectSettings): Promise<LdapConnection> {
  const url = new URL(o.url);
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const tlsOptions = { ...(o.ca ? { ca: o.ca } : {}), host, ...(isIP(host) ? {} : { servername: host }), rejectUnauthorized: true };
  const client = new Client({ url: o.url, timeout: o.timeoutMs, connectTimeout: o.timeoutMs, ...(url.protocol === 'ldaps:' ? { tlsOptions } : {}) });
  try {
    // Credentials never travel in clear: ldap:// is upgraded before the bind.
    if (url.protocol === 'ldap:') await client.startTLS(tlsOptions);
    if (o.bindDn) await client.bind(o.bindDn, o.bindPassword ?? '');
  } catch (error) {
    void client.unbind().catch(() => {});
    throw error;
  }
  (o.log ?? silentLogger).debug({ url: o.url }, 'connected to the facility directory');
  return {
    get usable() {
      return client.isConnected;
    },
    async search(request) {
      const { searchEntries } = await client.search(request.base, {
        scope: request.scope,
        filter: request.filter,
        attributes: request.attributes,
        ...(request.sizeLimit ? { sizeLimit: request.sizeLimit } : {}),
      });
      return searchEntries.map(toEntry);
    },
    close: () => client.unbind(),
  };
}

function toEntry(entry: Entry): LdapEntry {
  const attributes: Record<string, string[]> = {};
  for (const [key, value] of Object.entries(entry)) {
    if (key === 'dn') continue;
    const values = Array.isArray(value) ? value : [value];
    attributes[key.toLowerCase()] = values.map((v) => (Buffer.isBuffer(v) ? v.toString('utf8') : String(v)));
  }
  return { dn: entry.dn, attributes };
}
