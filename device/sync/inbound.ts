/**
 * The dock's defence against forged gateway traffic (DESIGN §8, second round): a holder of the
 * broker password can publish anything on the dock's `ack` and `cmd` topics and the gateways'
 * presence. What it costs the dock is bounded:
 *
 * - cheap checks first (DockSync and GatewayTrust.prepare): the size for the topic, the envelope
 *   and its type, a certified gateway key id, the body naming this dock — all before any
 *   signature is checked;
 * - a replay of a message already accepted is dropped after one SHA-256 (`Recent`);
 * - a per-topic rate budget of signature checks (`Budget`, a token bucket): a flood beyond it is
 *   dropped unchecked and counted. Genuine traffic is far below it; a genuine ack dropped in a
 *   flood is not lost (the outbox sends the message again and the gateway acks it again);
 * - refusals are counted by topic and reason and reported in aggregate (`RefusalLedger`): at most
 *   one SYNC_ERROR event per report interval, never one stored row per forgery.
 */

/** The topics a dock listens on. */
export type InboundKind = 'ack' | 'cmd' | 'state';

export interface InboundLimits {
  /** Largest payload taken on the topic; larger is refused before decoding. */
  maxBytes: number;
  /** Signature checks per second, sustained, and the burst allowed above it. */
  verifyPerSecond: number;
  verifyBurst: number;
}

export const INBOUND_LIMITS: Readonly<Record<InboundKind, InboundLimits>> = {
  // An Ack is a few hundred bytes (a CHUNKS_MISSING with many ranges, a few KiB).
  ack: { maxBytes: 64 * 1024, verifyPerSecond: 1000, verifyBurst: 20_000 },
  // A Command may carry a policy bundle or camera assignments.
  cmd: { maxBytes: 8 * 1024 * 1024, verifyPerSecond: 200, verifyBurst: 5_000 },
  // A gateway's presence: JSON with its certificate.
  state: { maxBytes: 64 * 1024, verifyPerSecond: 50, verifyBurst: 500 },
};

/** A token bucket: `take()` is false once the burst is spent, until time refills it. */
export class Budget {
  #tokens: number;
  #at: number;

  constructor(
    readonly perSecond: number,
    readonly burst: number,
    readonly now: () => number,
  ) {
    this.#tokens = burst;
    this.#at = now();
  }

  take(): boolean {
    const now = this.now();
    if (now > this.#at) {
      this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#at) / 1000) * this.perSecond);
      this.#at = now;
    }
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}

/** The hashes of the last `size` messages accepted, to drop replays before a signature check. */
export class Recent {
  readonly #seen = new Set<string>();
  constructor(readonly size: number) {}

  has(hash: string): boolean {
    return this.#seen.has(hash);
  }

  add(hash: string): void {
    this.#seen.add(hash);
    if (this.#seen.size > this.size) this.#seen.delete(this.#seen.values().next().value!);
  }
}

/** Refusals counted by topic and reason since the last report, with the first one's detail. */
export class RefusalLedger {
  readonly total: Record<string, number> = {};
  #counts = new Map<string, number>();
  #first: string | null = null;
  #since = 0;

  note(kind: InboundKind, reason: string, detail: string, now: number): void {
    const key = `${kind}|${reason}`;
    if (this.#counts.size === 0) {
      this.#first = `${kind} ${reason}: ${detail}`;
      this.#since = now;
    }
    this.#counts.set(key, (this.#counts.get(key) ?? 0) + 1);
    this.total[key] = (this.total[key] ?? 0) + 1;
  }

  get pending(): boolean {
    return this.#counts.size > 0;
  }

  /** The report of what was refused since the last one (and forgets it), or null if nothing was. */
  take(now: number): string | null {
    if (this.#counts.size === 0) return null;
    const byKind = new Map<string, string[]>();
    let n = 0;
    for (const [key, count] of [...this.#counts].sort((a, b) => b[1] - a[1])) {
      const [kind, reason] = key.split('|') as [string, string];
      byKind.set(kind, [...(byKind.get(kind) ?? []), `${reason} ${count}`]);
      n += count;
    }
    const parts = [...byKind].map(([kind, reasons]) => `${kind}: ${reasons.join(', ')}`);
    const text = `${n} gateway message(s) refused in ${Math.max(1, Math.round((now - this.#since) / 1000))} s (${parts.join('; ')}); first: ${this.#first}`;
    this.#counts = new Map();
    this.#first = null;
    return text.slice(0, 500);
  }
}
