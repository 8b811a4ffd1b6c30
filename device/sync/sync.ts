/**
 * The dock's side of the MQTT contract (DESIGN §4): signs what the dock says, queues it in the
 * SQLite outbox, drains the outbox over a supervised session, and takes the gateway's signed acks
 * and commands.
 *
 * - Every message gets a Header (issuer and subject = this device, fleet, seq per type persisted,
 *   created-at) and is signed with the device key before it is queued; the outbox keeps the exact
 *   bytes. At most `maxInFlight` messages wait for their ack; one unacked after `ackTimeoutMs` is
 *   sent again, as are all unacked ones on a new connection.
 * - Birth on every connection with a bdSeq that increases each time; the Will is a Death signed
 *   with the same bdSeq (Sparkplug B). A clean stop publishes Death{clean} itself.
 * - Acks and commands must be signed by a root-certified gateway key (trust.ts) and name this
 *   device. Forged traffic costs bounded CPU and storage (inbound.ts): cheap checks before any
 *   signature, replays dropped, a per-topic budget of signature checks, and refusals counted and
 *   reported to the gateway in aggregate (one SYNC_ERROR event per report interval).
 * - Gateway presence messages (retained) bring the replicas' certificates.
 */
import { pb, type bwc } from '../../proto/wire.js';
import { sealEnvelope, type Signer } from '../../proto/envelope.js';
import { deviceTopic, parseTopic, TOPIC_ROOT, type DockKind } from '../../proto/topics.js';
import { sha256, toHex } from '../../proto/bytes.js';
import { isWireError } from '../../proto/errors.js';
import type { GatewayCert } from '../../proto/gateway-cert.js';
import type { Outbox, OutboxKind } from '../store/outbox.js';
import type { DockState } from '../store/state.js';
import type { Logger } from 'pino';
import { MqttSession, type MqttSessionOptions } from './session.js';
import { Uploader, type UploadSource } from './uploader.js';
import type { GatewayTrust } from './trust.js';
import { Budget, INBOUND_LIMITS, Recent, RefusalLedger, type InboundKind, type InboundLimits } from './inbound.js';

/**
 * What the dock signs itself, one payload type per message type: exactly the fields of that
 * protobuf message (the Header is added by `seal`). A misspelt field is a compile error, and
 * `seal` refuses at run time a field the message does not have, rather than encoding without it.
 */
export interface DockBodies {
  Birth: Omit<bwc.v1.Birth.$Properties, 'header'>;
  Death: Omit<bwc.v1.Death.$Properties, 'header'>;
  Status: Omit<bwc.v1.Status.$Properties, 'header'>;
  Event: Omit<bwc.v1.Event.$Properties, 'header'>;
  Log: Omit<bwc.v1.Log.$Properties, 'header'>;
}

/** Which message type each outbox kind carries when the dock signs it (manifests come signed from custody). */
export interface DockSends {
  birth: 'Birth';
  status: 'Status';
  event: 'Event';
  log: 'Log';
}
export type SendKind = keyof DockSends;
const SENDS: Readonly<DockSends> = { birth: 'Birth', status: 'Status', event: 'Event', log: 'Log' };

export type SessionSettings = Omit<MqttSessionOptions, 'clientId' | 'subscriptions' | 'will' | 'onConnected' | 'onDisconnected' | 'onMessage' | 'log' | 'now'>;

export interface DockSyncOptions {
  deviceId: string;
  fleet: string;
  signer: Signer;
  state: DockState;
  outbox: Outbox;
  trust: GatewayTrust;
  session: SessionSettings;
  maxInFlight: number;
  chunkWindow: number;
  ackTimeoutMs: number;
  statusIntervalMs: number;
  /** Birth fields beyond header and bdSeq, at connect time. */
  birth(): Omit<bwc.v1.Birth.$Properties, 'header' | 'bdSeq'>;
  status(): Omit<bwc.v1.Status.$Properties, 'header'>;
  onAck(ack: bwc.v1.Ack, envelope: Uint8Array, gateway: GatewayCert): void | Promise<void>;
  /** Applies a verified command; returns its outcome ("applied", "refused: …"). */
  onCommand(cmd: bwc.v1.Command, envelope: Uint8Array, gateway: GatewayCert): Promise<string>;
  onConnected?(): void;
  onUploadSent(manifestHash: string): void;
  onUploadError(manifestHash: string, error: Error): void;
  onUploadProgress?(manifestHash: string, sentBytes: number, totalBytes: number): void;
  /**
   * Background work that failed (a full state directory, most likely): the dock says so and goes
   * on; what failed is retried (the outbox keeps every unacked message, the gateway resends).
   */
  onFault(what: string, error: unknown): void;
  /**
   * The dock's logger (device/log.ts): DockSync logs through its `sync` child, the MQTT connection
   * through its `session` child.
   */
  log: Logger;
  now?: () => number;
  /** At most one aggregated report of refused gateway traffic per this many ms (default 60 s). */
  refusalReportMs?: number;
  /** Per-topic limits (inbound.ts); tests and benchmarks narrow them. */
  inboundLimits?: Partial<Record<InboundKind, Partial<InboundLimits>>>;
}

export interface SyncCounters {
  acks: number;
  acksRefused: number;
  commands: number;
  commandsRefused: number;
  resent: number;
  /** Signatures checked on gateway traffic (acks, commands, certificates). */
  signatureChecks: number;
  /** Aggregated refusal reports sent (SYNC_ERROR events). */
  refusalReports: number;
  /** Acks and commands dropped because the same message was already taken (redeliveries, replays). */
  replays: number;
}

const PUMP_TICK_MS = 1000;
const OUTBOX_DUE_CACHE_MS = 20;

export class DockSync {
  readonly counters: SyncCounters = {
    acks: 0,
    acksRefused: 0,
    commands: 0,
    commandsRefused: 0,
    resent: 0,
    signatureChecks: 0,
    refusalReports: 0,
    replays: 0,
  };
  /** Refused gateway traffic by `topic|reason`, since start. */
  readonly refusals = new RefusalLedger();
  readonly #limits: Record<InboundKind, InboundLimits>;
  readonly #budgets: Record<InboundKind, Budget>;
  readonly #recent = new Recent(2048);
  #reportTimer: NodeJS.Timeout | null = null;
  #lastReportAt = -Infinity;
  readonly session: MqttSession;
  readonly uploader: Uploader;
  readonly #o: DockSyncOptions;
  readonly #now: () => number;
  #bdSeq = 0;
  #timers: NodeJS.Timeout[] = [];
  #pumping = false;
  #pumpAgain = false;
  #pumpScheduled = false;
  #due = false;
  #dueAt = -Infinity;
  #started = false;

  constructor(options: DockSyncOptions) {
    const root = options.log;
    this.#o = { ...options, log: root.child({ part: 'sync' }) };
    this.#now = options.now ?? Date.now;
    const o = this.#o;
    const limit = (k: InboundKind): InboundLimits => ({ ...INBOUND_LIMITS[k], ...o.inboundLimits?.[k] });
    this.#limits = { ack: limit('ack'), cmd: limit('cmd'), state: limit('state') };
    const budget = (k: InboundKind) => new Budget(this.#limits[k].verifyPerSecond, this.#limits[k].verifyBurst, this.#now);
    this.#budgets = { ack: budget('ack'), cmd: budget('cmd'), state: budget('state') };
    this.session = new MqttSession({
      ...o.session,
      clientId: o.deviceId,
      subscriptions: [deviceTopic(o.fleet, o.deviceId, 'cmd'), deviceTopic(o.fleet, o.deviceId, 'ack'), `${TOPIC_ROOT}/${o.fleet}/_gateway/+/state`],
      will: () => this.#will(),
      onWillError: (e) => o.onFault('connection (Will)', e),
      onConnected: () => this.#onConnected(),
      onDisconnected: (reason) => {
        this.uploader.reset();
        o.log.warn(`mqtt: disconnected (${reason}); ${this.#o.outbox.depth().messages} message(s) kept in the outbox`);
      },
      onMessage: (topic, payload) => void this.#onMessage(topic, payload).catch((e: unknown) => o.onFault('gateway message', e)),
      log: root.child({ part: 'session' }),
      now: this.#now,
    });
    this.uploader = new Uploader({
      window: o.chunkWindow,
      publish: (payload) => this.session.publish(deviceTopic(o.fleet, o.deviceId, 'chunk'), payload),
      canSend: () => this.session.connected && !this.#outboxDue(),
      onSent: (h) => this.#guard('upload', () => o.onUploadSent(h)),
      onError: (h, e) => this.#guard('upload', () => o.onUploadError(h, e)),
      ...(o.onUploadProgress ? { onProgress: (h: string, d: number, t: number) => this.#guard('upload progress', () => o.onUploadProgress!(h, d, t)) } : {}),
    });
  }

  get connected(): boolean {
    return this.session.connected;
  }

  get bdSeq(): number {
    return this.#bdSeq;
  }

  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.session.start();
    const pump = setInterval(() => this.#guard('outbox', () => this.pump()), PUMP_TICK_MS);
    const status = setInterval(() => this.#guard('status', () => this.sendStatus()), this.#o.statusIntervalMs);
    pump.unref();
    status.unref();
    this.#timers.push(pump, status);
  }

  /** Publishes a clean Death, disconnects, stops the timers. The outbox keeps what is unacked. */
  async stop(): Promise<void> {
    if (!this.#started) return;
    this.#started = false;
    for (const t of this.#timers) clearInterval(t);
    this.#timers = [];
    if (this.#reportTimer) clearTimeout(this.#reportTimer);
    this.#reportTimer = null;
    this.#guard('refusal report', () => this.flushRefusals());
    await this.uploader.close();
    let death: { bytes: Uint8Array } | null = null;
    try {
      death = this.seal('Death', { bdSeq: this.#bdSeq, clean: true });
    } catch (e) {
      // No clean Death (its seq could not be saved): the broker publishes the Will instead.
      this.#o.onFault('clean Death', e);
    }
    await this.session.stop(death ? { topic: this.#topic('death'), payload: death.bytes } : undefined);
  }

  /** Runs background work; a failure is reported, never thrown into a timer or an event. */
  #guard(what: string, fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.#o.onFault(what, e);
    }
  }

  #topic(kind: DockKind): string {
    return deviceTopic(this.#o.fleet, this.#o.deviceId, kind);
  }

  /** Signs a message of `type` with a fresh Header. Throws on a field `type` does not have. */
  seal<T extends keyof DockBodies>(type: T, message: DockBodies[T]): { bytes: Uint8Array; hash: string } {
    const o = this.#o;
    const codec = (pb as unknown as Record<string, { prototype: object; encode(m: object): { finish(): Uint8Array } }>)[type]!;
    // protobufjs encodes the fields it knows and drops the rest without a word.
    for (const field of Object.keys(message)) {
      if (field === 'header' || !(field in codec.prototype)) throw new TypeError(`${type} has no field ${JSON.stringify(field)}`);
    }
    const header: bwc.v1.IHeader = {
      issuer: o.deviceId,
      subjectDevice: o.deviceId,
      fleet: o.fleet,
      seq: o.state.nextSeq(type),
      createdAtMs: this.#now(),
    };
    const sealed = sealEnvelope(type, codec.encode({ ...message, header }).finish(), o.signer);
    return { bytes: sealed.bytes, hash: toHex(sealed.hash) };
  }

  /**
   * Whether the outbox has a message to send (chunks wait for it). Asked for every chunk, so the
   * answer is kept for OUTBOX_DUE_CACHE_MS; queuing a message sets it at once, a pump clears it.
   */
  #outboxDue(): boolean {
    const now = this.#now();
    if (now - this.#dueAt >= OUTBOX_DUE_CACHE_MS || now < this.#dueAt) {
      this.#due = this.#o.outbox.due(now - this.#o.ackTimeoutMs, 1).length > 0;
      this.#dueAt = now;
    }
    return this.#due;
  }

  /** Signs and queues a message; it is sent as soon as the connection and the window allow. */
  send<K extends SendKind>(kind: K, type: DockSends[K], message: DockBodies[DockSends[K]], subject?: string): string {
    if (SENDS[kind] !== type) throw new TypeError(`a ${type} is not sent as ${kind}`);
    const sealed = this.seal(type, message);
    this.#o.outbox.add({ kind, type, hash: sealed.hash, envelope: sealed.bytes, subject: subject ?? null }, this.#now());
    this.#due = true;
    this.#dueAt = this.#now();
    this.#pumpSoon();
    return sealed.hash;
  }

  /** Queues already-signed bytes again (a manifest resent to learn its state at the gateway). */
  requeue(kind: OutboxKind, type: string, hash: string, envelope: Uint8Array, subject?: string): void {
    this.#o.outbox.add({ kind, type, hash, envelope, subject: subject ?? null }, this.#now());
    this.#due = true;
    this.#dueAt = this.#now();
    this.#pumpSoon();
  }

  /**
   * Drains after the current turn: a caller queuing inside its own transaction has committed by
   * then, so nothing leaves the dock that a crash could still roll back (and re-sign differently).
   */
  #pumpSoon(): void {
    if (this.#pumpScheduled) return;
    this.#pumpScheduled = true;
    setImmediate(() => {
      this.#pumpScheduled = false;
      this.#guard('outbox', () => this.pump());
    });
  }

  sendStatus(): void {
    this.#o.outbox.dropUnsent('status');
    this.send('status', 'Status', this.#o.status());
  }

  upload(source: UploadSource, ranges: readonly { start: number; end: number }[], options: { check?: boolean } = {}): void {
    this.uploader.request(source, ranges, options);
  }

  #will(): { topic: string; payload: Buffer } {
    const o = this.#o;
    this.#bdSeq = o.state.transaction(() => {
      const next = Number(o.state.get('bdSeq') ?? '0') + 1;
      o.state.set('bdSeq', String(next));
      return next;
    });
    const death = this.seal('Death', { bdSeq: this.#bdSeq, clean: false });
    return { topic: this.#topic('death'), payload: Buffer.from(death.bytes) };
  }

  #onConnected(): void {
    const o = this.#o;
    o.outbox.transaction(() => {
      o.outbox.supersede('birth');
      o.outbox.resendAll();
    });
    this.send('birth', 'Birth', { ...o.birth(), bdSeq: this.#bdSeq });
    o.onConnected?.();
    this.pump();
    this.uploader.pump();
  }

  /** Publishes what the outbox holds, in order, within the window. */
  pump(): void {
    if (this.#pumping) {
      this.#pumpAgain = true;
      return;
    }
    if (!this.session.connected) return;
    this.#pumping = true;
    try {
      const o = this.#o;
      const now = this.#now();
      const resendBefore = now - o.ackTimeoutMs;
      const room = o.maxInFlight - o.outbox.inFlight(resendBefore);
      if (room > 0) {
        for (const row of o.outbox.due(resendBefore, room)) {
          if (row.attempts > 0) this.counters.resent++;
          o.outbox.markSent(row.id, now);
          this.session.publish(this.#topic(row.kind), row.envelope).then(
            () => this.uploader.pump(),
            () => {
              // Not sent (the connection went): the next connection resends every unacked row.
            },
          );
        }
      }
    } finally {
      this.#pumping = false;
      this.#dueAt = -Infinity; // asked again before the next chunk
    }
    if (this.#pumpAgain) {
      this.#pumpAgain = false;
      this.pump();
    } else {
      this.uploader.pump();
    }
  }

  async #onMessage(topic: string, payload: Buffer): Promise<void> {
    let parsed;
    try {
      parsed = parseTopic(topic);
    } catch {
      this.#refuse('state', 'unexpected topic', topic.slice(0, 120));
      return;
    }
    if (parsed.kind === 'gateway-state') {
      this.#onGatewayState(parsed.gatewayId, payload);
      return;
    }
    if (parsed.kind === 'ack') await this.#onAck(payload);
    else if (parsed.kind === 'cmd') await this.#onCommand(payload);
    else this.#refuse('state', 'unexpected topic', topic.slice(0, 120));
  }

  #onGatewayState(gatewayId: string, payload: Buffer): null {
    if (payload.byteLength === 0) return null; // a cleared retained message
    if (payload.byteLength > this.#limits.state.maxBytes) return this.#refuse('state', 'too large', `${payload.byteLength} bytes from ${gatewayId}`);
    let cert: string | undefined;
    try {
      cert = (JSON.parse(payload.toString('utf8')) as { certificate?: string }).certificate;
    } catch {
      return this.#refuse('state', 'malformed', `presence of ${gatewayId} is not JSON`);
    }
    if (typeof cert !== 'string' || cert === '') return null;
    const bytes = Buffer.from(cert, 'base64');
    if (this.#o.trust.knows(bytes)) return null; // already checked and trusted
    const hash = toHex(sha256(bytes));
    if (this.#recent.has(`state:${hash}`)) return this.#refuse('state', 'replayed', `a certificate already refused, from ${gatewayId}`);
    if (!this.#budgets.state.take()) return this.#refuse('state', 'over budget', `presence of ${gatewayId} not checked`);
    try {
      this.counters.signatureChecks++;
      const c = this.#o.trust.addCertificate(bytes, this.#now());
      const known = this.#o.state.json<string[]>('gateway_certs') ?? [];
      if (!known.includes(cert)) this.#o.state.setJson('gateway_certs', [...known.filter((k) => k !== cert), cert].slice(-32));
      if (c.gatewayId !== gatewayId) this.#o.log.warn(`gateway presence ${gatewayId} carries the certificate of ${c.gatewayId}`);
    } catch (e) {
      this.#recent.add(`state:${hash}`);
      this.#refuse('state', 'certificate refused', `${gatewayId}: ${(e as Error).message}`);
    }
    return null;
  }

  /**
   * The checks every ack and command goes through, cheapest first; the signature last, within the
   * topic's budget. Returns the opened message, or null when it was refused (and counted).
   */
  #admit<T extends { header?: bwc.v1.IHeader | null }>(
    kind: 'ack' | 'cmd',
    type: 'Ack' | 'Command',
    payload: Buffer,
    decode: (body: Uint8Array) => T,
    addressed: (m: T) => string | null,
  ): { message: T; gateway: GatewayCert; hash: string } | null {
    const o = this.#o;
    if (payload.byteLength > this.#limits[kind].maxBytes) return this.#refuse(kind, 'too large', `${payload.byteLength} bytes`);
    // Refusals here are thrown errors; a stack trace is most of what one costs, and nobody reads
    // it (the refusal is counted and summarized), so none is captured.
    const stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    let prepared;
    let message: T;
    try {
      try {
        prepared = o.trust.prepare(payload, type, this.#now(), this.#limits[kind].maxBytes);
      } catch (e) {
        const code = isWireError(e) ? e.code : 'UNDECODABLE';
        return this.#refuse(kind, code === 'BAD_KEY' ? 'unknown key' : code === 'NOT_SIGNED' ? 'not signed' : 'malformed', (e as Error).message);
      }
      try {
        message = decode(prepared.env.body);
      } catch (e) {
        return this.#refuse(kind, 'malformed', `${type} body cannot be decoded: ${(e as Error).message}`);
      }
    } finally {
      Error.stackTraceLimit = stackTraceLimit;
    }
    const misaddressed = addressed(message);
    if (misaddressed) return this.#refuse(kind, 'not for this dock', misaddressed);
    const hash = toHex(prepared.env.hash);
    if (this.#recent.has(`${kind}:${hash}`)) {
      // A message already taken: a QoS 1 redelivery after a reconnect, or a forger's replay. Either
      // way harmless once dropped, so it is counted apart and not reported as a refusal.
      this.counters.replays++;
      return null;
    }
    if (!this.#budgets[kind].take()) return this.#refuse(kind, 'over budget', `${type} not checked: more than the budget of signature checks`);
    try {
      this.counters.signatureChecks++;
      o.trust.verify(prepared);
    } catch (e) {
      return this.#refuse(kind, 'bad signature', (e as Error).message);
    }
    this.#recent.add(`${kind}:${hash}`);
    return { message, gateway: prepared.gateway, hash };
  }

  #addressedToMe(h: bwc.v1.IHeader | null | undefined, what: string): string | null {
    const o = this.#o;
    if (!h || h.subjectDevice !== o.deviceId) return `the ${what} is addressed to ${h?.subjectDevice || 'no device'}`;
    if (h.fleet !== o.fleet) return `the ${what} is for fleet ${h.fleet}`;
    return null;
  }

  async #onAck(payload: Buffer): Promise<void> {
    const o = this.#o;
    const admitted = this.#admit(
      'ack',
      'Ack',
      payload,
      (b) => pb.Ack.decode(b),
      (ack) => {
        if (ack.deviceId !== o.deviceId) return `the ack names device ${ack.deviceId}`;
        return this.#addressedToMe(ack.header, 'ack');
      },
    );
    if (!admitted) return;
    const { message: ack, gateway } = admitted;
    this.counters.acks++;
    if (ack.ackedHash.byteLength === 32) o.outbox.ack(toHex(ack.ackedHash));
    try {
      await o.onAck(ack, payload, gateway);
    } catch (e) {
      o.onFault(`ack ${pb.AckKind[ack.kind]}`, e);
    }
    this.pump();
  }

  async #onCommand(payload: Buffer): Promise<void> {
    const o = this.#o;
    const admitted = this.#admit(
      'cmd',
      'Command',
      payload,
      (b) => pb.Command.decode(b),
      (cmd) => {
        return this.#addressedToMe(cmd.header, 'command') ?? (cmd.commandId ? null : 'the command has no id');
      },
    );
    if (!admitted) return;
    const { message: cmd, gateway } = admitted;
    const seen = o.state.commandOutcome(cmd.commandId);
    if (seen !== undefined) {
      o.log.debug(`command ${cmd.commandId} already applied (${seen})`);
      return;
    }
    this.counters.commands++;
    let outcome: string;
    try {
      outcome = await o.onCommand(cmd, payload, gateway);
    } catch (e) {
      // Not recorded as applied: a command that failed (a full state directory) is applied when
      // the gateway sends it again (at the next Birth).
      o.onFault(`command ${cmd.commandId} (${cmd.cmd})`, e);
      return;
    }
    o.state.recordCommand(cmd.commandId, outcome, this.#now());
    o.log.info(`command ${cmd.commandId} (${cmd.cmd}): ${outcome}`);
  }

  /**
   * Counts a refusal; nothing is stored or logged per refusal. The first refusal after a quiet
   * spell schedules one aggregated report (a SYNC_ERROR event and one log line), at most one per
   * `refusalReportMs`, a few seconds after the first so a burst lands in one report.
   */
  #refuse(kind: InboundKind, reason: string, detail: string): null {
    if (kind === 'ack') this.counters.acksRefused++;
    else if (kind === 'cmd') this.counters.commandsRefused++;
    this.refusals.note(kind, reason, detail, this.#now());
    if (!this.#reportTimer && this.#started) {
      const every = this.#o.refusalReportMs ?? 60_000;
      const delay = Math.max(Math.min(5_000, every), this.#lastReportAt + every - this.#now());
      this.#reportTimer = setTimeout(() => {
        this.#reportTimer = null;
        this.#guard('refusal report', () => this.flushRefusals());
      }, delay);
      this.#reportTimer.unref();
    }
    return null;
  }

  /** Sends the aggregated report of refused gateway traffic now, if there is one. */
  flushRefusals(): void {
    const text = this.refusals.take(this.#now());
    if (!text) return;
    this.#lastReportAt = this.#now();
    this.counters.refusalReports++;
    this.#o.log.warn(text);
    this.send('event', 'Event', {
      kind: pb.EventKind.EVENT_KIND_ALERT,
      alert: pb.AlertKind.ALERT_KIND_SYNC_ERROR,
      detail: text,
      occurredAtMs: this.#now(),
    });
  }
}
