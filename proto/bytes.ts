/** Small byte helpers shared by the contract code. */
import { createHash } from 'node:crypto';

export function sha256(...parts: Uint8Array[]): Buffer {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

const HEX = /^(?:[0-9a-f]{2})*$/i;

/** Parses hex of exactly `length` bytes (any length when omitted); returns null when it is not. */
export function fromHex(text: string, length?: number): Buffer | null {
  const t = text.trim();
  if (!HEX.test(t)) return null;
  if (length !== undefined && t.length !== length * 2) return null;
  return Buffer.from(t, 'hex');
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}
