/**
 * LDAP filter and DN helpers. Every value that comes from a user (an account name, a group
 * name) or from an entry (a DN) goes into a filter through `escapeValue`, so it is only ever
 * compared with, never read as filter syntax: `*` cannot become a wildcard nor `)(` close the
 * filter and open another.
 */

/**
 * RFC 4515 §3: an assertion value with `*`, `(`, `)`, `\` and NUL written as `\2a`, `\28`,
 * `\29`, `\5c`, `\00`. Other control characters are escaped too (allowed, and safer in logs).
 */
export function escapeValue(value: string): string {
  let out = '';
  for (const ch of value) {
    const code = ch.codePointAt(0)!;
    if (ch === '*' || ch === '(' || ch === ')' || ch === '\\' || code < 0x20 || code === 0x7f) out += `\\${code.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return out;
}

/** `(attr=value)` with the value escaped; `attr` is configuration, checked by `attributeName`. */
export function equals(attribute: string, value: string): string {
  return `(${attributeName(attribute)}=${escapeValue(value)})`;
}

/** `(&a b …)`, leaving out empty parts; one part stands alone. */
export function and(...parts: string[]): string {
  const kept = parts.filter((p) => p !== '');
  return kept.length === 1 ? kept[0]! : `(&${kept.join('')})`;
}

/** `(|a b …)`; one part stands alone. */
export function or(...parts: string[]): string {
  const kept = parts.filter((p) => p !== '');
  return kept.length === 1 ? kept[0]! : `(|${kept.join('')})`;
}

const ATTRIBUTE = /^([A-Za-z][A-Za-z0-9-]{0,63}|[0-9]+(\.[0-9]+)+)(:[0-9]+(\.[0-9]+)+)?$/;

/** An attribute description (optionally with a matching rule OID, as in `memberOf:1.2.840.113556.1.4.1941`). */
export function attributeName(name: string): string {
  if (!ATTRIBUTE.test(name)) throw new Error(`"${name}" is not an LDAP attribute name`);
  return name;
}

/**
 * A filter from the configuration (a preset's or the operator's): it must be one parenthesised
 * filter with balanced parentheses, so appending it inside `(&…)` cannot change what else is asked.
 */
export function configuredFilter(filter: string): string {
  let depth = 0;
  let escaped = false;
  for (const [i, ch] of [...filter].entries()) {
    if (escaped) {
      escaped = false;
      continue;
    }
    if (ch === '\\') escaped = true;
    else if (ch === '(') depth++;
    else if (ch === ')') {
      depth--;
      if (depth < 0 || (depth === 0 && i !== [...filter].length - 1)) throw new Error(`"${filter}" is not one LDAP filter`);
    }
  }
  if (!filter.startsWith('(') || depth !== 0) throw new Error(`"${filter}" is not one LDAP filter: write it in parentheses, e.g. (objectClass=posixAccount)`);
  return filter;
}

/**
 * The value of a DN's first RDN: `CN=Excitations Users,OU=Groups,DC=facility` → `Excitations Users`
 * (RFC 4514 escapes `\,` and `\2c` undone). Null when the DN has no `=`.
 */
export function firstRdnValue(dn: string): string | null {
  const eq = dn.indexOf('=');
  if (eq < 0) return null;
  let out = '';
  const bytes: number[] = [];
  const flush = () => {
    if (bytes.length) out += Buffer.from(bytes.splice(0)).toString('utf8');
  };
  for (let i = eq + 1; i < dn.length; i++) {
    const ch = dn[i]!;
    if (ch === '\\') {
      const hex = dn.slice(i + 1, i + 3);
      if (/^[0-9A-Fa-f]{2}$/.test(hex)) {
        bytes.push(parseInt(hex, 16));
        i += 2;
      } else if (i + 1 < dn.length) {
        flush();
        out += dn[++i];
      }
      continue;
    }
    flush();
    if (ch === ',' || ch === '+') break;
    out += ch;
  }
  flush();
  return out.trim();
}
