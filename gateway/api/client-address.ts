/**
 * Who the client is, behind reverse proxies (`http.trustProxy`). The peer of the TCP connection is
 * the client unless it is a proxy named in the configuration; then `X-Forwarded-For` is read from
 * the right, skipping every trusted proxy, and the first address not trusted is the client (what
 * nginx's `real_ip_recursive on` does). A peer not trusted cannot choose its address by sending
 * the header, so sign-in limits and audit entries hold per real client.
 */
import { BlockList, isIP } from 'node:net';

/** An address (`10.0.0.7`, `::1`) or a CIDR (`10.0.0.0/8`, `fd00::/8`); null when it is neither. */
export function parseProxySpec(spec: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | null {
  const [address = '', prefixText, extra] = spec.trim().split('/');
  if (extra !== undefined) return null;
  const v = isIP(address);
  if (v === 0) return null;
  const max = v === 4 ? 32 : 128;
  if (prefixText !== undefined && !/^\d{1,3}$/.test(prefixText)) return null;
  const prefix = prefixText === undefined ? max : Number(prefixText);
  if (prefix > max) return null;
  return { address, prefix, family: v === 4 ? 'ipv4' : 'ipv6' };
}

export class ProxyTrust {
  readonly #trusted = new BlockList();
  readonly #any: boolean;

  /** `specs` were checked by the configuration schema (parseProxySpec); a bad one throws here. */
  constructor(specs: readonly string[]) {
    for (const s of specs) {
      const p = parseProxySpec(s);
      if (!p) throw new RangeError(`http.trustProxy: ${JSON.stringify(s)} is neither an IP address nor a CIDR`);
      this.#trusted.addSubnet(p.address, p.prefix, p.family);
    }
    this.#any = specs.length > 0;
  }

  trusts(address: string): boolean {
    const v = isIP(address);
    return v !== 0 && this.#trusted.check(address, v === 4 ? 'ipv4' : 'ipv6');
  }

  /**
   * The client's address: `peer` itself unless it is a trusted proxy; then the rightmost
   * `X-Forwarded-For` hop that is not a trusted proxy (the leftmost if all are). A malformed hop
   * ends the walk at the last address that was good.
   */
  client(peer: string, forwardedFor: string | undefined): string {
    if (!this.#any || !this.trusts(peer) || !forwardedFor) return peer;
    const hops = forwardedFor
      .split(',')
      .map((h) => h.trim())
      .filter(Boolean);
    let client = peer;
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = hops[i]!;
      if (isIP(hop) === 0) break;
      client = hop;
      if (!this.trusts(hop)) break;
    }
    return client;
  }
}
