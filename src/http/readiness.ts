import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../ports/logger.ts';
import { json } from './http-server.ts';

export interface ReadinessCheck {
  name: string;
  ok: boolean;
  /** In words, safe on a public listener: which check failed, never the error's own text. */
  detail: string;
  /** The underlying error (hosts, Keystone messages, paths): for the log only. */
  cause?: string;
}

export interface ReadinessSources {
  /** Throws when the store cannot be written. */
  storeWritable: () => void;
  /** What the scheduler last saw of the cloud. */
  cloud: () => { lastObservedAt: number | null; lastError: string | null };
  /** Each chat platform the bot runs, and whether it is connected. */
  chats: () => { name: string; connected: boolean }[];
  now: () => number;
  /** How old the last look at the cloud may be. */
  cloudFreshMs: number;
  /** Where the causes of failing checks go (once per change), since the answer leaves them out. */
  log?: Logger;
}

/** Ready means: the store takes writes, the cloud answered lately, every chat platform is connected. */
export function readiness(s: ReadinessSources): ReadinessCheck[] {
  const checks: ReadinessCheck[] = [];
  try {
    s.storeWritable();
    checks.push({ name: 'store', ok: true, detail: 'writable' });
  } catch (error) {
    checks.push({ name: 'store', ok: false, detail: 'not writable', cause: (error as Error).message });
  }
  const cloud = s.cloud();
  const age = cloud.lastObservedAt === null ? null : s.now() - cloud.lastObservedAt;
  if (cloud.lastError) checks.push({ name: 'cloud', ok: false, detail: 'not answering', cause: cloud.lastError });
  else if (age === null) checks.push({ name: 'cloud', ok: false, detail: 'not observed yet' });
  else checks.push({ name: 'cloud', ok: age <= s.cloudFreshMs, detail: `last observed ${Math.round(age / 1000)} s ago` });
  for (const chat of s.chats()) checks.push({ name: `chat:${chat.name}`, ok: chat.connected, detail: chat.connected ? 'connected' : 'not connected' });
  return checks;
}

/**
 * GET /readyz: 200 when every check passes, 503 otherwise, with the checks either way. The
 * answer names the failing checks in words; their causes go to the log when they change (and
 * admins see the cloud's error in `admin pools`), since this endpoint is public.
 */
export function readyzHandler(s: ReadinessSources) {
  let lastLogged = '';
  return (_req: IncomingMessage, res: ServerResponse): void => {
    const checks = readiness(s);
    const ok = checks.every((c) => c.ok);
    const failing = checks.filter((c) => !c.ok).map(({ name, detail, cause }) => ({ name, detail, ...(cause ? { cause } : {}) }));
    const signature = JSON.stringify(failing);
    if (signature !== lastLogged) {
      lastLogged = signature;
      if (failing.length) s.log?.warn({ failing }, 'not ready');
      else s.log?.info({}, 'ready');
    }
    json(res, ok ? 200 : 503, { status: ok ? 'ready' : 'not ready', checks: checks.map(({ name, ok: passed, detail }) => ({ name, ok: passed, detail })) });
  };
}
