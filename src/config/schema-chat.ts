/** The chat platforms' keys: Slack and Teams, and how each one's users become facility accounts. */
import { z } from 'zod';
import { account, duration, identityRule, mailDomain } from './schema-values.ts';

export const slack = z.strictObject({
  /** The slash command, as created in the Slack app (see slack/manifest.yml). */
  command: z.string().regex(/^\/[a-z0-9_-]{1,31}$/, 'a slash command such as /daaas').default('/daaas'),
  identity: z
    .strictObject({
      /** How a Slack user's e-mail becomes a facility account. */
      rule: identityRule(['email-local-part', 'map-only'], 'email-local-part (with domains) or map-only').default('email-local-part'),
      /** Only addresses at these domains (or subdomains) are mapped; needed with email-local-part while Slack is in use. */
      domains: z.array(mailDomain).default([]),
      /** Slack user id (as Slack writes it) or e-mail address (any case) → account, checked first. */
      map: z.record(z.string(), account).default({}),
      /** Whom a user without a mapping should ask. */
      contact: z.string().min(1).max(200).default('the administrators of this bot'),
      cacheTtl: duration.default(3_600_000),
      negativeTtl: duration.default(60_000),
    })
    .prefault({}),
});

/** A service host pattern: host.example, or *.example for any subdomain. */
const SERVICE_HOST = /^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/i;

export const teams = z.strictObject({
  /** Start Teams even without credentials in the environment (they are then required). */
  enabled: z.boolean().default(false),
  identity: z
    .strictObject({
      /** How a Teams user's UPN or e-mail becomes a facility account. */
      rule: identityRule(['upn-local-part', 'email-local-part', 'map-only'], 'upn-local-part or email-local-part (with domains), or map-only').default('upn-local-part'),
      /** Needed with an address rule while Teams is in use. */
      domains: z.array(mailDomain).default([]),
      /** Entra object id, Teams user id (29:…, as written), UPN or e-mail address (any case) → account, checked first. */
      map: z.record(z.string(), account).default({}),
      contact: z.string().min(1).max(200).default('the administrators of this bot'),
      /** Guests from other directories are refused unless mapped; true maps them by the rule too. */
      allowGuests: z.boolean().default(false),
      cacheTtl: duration.default(3_600_000),
      negativeTtl: duration.default(60_000),
    })
    .prefault({}),
  /** Tenants whose users may use the bot; empty: the app registration's own. */
  tenants: z.array(z.string().min(1)).default([]),
  /** The Bot Framework cloud of the bot's registration: `public`, or `gov` (tokens from api.botframework.us). */
  cloud: z.enum(['public', 'gov']).default('public'),
  /**
   * Hosts of the Bot Connector service URLs the bot accepts activities from and sends to, e.g.
   * smba.trafficmanager.net or *.botframework.com (any subdomain); empty: the cloud's own.
   */
  serviceUrls: z.array(z.string().regex(SERVICE_HOST, 'a host such as smba.trafficmanager.net, or *.botframework.com for every subdomain (no scheme or path)')).default([]),
});

