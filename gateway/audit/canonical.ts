/**
 * Canonical JSON (RFC 8785, JCS) for what the gateway hashes and signs: audit entries, disposition
 * statements, disposition list hashes. For the values used here (objects, arrays, strings, finite
 * numbers, booleans, null) JCS is `JSON.stringify` with object keys sorted by UTF-16 code units,
 * which is JavaScript's default string order: ECMAScript number and string serialization are what
 * RFC 8785 §3.2.2 prescribes.
 */
import { createHash } from 'node:crypto';

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

export class CanonicalJsonError extends Error {
  override name = 'CanonicalJsonError';
}

/** The RFC 8785 text of `value`. Refuses what JSON cannot carry exactly (NaN, ±Infinity, bigint, undefined in arrays, functions). */
export function canonicalJson(value: unknown, path = '$'): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new CanonicalJsonError(`${path}: ${value} has no JSON form`);
      return JSON.stringify(value);
    case 'object': {
      if (Array.isArray(value)) return `[${value.map((v, i) => canonicalJson(v, `${path}[${i}]`)).join(',')}]`;
      const proto = Object.getPrototypeOf(value) as unknown;
      if (proto !== Object.prototype && proto !== null)
        throw new CanonicalJsonError(
          `${path}: a ${(value as object).constructor?.name ?? 'non-plain'} object is not JSON (convert it first, e.g. bytes to hex)`,
        );
      const keys = Object.keys(value)
        .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
        .sort();
      return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k], `${path}.${k}`)}`).join(',')}}`;
    }
    default:
      throw new CanonicalJsonError(`${path}: a ${typeof value} is not JSON`);
  }
}

/** Hex SHA-256 of `utf8(domain + "\n") ‖ canonicalJson(value)`. */
export function canonicalHash(domain: string, value: unknown): string {
  return createHash('sha256').update(`${domain}\n`, 'utf8').update(canonicalJson(value), 'utf8').digest('hex');
}
