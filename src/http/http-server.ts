import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../ports/logger.ts';

export type Handler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

/**
 * The bot's one HTTP server: health now; the Slack and Teams adapters mount their endpoints
 * on it, so a deployment opens exactly one port.
 */
export class HttpServer {
  private readonly routes = new Map<string, Handler>();
  private readonly server: Server;

  constructor(private readonly log: Logger) {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.mount('GET', '/healthz', (_req, res) => json(res, 200, { status: 'ok' }));
  }

  mount(method: string, path: string, handler: Handler): void {
    this.routes.set(`${method} ${path}`, handler);
  }

  async listen(host: string, port: number): Promise<AddressInfo> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    return this.server.address() as AddressInfo;
  }

  async close(): Promise<void> {
    if (!this.server.listening) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    const handler = this.routes.get(`${req.method} ${path}`);
    if (!handler) {
      const known = [...this.routes.keys()].some((r) => r.endsWith(` ${path}`));
      return json(res, known ? 405 : 404, { error: known ? 'method not allowed' : 'not found' });
    }
    try {
      await handler(req, res);
    } catch (error) {
      this.log.error({ err: error, path }, 'HTTP handler failed');
      if (!res.headersSent) json(res, 500, { error: 'internal error' });
    }
  }
}

export function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
