import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CloudAdapter, Request, TurnContext, WebResponse } from '@microsoft/agents-hosting';
import type { Handler } from '../../http/http-server.ts';
import type { Logger } from '../../ports/logger.ts';

export interface AgentRequestHandlerOptions {
  adapter: CloudAdapter;
  /** The bot's turn logic: runs once the request is authenticated. */
  logic: (context: TurnContext) => Promise<void>;
  log: Logger;
  /** Largest body accepted (Bot Framework activities are small). Default 1 MiB. */
  maxBodyBytes?: number;
  /**
   * Checked after authentication, before the turn: a reason to refuse the activity with 400,
   * or undefined to go on.
   */
  refuse?: (activity: Record<string, unknown>) => string | undefined;
  /** False while the bot is stopping: requests get 503 and Teams delivers them again later. */
  accepting?: () => boolean;
  /**
   * Authenticates the request in place of the SDK's JWT middleware: the verified claims become
   * `request.user`; a refusal is answered with its status and nothing else happens.
   */
  authenticate?: (request: Request) => Promise<{ ok: true; claims: NonNullable<Request['user']> } | { ok: false; status: number; reason: string }>;
}

/**
 * The Agents SDK's request handling (authorise the JWT, then `CloudAdapter.process`) as a handler
 * for the bot's own HTTP server, in the manner of the SDK's Express `createAgentRequestHandler`:
 * the SDK's `startServer` opens a server of its own that cannot be closed.
 */
export function agentRequestHandler(options: AgentRequestHandlerOptions): Handler {
  const maxBytes = options.maxBodyBytes ?? 1_048_576;
  return async (req: IncomingMessage, res: ServerResponse) => {
    if (options.accepting && !options.accepting()) return plain(res, 503, { error: 'the bot is stopping' }, { 'retry-after': '5' });
    const type = String(req.headers['content-type'] ?? '');
    if (!/^application\/json\b/i.test(type)) return plain(res, 415, { error: 'expected a JSON activity (content-type: application/json)' });
    let body: unknown;
    try {
      body = JSON.parse((await readBody(req, maxBytes)).toString('utf8'));
    } catch (error) {
      if (error instanceof BodyTooLarge) return plain(res, 413, { error: `the activity is larger than ${maxBytes} bytes` }, { connection: 'close' });
      return plain(res, 400, { error: 'the body is not JSON' });
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return plain(res, 400, { error: 'the body is not an activity' });

    const request: Request = { body: body as Record<string, unknown>, headers: req.headers, method: req.method ?? 'POST' };
    const response = new NodeWebResponse(res);
    let authorised = false;
    if (options.authenticate) {
      const outcome = await options.authenticate(request);
      if (!outcome.ok) {
        options.log.warn({ status: outcome.status, reason: outcome.reason, remote: req.socket.remoteAddress }, 'Teams request refused: not authenticated');
        return plain(res, outcome.status, { error: outcome.status === 401 ? 'unauthorized' : 'try again later' }, outcome.status === 503 ? { 'retry-after': '60' } : {});
      }
      request.user = outcome.claims;
      authorised = true;
    } else {
      await options.adapter.authorizeRequest(request, response, () => {
        authorised = true;
      });
    }
    if (!authorised) {
      options.log.warn({ status: res.statusCode, remote: req.socket.remoteAddress }, 'Teams request refused: not authenticated');
      return;
    }
    const refusal = options.refuse?.(body as Record<string, unknown>);
    if (refusal) {
      options.log.warn({ reason: refusal }, 'Teams request refused');
      return plain(res, 400, { error: refusal });
    }
    await options.adapter.process(request, response, options.logic);
    if (!res.writableEnded) res.end();
  };
}

/** The Express-like response surface the SDK writes to, over Node's own response. */
export class NodeWebResponse implements WebResponse {
  constructor(private readonly res: ServerResponse) {}

  status(code: number): this {
    if (!this.res.headersSent) this.res.statusCode = code;
    return this;
  }

  setHeader(name: string, value: string): this {
    if (!this.res.headersSent) this.res.setHeader(name, value);
    return this;
  }

  /** As in Express, `send` writes the body and ends the response (the SDK's 401s rely on it). */
  send(body?: unknown): this {
    if (this.res.writableEnded) return this;
    if (body === undefined || body === null) {
      this.res.end();
    } else if (typeof body === 'string' || Buffer.isBuffer(body)) {
      this.res.end(body);
    } else {
      if (!this.res.headersSent && !this.res.hasHeader('content-type')) this.res.setHeader('content-type', 'application/json');
      this.res.end(JSON.stringify(body));
    }
    return this;
  }

  end(): this {
    if (!this.res.writableEnded) this.res.end();
    return this;
  }

  get headersSent(): boolean {
    return this.res.headersSent;
  }

  get writableEnded(): boolean {
    return this.res.writableEnded;
  }
}

class BodyTooLarge extends Error {}

/** Reads the body; past `maxBytes` it stops keeping it (the rest is drained, not stored) and fails. */
function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      if (tooLarge) return;
      size += chunk.length;
      if (size > maxBytes) {
        tooLarge = true;
        chunks.length = 0;
        reject(new BodyTooLarge());
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!tooLarge) resolve(Buffer.concat(chunks));
    });
    req.on('error', reject);
  });
}

function plain(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) return void res.end();
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}
