import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseQuery } from 'node:querystring';
import { HTTPModuleFunctions, HTTPResponseAck, verifySlackRequest, type App, type Logger as BoltLogger, type Receiver, type ReceiverEvent } from '@slack/bolt';
import type { Clock } from '../../ports/clock.ts';
import type { Logger } from '../../ports/logger.ts';

export interface SlackHttpReceiverOptions {
  signingSecret: string;
  clock: Clock;
  log: Logger;
  boltLogger: BoltLogger;
  /** Requests larger than this are refused (Slack's are a few kilobytes). Default 1 MiB. */
  maxBodyBytes?: number;
  /** How far a request's timestamp may be from now, either way. Slack's rule: 300 s. */
  toleranceSeconds?: number;
}

/**
 * Bolt's transport for the bot's own HTTP server: slash commands, interactivity and events all
 * arrive at one endpoint (`handler`), are checked the way Slack signs them, and are handed to
 * Bolt's `processEvent`. Bolt's own HTTPReceiver would open a second port; this one does not.
 */
export class SlackHttpReceiver implements Receiver {
  private app: App | undefined;
  private accepting = false;

  constructor(private readonly options: SlackHttpReceiverOptions) {}

  init(app: App): void {
    this.app = app;
  }

  async start(): Promise<void> {
    this.accepting = true;
  }

  async stop(): Promise<void> {
    this.accepting = false;
  }

  /** Mount this as `POST /slack/events`. */
  readonly handler = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (!this.accepting || !this.app) return reply(res, 503);
    let raw: string;
    try {
      const buffered = await HTTPModuleFunctions.bufferIncomingMessage(req, this.options.maxBodyBytes ?? 1_048_576);
      raw = buffered.rawBody.toString('utf8');
    } catch (error) {
      this.options.log.warn({ err: error }, 'Slack request body could not be read');
      return reply(res, HTTPModuleFunctions.isRawBodyError(error) ? error.statusCode : 400);
    }
    const contentType = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    // Slack's certificate check carries no signature and asks for nothing but a 200.
    if (contentType === 'application/x-www-form-urlencoded' && parseQuery(raw).ssl_check === '1') return reply(res, 200);

    const refusal = this.verify(req, raw);
    if (refusal) {
      this.options.log.warn({ reason: refusal, path: req.url, ip: req.socket.remoteAddress }, 'Slack request refused: bad signature');
      return reply(res, 401);
    }

    let body: Record<string, unknown>;
    try {
      body = parseBody(raw, contentType);
    } catch {
      return reply(res, 400);
    }
    if (body.type === 'url_verification') return HTTPModuleFunctions.buildUrlVerificationResponse(res, body);

    const ack = new HTTPResponseAck({
      logger: this.options.boltLogger,
      processBeforeResponse: false,
      httpRequest: req,
      httpRequestBody: body,
      httpResponse: res,
    });
    const retryNum = HTTPModuleFunctions.extractRetryNumFromHTTPRequest(req);
    const retryReason = HTTPModuleFunctions.extractRetryReasonFromHTTPRequest(req);
    const event: ReceiverEvent = {
      body,
      ack: ack.bind(),
      ...(retryNum !== undefined ? { retryNum } : {}),
      ...(retryReason !== undefined ? { retryReason } : {}),
    };
    try {
      await this.app.processEvent(event);
    } catch (error) {
      this.options.log.error({ err: error }, 'Slack request failed');
      if (!res.headersSent) return reply(res, 500);
    }
    // Nothing listened (an event type the bot does not use): Slack still wants its 200.
    if (!res.headersSent) {
      ack.ack();
      reply(res, 200);
    }
  };

  /** Why the request is not from Slack, or undefined if it is. */
  private verify(req: IncomingMessage, raw: string): string | undefined {
    const signature = header(req, 'x-slack-signature');
    const timestamp = header(req, 'x-slack-request-timestamp');
    if (!signature || !timestamp) return 'signature headers missing';
    if (!/^\d{1,12}$/.test(timestamp)) return 'timestamp is not a number';
    const nowMs = this.options.clock.now();
    // Either way: an old request may be a replay, one from the future a forgery made ahead.
    if (Math.abs(nowMs / 1000 - Number(timestamp)) > (this.options.toleranceSeconds ?? 300)) return 'timestamp too far from now';
    try {
      // Bolt's check: v0 HMAC-SHA256 over "v0:timestamp:body", compared in constant time.
      verifySlackRequest({
        signingSecret: this.options.signingSecret,
        body: raw,
        headers: { 'x-slack-signature': signature, 'x-slack-request-timestamp': Number(timestamp) },
        nowMilliseconds: nowMs,
      });
      return undefined;
    } catch (error) {
      return error instanceof Error ? error.message : 'signature mismatch';
    }
  }
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return typeof value === 'string' ? value : undefined;
}

/** Form posts (commands; interactivity as `payload=<json>`) or JSON (events). */
function parseBody(raw: string, contentType: string): Record<string, unknown> {
  if (contentType === 'application/x-www-form-urlencoded') {
    const form = parseQuery(raw);
    if (typeof form.payload === 'string') return asObject(JSON.parse(form.payload));
    return Object.fromEntries(Object.entries(form).map(([k, v]) => [k, Array.isArray(v) ? v[0] : v]));
  }
  return asObject(JSON.parse(raw));
}

function asObject(value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not an object');
  return value as Record<string, unknown>;
}

function reply(res: ServerResponse, status: number): void {
  HTTPModuleFunctions.buildNoBodyResponse(res, status);
}
