/**
 * A small stand-in for Slack on 127.0.0.1: the Web API methods the bot calls, response_url
 * endpoints, and helpers that build and sign requests exactly as Slack does.
 */
import { createHash, createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parse as parseQuery } from 'node:querystring';
import type { Duplex } from 'node:stream';

export interface WebApiCall {
  method: string;
  /** Form fields, with JSON-encoded ones (blocks, view) decoded. */
  body: Record<string, unknown>;
  token: string | undefined;
  /** Wall-clock ms when it arrived. */
  at: number;
  /** What the fake answered: 200, or 429. */
  status: number;
  error?: string;
}

export interface ResponseUrlPost {
  id: string;
  body: Record<string, unknown>;
  at: number;
}

/** A user as users.info describes one; unset fields take Slack's values for a full member of T1. */
export interface SlackUser {
  email?: string;
  deleted?: boolean;
  is_bot?: boolean;
  is_workflow_bot?: boolean;
  is_app_user?: boolean;
  /** Multi-channel guest. */
  is_restricted?: boolean;
  /** Single-channel guest. */
  is_ultra_restricted?: boolean;
  /** The user's workspace; default T1, the one the bot is installed in. */
  team_id?: string;
  /** Enterprise Grid: the user's organisation (users.info gives it as enterprise_user). */
  enterprise_id?: string;
}

/** A scripted answer for the next call of a method: a 429 with Retry-After, or {ok:false, error}. */
export type ScriptedAnswer = { status: 429; retryAfter: number } | { error: string };

export class FakeSlack {
  readonly calls: WebApiCall[] = [];
  readonly responses: ResponseUrlPost[] = [];
  readonly users = new Map<string, SlackUser>();
  /** Enterprise Grid: the organisation of the installing workspace, reported by auth.test. */
  enterpriseId: string | undefined;
  /** Socket Mode: what the app sent back over the WebSocket (envelope acks). */
  readonly socketMessages: Record<string, unknown>[] = [];
  private readonly script = new Map<string, ScriptedAnswer[]>();
  private readonly sockets = new Set<Duplex>();
  private port = 0;

  private constructor(private readonly server: Server) {}

  static async start(): Promise<FakeSlack> {
    const server = createServer();
    const fake = new FakeSlack(server);
    server.on('request', (req, res) => {
      void fake.handle(req).then(({ status, headers, body }) => {
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(JSON.stringify(body));
      });
    });
    server.on('upgrade', (req: IncomingMessage, socket: Duplex) => fake.upgrade(req, socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    fake.port = (server.address() as AddressInfo).port;
    return fake;
  }

  /** Socket Mode: sends an envelope (e.g. a slash command) to every connected app. */
  sendEnvelope(envelope: Record<string, unknown>): void {
    for (const socket of this.sockets) writeFrame(socket, 0x1, Buffer.from(JSON.stringify(envelope)));
  }

  get socketConnections(): number {
    return this.sockets.size;
  }

  /** Just enough of RFC 6455 for the Socket Mode client: handshake, text frames, ping/pong, close. */
  private upgrade(req: IncomingMessage, socket: Duplex): void {
    const key = req.headers['sec-websocket-key'];
    if (typeof key !== 'string') return void socket.destroy();
    const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => this.sockets.delete(socket));
    let buffered = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      for (let frame = readFrame(buffered); frame; frame = readFrame(buffered)) {
        buffered = buffered.subarray(frame.length);
        if (frame.opcode === 0x1) this.socketMessages.push(JSON.parse(frame.payload.toString('utf8')) as Record<string, unknown>);
        else if (frame.opcode === 0x9) writeFrame(socket, 0xa, frame.payload);
        else if (frame.opcode === 0x8) {
          writeFrame(socket, 0x8, frame.payload);
          socket.end();
        }
      }
    });
    writeFrame(socket, 0x1, Buffer.from(JSON.stringify({ type: 'hello', num_connections: 1, debug_info: { host: 'fake' }, connection_info: { app_id: 'A1' } })));
  }

  /** SLACK_API_URL for the bot. */
  get apiUrl(): string {
    return `http://127.0.0.1:${this.port}/api/`;
  }

  responseUrl(id: string): string {
    return `http://127.0.0.1:${this.port}/respond/${id}`;
  }

  /** The next calls of `method` get these answers, in order, before normal service resumes. */
  answerNext(method: string, ...answers: ScriptedAnswer[]): void {
    this.script.set(method, [...(this.script.get(method) ?? []), ...answers]);
  }

  callsTo(method: string, okOnly = true): WebApiCall[] {
    return this.calls.filter((c) => c.method === method && (!okOnly || (c.status === 200 && !c.error)));
  }

  responsesTo(id: string): ResponseUrlPost[] {
    return this.responses.filter((r) => r.id === id);
  }

  /** Polls until `probe` gives something truthy (real time: the bot is a real server). */
  async waitFor<T>(probe: () => T | undefined | false | null, what: string, timeoutMs = 5_000): Promise<T> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const value = probe();
      if (value) return value;
      if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage): Promise<{ status: number; headers?: Record<string, string>; body: unknown }> {
    const raw = await new Promise<string>((resolve) => {
      let data = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (data += chunk));
      req.on('end', () => resolve(data));
    });
    const path = req.url ?? '/';
    if (path.startsWith('/respond/')) {
      this.responses.push({ id: path.slice('/respond/'.length), body: JSON.parse(raw) as Record<string, unknown>, at: Date.now() });
      return { status: 200, body: 'ok' };
    }
    const method = path.replace(/^\/api\//, '').split('?')[0]!;
    const body = decodeForm(raw, req.headers['content-type']);
    const auth = req.headers.authorization;
    const call: WebApiCall = { method, body, token: auth?.replace(/^Bearer /, ''), at: Date.now(), status: 200 };
    this.calls.push(call);

    const scripted = this.script.get(method)?.shift();
    if (scripted && 'status' in scripted) {
      call.status = 429;
      return { status: 429, headers: { 'retry-after': String(scripted.retryAfter) }, body: { ok: false, error: 'ratelimited' } };
    }
    if (scripted) {
      call.error = scripted.error;
      return { status: 200, body: { ok: false, error: scripted.error } };
    }
    return { status: 200, body: this.answer(method, body, call) };
  }

  private answer(method: string, body: Record<string, unknown>, call: WebApiCall): unknown {
    switch (method) {
      case 'auth.test':
        return {
          ok: true,
          url: 'https://fake.slack.test/',
          team: 'Facility',
          user: 'daaas',
          team_id: 'T1',
          user_id: 'UBOT',
          bot_id: 'BBOT',
          ...(this.enterpriseId ? { enterprise_id: this.enterpriseId, is_enterprise_install: false } : {}),
        };
      case 'users.info': {
        const id = String(body.user);
        const user = this.users.get(id);
        if (!user) {
          call.error = 'user_not_found';
          return { ok: false, error: 'user_not_found' };
        }
        return {
          ok: true,
          user: {
            id,
            team_id: user.team_id ?? 'T1',
            name: id.toLowerCase(),
            deleted: user.deleted ?? false,
            is_admin: false,
            is_owner: false,
            is_primary_owner: false,
            is_restricted: user.is_restricted ?? false,
            is_ultra_restricted: user.is_ultra_restricted ?? false,
            is_bot: user.is_bot ?? false,
            is_app_user: user.is_app_user ?? false,
            ...(user.is_workflow_bot ? { is_workflow_bot: true } : {}),
            ...(user.enterprise_id ? { enterprise_user: { id, enterprise_id: user.enterprise_id, enterprise_name: 'Org', is_admin: false, is_owner: false, teams: [user.team_id ?? 'T1'] } } : {}),
            profile: user.email ? { email: user.email } : {},
          },
        };
      }
      case 'chat.postMessage':
        return { ok: true, channel: `D${String(body.channel)}`, ts: `${Date.now() / 1000}`, message: { text: body.text } };
      case 'views.publish':
        return { ok: true, view: { id: 'V1', type: 'home' } };
      case 'apps.connections.open':
        return { ok: true, url: `ws://127.0.0.1:${this.port}/socket` };
      default:
        call.error = 'unknown_method';
        return { ok: false, error: 'unknown_method' };
    }
  }
}

function writeFrame(socket: Duplex, opcode: number, payload: Buffer): void {
  const head =
    payload.length < 126
      ? Buffer.from([0x80 | opcode, payload.length])
      : payload.length < 65_536
        ? Buffer.from([0x80 | opcode, 126, payload.length >> 8, payload.length & 0xff])
        : Buffer.concat([Buffer.from([0x80 | opcode, 127]), (() => { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(payload.length)); return b; })()]);
  socket.write(Buffer.concat([head, payload]));
}

/** One complete (client, hence masked) frame at the start of `data`, or undefined if not all there yet. */
function readFrame(data: Buffer): { opcode: number; payload: Buffer; length: number } | undefined {
  if (data.length < 2) return undefined;
  const opcode = data[0]! & 0x0f;
  const masked = (data[1]! & 0x80) !== 0;
  let length = data[1]! & 0x7f;
  let offset = 2;
  if (length === 126) {
    if (data.length < 4) return undefined;
    length = data.readUInt16BE(2);
    offset = 4;
  } else if (length === 127) {
    if (data.length < 10) return undefined;
    length = Number(data.readBigUInt64BE(2));
    offset = 10;
  }
  const mask = masked ? data.subarray(offset, offset + 4) : undefined;
  if (masked) offset += 4;
  if (data.length < offset + length) return undefined;
  const payload = Buffer.from(data.subarray(offset, offset + length));
  if (mask) for (let i = 0; i < payload.length; i++) payload[i]! ^= mask[i % 4]!;
  return { opcode, payload, length: offset + length };
}

function decodeForm(raw: string, contentType: string | undefined): Record<string, unknown> {
  if (contentType?.startsWith('application/json')) return JSON.parse(raw) as Record<string, unknown>;
  const form = parseQuery(raw);
  return Object.fromEntries(
    Object.entries(form).map(([key, value]) => {
      const text = Array.isArray(value) ? value[0] : value;
      if (typeof text === 'string' && (key === 'blocks' || key === 'view')) return [key, JSON.parse(text)];
      return [key, text];
    }),
  );
}

// ---- requests as Slack sends them ---------------------------------------------------------------

export function sign(secret: string, timestampSec: number, body: string): string {
  return `v0=${createHmac('sha256', secret).update(`v0:${timestampSec}:${body}`).digest('hex')}`;
}

export interface SignedPost {
  secret: string;
  timestampSec: number;
  contentType?: string;
  /** Overrides the computed signature (forgeries). */
  signature?: string;
  headers?: Record<string, string>;
}

/** POSTs `body` with Slack's signature headers; resolves with the status and how long the ack took. */
export async function postSigned(url: string, body: string, o: SignedPost): Promise<{ status: number; text: string; ms: number }> {
  const started = performance.now();
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': o.contentType ?? 'application/x-www-form-urlencoded',
      'x-slack-request-timestamp': String(o.timestampSec),
      'x-slack-signature': o.signature ?? sign(o.secret, o.timestampSec, body),
      ...o.headers,
    },
    body,
  });
  const text = await res.text();
  return { status: res.status, text, ms: performance.now() - started };
}

let triggers = 0;
export const newTrigger = () => `${++triggers}.${process.pid}.trigger`;

/** A slash command's form body, as Slack posts it. */
export function slashCommandBody(f: { user: string; text: string; responseUrl: string; trigger?: string; channel?: string }): string {
  return new URLSearchParams({
    token: 'deprecated-verification-token',
    team_id: 'T1',
    team_domain: 'facility',
    channel_id: f.channel ?? 'C1',
    channel_name: 'analysis',
    user_id: f.user,
    user_name: f.user.toLowerCase(),
    command: '/daaas',
    text: f.text,
    api_app_id: 'A1',
    is_enterprise_install: 'false',
    response_url: f.responseUrl,
    trigger_id: f.trigger ?? newTrigger(),
  }).toString();
}

/** A button click (`block_actions`) as Slack posts it: `payload=<json>`. */
export function blockActionsBody(f: {
  user: string;
  button: { action_id: string; value: string; text?: { text: string } };
  responseUrl?: string;
  container?: Record<string, unknown>;
  trigger?: string;
}): string {
  const payload = {
    type: 'block_actions',
    user: { id: f.user, username: f.user.toLowerCase(), name: f.user.toLowerCase(), team_id: 'T1' },
    api_app_id: 'A1',
    token: 'deprecated-verification-token',
    container: f.container ?? { type: 'message', message_ts: '1767603600.000100', channel_id: 'C1', is_ephemeral: true },
    trigger_id: f.trigger ?? newTrigger(),
    team: { id: 'T1', domain: 'facility' },
    enterprise: null,
    is_enterprise_install: false,
    channel: { id: 'C1', name: 'analysis' },
    ...(f.responseUrl ? { response_url: f.responseUrl } : {}),
    state: { values: {} },
    actions: [{ type: 'button', action_id: f.button.action_id, block_id: 'b1', text: { type: 'plain_text', text: f.button.text?.text ?? 'button' }, value: f.button.value, action_ts: `${Date.now() / 1000}` }],
  };
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}

/** An Events API delivery (JSON). */
export function eventBody(event: Record<string, unknown>, eventId: string, timeSec: number): string {
  return JSON.stringify({
    token: 'deprecated-verification-token',
    team_id: 'T1',
    api_app_id: 'A1',
    event,
    type: 'event_callback',
    event_id: eventId,
    event_time: timeSec,
    authorizations: [{ enterprise_id: null, team_id: 'T1', user_id: 'UBOT', is_bot: true, is_enterprise_install: false }],
    is_ext_shared_channel: false,
  });
}
