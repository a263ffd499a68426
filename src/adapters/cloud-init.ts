/**
 * cloud-init user data: the site's own (configured for the cloud) combined with what the bot
 * adds for a VM (its SSH host key).
 */
import { randomBytes } from 'node:crypto';
import { parseDocument, stringify } from 'yaml';

/**
 * Combines the site's configured user data with the bot's own `#cloud-config` (the host key).
 * Configured `#cloud-config` is merged key by key (the bot's `ssh_keys` entries win, the site's
 * others stay); anything else (a script, a MIME archive) becomes one part of a MIME
 * multi-part archive beside the bot's, which cloud-init runs both of.
 */
export function mergeUserData(configured: string | undefined, ours: string | undefined): string | undefined {
  if (!ours) return configured;
  if (!configured) return ours;
  if (/^#cloud-config[ \t]*\r?\n/.test(configured) && /^#cloud-config[ \t]*\r?\n/.test(ours)) {
    const site = parseDocument(configured);
    const mine = parseDocument(ours).toJS() as Record<string, unknown>;
    const siteJs = site.toJS() as unknown;
    if (site.errors.length === 0 && (siteJs === null || (typeof siteJs === 'object' && !Array.isArray(siteJs)))) {
      const merged: Record<string, unknown> = { ...((siteJs as Record<string, unknown> | null) ?? {}) };
      for (const [key, value] of Object.entries(mine)) {
        const before = merged[key];
        merged[key] = isMapping(before) && isMapping(value) ? { ...before, ...value } : value;
      }
      return `#cloud-config\n${stringify(merged, { lineWidth: 0 })}`;
    }
  }
  const boundary = `daaas-${randomBytes(12).toString('hex')}`;
  const body = (text: string) => (text.endsWith('\n') ? text : `${text}\n`);
  // A MIME archive keeps its own headers and becomes a nested part.
  const part = (text: string) =>
    /^Content-Type:\s*multipart\//i.test(text) ? [`--${boundary}`, body(text)].join('\n') : [`--${boundary}`, `Content-Type: ${partType(text)}; charset="utf-8"`, 'MIME-Version: 1.0', '', body(text)].join('\n');
  return [`Content-Type: multipart/mixed; boundary="${boundary}"`, 'MIME-Version: 1.0', '', part(configured), part(ours), `--${boundary}--`, ''].join('\n');
}

/** The MIME type cloud-init expects for a part, from how it starts (text/plain is sniffed by cloud-init itself). */
function partType(text: string): string {
  if (text.startsWith('#cloud-config')) return 'text/cloud-config';
  if (text.startsWith('#!')) return 'text/x-shellscript';
  if (text.startsWith('#include')) return 'text/x-include-url';
  if (text.startsWith('#cloud-boothook')) return 'text/cloud-boothook';
  return 'text/plain';
}

const isMapping = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value);
