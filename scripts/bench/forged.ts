/**
 * Forged traffic against a dock (DESIGN §8, second round): a holder of the broker password
 * publishes 10,000 forged acks and commands (scripts/sim/forger.ts: garbage, oversize, unknown
 * keys, a certified key id with a bad signature, acks for another dock, replays) on a dock's
 * topics through the embedded broker, with one genuine ack in the middle. The dock runs in its own
 * process; measured: its CPU time for the flood (limit 3 s), the rows it stored (limit 10), and
 * how soon the genuine ack was acted on (limit 1 s).
 */
import { fork } from 'node:child_process';
import mqtt from 'mqtt';
import { pb } from '../../proto/wire.js';
import { sealEnvelope } from '../../proto/envelope.js';
import { signGatewayCertificate } from '../../proto/gateway-cert.js';
import { deviceTopic } from '../../proto/topics.js';
import { signerFromSeed } from '../../device/custody/keys.js';
import { startEmbeddedBroker, GATEWAY_MQTT_USER } from '../../gateway/broker.js';
import { forgeries } from '../sim/forger.js';
import { BenchCheckError, deployedDock, limitRow, pseudoRandomBytes, type BenchContext, type Benchmark } from './harness.js';

const CHILD = new URL('./forged-dock.js', import.meta.url).pathname;
const SECRET = 'bench-gateway-secret';

interface Result {
  cpuMs: number;
  rows: number;
  refused: number;
  actedAt: number;
  signatureChecks: number;
  reasons: Record<string, number>;
}

export const forged: Benchmark = {
  name: 'forged',
  summary: '10,000 forged acks and commands against one dock: its CPU, the rows it stores, and how soon a genuine ack among them is acted on',
  async run(ctx: BenchContext) {
    const n = Number(process.env.BWC_BENCH_FORGED ?? 10_000);
    const root = signerFromSeed(pseudoRandomBytes(32, 11));
    const gateway = signerFromSeed(pseudoRandomBytes(32, 12));
    const certificate = signGatewayCertificate(
      {
        gatewayId: 'gw-bench',
        fleet: 'f1',
        publicKey: gateway.publicKey,
        notBeforeMs: Date.now() - 3600_000,
        notAfterMs: Date.now() + 86_400_000,
      },
      root,
    );
    const broker = await startEmbeddedBroker({
      fleet: 'f1',
      port: 0,
      gatewaySecret: SECRET,
      checkDevice: async (id, pw) => id === 'dock-bench' && pw === 'dock-pw',
    });
    // The dock's process runs with the node options of its systemd unit, as deployed.
    const deployed = deployedDock();
    const prof = process.env.BWC_BENCH_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BWC_BENCH_PROF}`] : [];
    const child = fork(CHILD, [], {
      execArgv: [...deployed.nodeArgs, ...prof],
      env: { ...process.env, ...deployed.env },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const messages: Record<string, unknown>[] = [];
    const next = (key: string) =>
      new Promise<unknown>((resolve, reject) => {
        const found = () => messages.find((m) => key in m);
        const check = () => {
          const m = found();
          if (m) {
            child.off('message', onMsg);
            resolve(m[key]);
          }
        };
        const onMsg = (m: Record<string, unknown>) => {
          if ('fault' in m) ctx.progress(`dock fault: ${String(m.fault)}`);
          messages.push(m);
          check();
        };
        child.on('message', onMsg);
        child.once('exit', (code) => reject(new BenchCheckError(`the dock process exited (${code}) before ${key}`)));
        check();
      });
    const forger = await mqtt.connectAsync(broker.url, {
      clientId: 'forger',
      username: GATEWAY_MQTT_USER,
      password: SECRET,
      reconnectPeriod: 0,
    });
    const gatewayClient = await mqtt.connectAsync(broker.url, {
      clientId: 'bwc-gw-bench',
      username: GATEWAY_MQTT_USER,
      password: SECRET,
      reconnectPeriod: 0,
    });
    try {
      const skipped = (process.env.BWC_BENCH_FORGED_SKIP ?? '').split(',').filter(Boolean).length;
      const expected = n - Math.round((n * skipped) / 8);
      child.send({
        start: {
          brokerUrl: broker.url,
          password: 'dock-pw',
          root: root.publicKeyHex,
          certificate: Buffer.from(certificate).toString('base64'),
          expected,
        },
      });
      const { pending } = (await next('ready')) as { pending: string };
      const genuine = (hash: string) =>
        Buffer.from(
          sealEnvelope(
            'Ack',
            pb.Ack.encode({
              header: { issuer: 'gw-bench', subjectDevice: 'dock-bench', fleet: 'f1', seq: 1, createdAtMs: Date.now() },
              kind: pb.AckKind.ACK_KIND_RECEIVED,
              deviceId: 'dock-bench',
              ackedHash: Buffer.from(hash, 'hex'),
              ackedType: 'Event',
              storedAtMs: Date.now(),
            }).finish(),
            gateway,
          ).bytes,
        );
      const replayable = genuine('00'.repeat(32));
      ctx.progress(`forged: forging ${n} messages`);
      const skip = (process.env.BWC_BENCH_FORGED_SKIP ?? '').split(',');
      const forged = forgeries({ deviceId: 'dock-bench', fleet: 'f1', gatewayKeyId: gateway.keyId, genuineAck: replayable }, n).filter(
        (f) => !skip.includes(f.kind),
      );
      const topic = (t: 'ack' | 'cmd') => deviceTopic('f1', 'dock-bench', t);
      ctx.progress('forged: flooding the dock');
      await forger.publishAsync(topic('ack'), replayable, { qos: 1 });
      // The genuine gateway is another client: its ack reaches the broker while the flood is half
      // through it (half the forgeries acknowledged by the broker), and joins the flood there.
      let genuineAt = 0;
      let taken = 0;
      let genuineSent: Promise<unknown> = Promise.resolve();
      const half = Math.floor(forged.length / 2);
      const sends = forged.map((f) =>
        forger.publishAsync(topic(f.topic), f.payload, { qos: 1 }).then(() => {
          if (++taken === half) {
            genuineAt = Date.now();
            genuineSent = gatewayClient.publishAsync(topic('ack'), genuine(pending), { qos: 1 });
          }
        }),
      );
      await Promise.all(sends);
      await genuineSent;
      child.send({ flooded: true });
      const r = (await next('result')) as Result;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 10_000);
        child.once('exit', () => {
          clearTimeout(t);
          resolve();
        });
      });
      if (r.refused < expected) throw new BenchCheckError(`the dock refused ${r.refused} of ${n} forgeries`);
      if (!r.actedAt) throw new BenchCheckError('the genuine ack was never acted on');
      const actedMs = Math.max(0, r.actedAt - genuineAt);
      return {
        rows: [
          limitRow(`dock CPU for ${n.toLocaleString('en-US')} forged acks and commands`, r.cpuMs / 1000, 3, 's'),
          limitRow('rows the dock stored for them', Math.max(r.rows, 0.001), 10, 'rows'),
          limitRow('genuine ack among them acted on after', actedMs / 1000, 1, 's'),
        ],
        details: { n, ...r, actedMs },
        notes: [
          `refused by reason: ${Object.entries(r.reasons)
            .map(([k, v]) => `${k} ${v}`)
            .join(', ')}`,
          `signatures checked: ${r.signatureChecks} (the rest were refused by cheaper checks first)`,
          `rows stored: ${r.rows} (the aggregated SYNC_ERROR report); the flood and the dock share the machine's cores`,
        ],
      };
    } finally {
      await forger.endAsync().catch(() => {});
      await gatewayClient.endAsync().catch(() => {});
      child.kill();
      await broker.close();
    }
  },
};
