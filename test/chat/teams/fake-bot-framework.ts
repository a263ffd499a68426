/**
 * Stand-ins for the Bot Framework's token signing, for forging tokens the way an attacker would
 * test them: the test's own RSA key pair plays the key Microsoft signs with, published on a
 * local OpenID metadata + JWKS server on 127.0.0.1 that counts every fetch. Tokens are signed
 * RS256 with it; `trustInSdk` makes the Agents SDK's own key look-ups find the same key, so a
 * token is refused only if the bot itself refuses it, not because the SDK cannot reach Microsoft.
 */
import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { buildJwksUri, ConnectionManager, type AuthProvider, type CloudAdapter } from '@microsoft/agents-hosting';

export const BOT_FRAMEWORK_ISSUER = 'https://api.botframework.com';
export const KID = 'test-signing-key';

export class FakeBotFramework {
  /** Fetches by tag (each adapter gets its own tag, so tests running at once are counted apart). */
  private readonly fetches = new Map<string, { metadata: number; keys: number }>();
  private port = 0;
  private readonly privateKey: KeyObject;
  private readonly jwk: Record<string, unknown>;

  private constructor(private readonly server: Server) {
    const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
    this.privateKey = pair.privateKey;
    this.jwk = { ...pair.publicKey.export({ format: 'jwk' }), kid: KID, use: 'sig', endorsements: ['msteams'] };
  }

  static async start(): Promise<FakeBotFramework> {
    const server = createServer();
    const fake = new FakeBotFramework(server);
    server.on('request', (req, res) => {
      const match = /^\/([^/]+)\/v1\/\.well-known\/(openidconfiguration|keys)$/.exec(req.url ?? '');
      if (!match) return void res.writeHead(404).end();
      const counts = fake.countsOf(match[1]!);
      const body = match[2] === 'keys' ? (counts.keys++, { keys: [fake.jwk] }) : (counts.metadata++, { issuer: BOT_FRAMEWORK_ISSUER, jwks_uri: fake.keysUrl(match[1]!) });
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    fake.port = (server.address() as AddressInfo).port;
    return fake;
  }

  metadataUrl(tag: string): string {
    return `http://127.0.0.1:${this.port}/${tag}/v1/.well-known/openidconfiguration`;
  }

  keysUrl(tag: string): string {
    return `http://127.0.0.1:${this.port}/${tag}/v1/.well-known/keys`;
  }

  countsOf(tag: string): { metadata: number; keys: number } {
    let counts = this.fetches.get(tag);
    if (!counts) this.fetches.set(tag, (counts = { metadata: 0, keys: 0 }));
    return counts;
  }

  /** A JWT signed RS256 with the test's key; `kid` names the key in its header. */
  token(claims: Record<string, unknown>, kid = KID): string {
    const segment = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const signed = `${segment({ alg: 'RS256', typ: 'JWT', kid })}.${segment(claims)}`;
    return `${signed}.${sign('RSA-SHA256', Buffer.from(signed), this.privateKey).toString('base64url')}`;
  }

  /**
   * Makes the Agents SDK's JWT middleware find the test's key under the Bot Framework's key set
   * and the tenant's Entra key set: as if Microsoft had signed these tokens, which for an Entra
   * token is what any principal of the tenant can get. Reaches into the SDK's cached key clients.
   */
  trustInSdk(tenantId: string): void {
    const require = createRequire(import.meta.url);
    const middleware = require(join(dirname(require.resolve('@microsoft/agents-hosting')), 'auth', 'jwt-middleware.js')) as { getJwksClient?: (uri: string) => { options: { jwksUri: string } } };
    if (typeof middleware.getJwksClient !== 'function') throw new Error('the Agents SDK no longer has getJwksClient: update FakeBotFramework.trustInSdk');
    for (const issuer of [BOT_FRAMEWORK_ISSUER, `https://sts.windows.net/${tenantId}/`]) {
      const uri = buildJwksUri(issuer, { tenantId, authorityEndpoint: 'https://login.microsoftonline.com' });
      middleware.getJwksClient(uri).options.jwksUri = this.keysUrl('sdk');
    }
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** Key ids as a forger would make them up: distinct, and the same on every run. */
export function madeUpKids(count: number, seed = 'flood'): string[] {
  return Array.from({ length: count }, (_, i) => createHash('sha256').update(`${seed}-${i}`).digest('base64url').slice(0, 27));
}

/**
 * Gives the adapter's SDK a stand-in for Entra that hands out the bot's own Bot Connector
 * token: the real one needs the internet. Counts the tokens asked for.
 */
export function fakeEntra(adapter: CloudAdapter, token = 'bot-connector-token-for-the-bot'): { requested: string[] } {
  const requested: string[] = [];
  const provider = {
    connectionSettings: {},
    getAccessToken: async (scopeOrConfig: unknown, scope?: string) => (requested.push(String(scope ?? scopeOrConfig)), token),
  } as unknown as AuthProvider;
  adapter.connectionManager = new ConnectionManager(() => provider, new Map([['ServiceConnection', {}]]), [{ serviceUrl: '*', connection: 'ServiceConnection' }]);
  return { requested };
}
