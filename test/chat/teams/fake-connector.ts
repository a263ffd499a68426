/**
 * A small stand-in for the Bot Connector service Teams gives a bot (its `serviceUrl`), on
 * 127.0.0.1: activities posted to conversations (new and replies), member look-up, opening a
 * personal chat; it can answer with a scripted failure (403 MessageWritesBlocked, 429 with
 * Retry-After). Also builds Teams-shaped activities and posts them to the bot.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export type CallKind = 'send' | 'reply' | 'member' | 'create' | 'other';

export interface ConnectorCall {
  kind: CallKind;
  method: string;
  /** Path segments after /v3/conversations, decoded. */
  conversationId?: string;
  replyToId?: string;
  userId?: string;
  body: Record<string, unknown> | undefined;
  authorization: string | undefined;
  /** What the fake answered. */
  status: number;
}

export interface ScriptedAnswer {
  status: number;
  /** Seconds, sent as Retry-After. */
  retryAfter?: number;
  code?: string;
}

export interface Member {
  id: string;
  aadObjectId?: string;
  name?: string;
  userPrincipalName?: string;
  email?: string;
  userRole?: string;
  /** The member's home directory: another tenant's for members of shared channels. */
  tenantId?: string;
}

export class FakeConnector {
  readonly calls: ConnectorCall[] = [];
  /** By Teams user id (29:…). */
  readonly members = new Map<string, Member>();
  private readonly script = new Map<CallKind | 'activity', ScriptedAnswer[]>();
  private port = 0;
  private nextId = 1;

  private constructor(private readonly server: Server) {}

  static async start(): Promise<FakeConnector> {
    const server = createServer();
    const fake = new FakeConnector(server);
    server.on('request', (req, res) => {
      void fake.handle(req).then(({ status, headers, body }) => {
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(JSON.stringify(body));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    fake.port = (server.address() as AddressInfo).port;
    return fake;
  }

  /** As Teams gives it: with a trailing slash. */
  get serviceUrl(): string {
    return `http://127.0.0.1:${this.port}/`;
  }

  /** The next calls of a kind (`activity`: send or reply) get these answers, in order. */
  answerNext(kind: CallKind | 'activity', ...answers: ScriptedAnswer[]): void {
    this.script.set(kind, [...(this.script.get(kind) ?? []), ...answers]);
  }

  /** Activities the fake accepted (sends and replies). */
  delivered(): ConnectorCall[] {
    return this.calls.filter((c) => (c.kind === 'send' || c.kind === 'reply') && c.status === 200);
  }

  callsOf(kind: CallKind): ConnectorCall[] {
    return this.calls.filter((c) => c.kind === kind);
  }

  async waitFor<T>(probe: () => T | undefined, what: string, timeoutMs = 5_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = probe();
      if (found !== undefined) return found;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; calls so far: ${JSON.stringify(this.calls.map((c) => `${c.method} ${c.kind} ${c.conversationId ?? ''} ${c.status}`))}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage): Promise<{ status: number; headers: Record<string, string>; body: unknown }> {
    const raw = await new Promise<string>((resolve) => {
      let data = '';
      req.on('data', (c: Buffer) => (data += c.toString('utf8')));
      req.on('end', () => resolve(data));
    });
    const body = raw ? (JSON.parse(raw) as Record<string, unknown>) : undefined;
    const path = (req.url ?? '/').split('?')[0]!;
    const segments = path.split('/').filter(Boolean).map((s) => decodeURIComponent(s));
    const call: ConnectorCall = { kind: 'other', method: req.method ?? '', body, authorization: req.headers.authorization, status: 404 };
    if (segments[0] === 'v3' && segments[1] === 'conversations') {
      if (segments.length === 2 && req.method === 'POST') call.kind = 'create';
      if (segments[3] === 'activities' && req.method === 'POST') {
        call.kind = segments.length === 5 ? 'reply' : 'send';
        call.conversationId = segments[2];
        if (segments[4]) call.replyToId = segments[4];
      }
      if (segments[3] === 'members' && segments[4] && req.method === 'GET') {
        call.kind = 'member';
        call.conversationId = segments[2];
        call.userId = segments[4];
      }
    }
    this.calls.push(call);

    const queue = this.script.get(call.kind)?.length ? this.script.get(call.kind) : call.kind === 'send' || call.kind === 'reply' ? this.script.get('activity') : undefined;
    const scripted = queue?.shift();
    if (scripted) {
      call.status = scripted.status;
      const headers: Record<string, string> = scripted.retryAfter !== undefined ? { 'retry-after': String(scripted.retryAfter) } : {};
      return { status: scripted.status, headers, body: { error: { code: scripted.code ?? `HTTP${scripted.status}`, message: 'scripted by the test' } } };
    }

    switch (call.kind) {
      case 'send':
      case 'reply':
        call.status = 200;
        return { status: 200, headers: {}, body: { id: `activity-${this.nextId++}` } };
      case 'member': {
        const member = this.members.get(call.userId!);
        call.status = member ? 200 : 404;
        return member
          ? { status: 200, headers: {}, body: member }
          : { status: 404, headers: {}, body: { error: { code: 'MemberNotFoundInConversation', message: 'The member was not found' } } };
      }
      case 'create': {
        const members = (body?.members ?? []) as { id?: string }[];
        call.status = 201;
        return { status: 201, headers: {}, body: { id: `a:personal-${members[0]?.id ?? 'unknown'}` } };
      }
      default:
        return { status: 404, headers: {}, body: { error: { code: 'NotFound' } } };
    }
  }
}

// ---- Teams-shaped activities ---------------------------------------------------------------

export const TENANT = '72f988bf-0000-4000-8000-00000000d4a5';
export const BOT = { id: '28:daaas-test-bot', name: 'DAaaS' };
export const TEAM_ID = '19:team-general@thread.tacv2';

export interface TestUser {
  id: string;
  aadObjectId: string;
  name: string;
}

/** An activity as Teams posts it; `id` is what replies refer to. */
export type TeamsActivity = Record<string, unknown> & { id: string; serviceUrl: string };

let activityIds = 0;

function base(fake: FakeConnector, user: TestUser, conversation: Record<string, unknown>, extra: Record<string, unknown> = {}): TeamsActivity {
  return {
    id: `1700000000${String(++activityIds).padStart(3, '0')}`,
    channelId: 'msteams',
    serviceUrl: fake.serviceUrl,
    timestamp: '2026-01-05T09:00:00.000Z',
    locale: 'en-GB',
    from: { id: user.id, name: user.name, aadObjectId: user.aadObjectId },
    recipient: BOT,
    conversation: { tenantId: TENANT, ...conversation },
    channelData: { tenant: { id: TENANT } },
    ...extra,
  };
}

export function personalConversation(user: TestUser): Record<string, unknown> {
  return { id: `a:personal-${user.id}`, conversationType: 'personal' };
}

export function personalMessage(fake: FakeConnector, user: TestUser, text: string): TeamsActivity {
  return base(fake, user, personalConversation(user), { type: 'message', text, textFormat: 'plain' });
}

/** A channel message; `mention` puts `<at>DAaaS</at>` in front, as Teams does when the bot is @mentioned. */
export function channelMessage(fake: FakeConnector, user: TestUser, text: string, mention = true): TeamsActivity {
  const at = `<at>${BOT.name}</at>`;
  const activity = base(fake, user, { id: '19:general@thread.tacv2;messageid=1700000000999', conversationType: 'channel', isGroup: true }, {
    type: 'message',
    text: mention ? `${at}&nbsp;${text}` : text,
    textFormat: 'plain',
    channelData: { tenant: { id: TENANT }, team: { id: TEAM_ID }, channel: { id: '19:general@thread.tacv2' } },
    entities: mention ? [{ type: 'mention', text: at, mentioned: BOT }] : [],
  });
  return activity;
}

/** A click on an Action.Execute button, in the conversation where the card is. */
export function executeInvoke(fake: FakeConnector, user: TestUser, action: { verb: unknown; data: unknown }, conversation = personalConversation(user)): TeamsActivity {
  return base(fake, user, conversation, {
    type: 'invoke',
    name: 'adaptiveCard/action',
    value: { action: { type: 'Action.Execute', verb: action.verb, data: action.data }, trigger: 'manual' },
  });
}

/** A click on the Action.Submit fallback: a message with no text and the button's data as `value`. */
export function submitMessage(fake: FakeConnector, user: TestUser, value: unknown, conversation = personalConversation(user)): TeamsActivity {
  return base(fake, user, conversation, { type: 'message', text: '', value, replyToId: '1700000000001' });
}

export function installationUpdate(fake: FakeConnector, user: TestUser, action: 'add' | 'remove'): TeamsActivity {
  return base(fake, user, personalConversation(user), { type: 'installationUpdate', action });
}

export async function postActivity(url: string, activity: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: unknown }> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(activity) });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: kept as text
  }
  return { status: response.status, body };
}
