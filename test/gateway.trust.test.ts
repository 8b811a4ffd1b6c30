/**
 * The gateway's side of the chain of trust (DESIGN §4 "Who signs what", §8 "Enrollment"): gateway
 * certificates signed by the agency root (proto/gateway-cert.ts), checked by OpenSSL too;
 * `bwc authz sign-gateway-cert` and `show`; the `trust` configuration checked at startup; the
 * certificate in the gateway's presence; enrollment answered with a signed EnrollmentResponse (and
 * refused, token unspent, without trust); and the bundle and assignments pushed to a dock at Birth.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt, { type MqttClient } from 'mqtt';
import pino from 'pino';
import { pb, type bwc } from '../proto/wire.js';
import { assertEnvelopeSigned, encodeUnsignedEnvelope, openEnvelope, sealEnvelope, signedInput, type Signer } from '../proto/envelope.js';
import { keyIdOf, trustPublicKey } from '../proto/ed25519.js';
import { sha256, toHex } from '../proto/bytes.js';
import { isWireError, type WireError } from '../proto/errors.js';
import { signGatewayCertificate, verifyGatewayCertificate, type GatewayCert } from '../proto/gateway-cert.js';
import { verifyBundle } from '../proto/policy.js';
import { deviceTopic, gatewayStateTopic } from '../proto/topics.js';
import { ConfigError, loadGatewayConfig, parseGatewayConfig } from '../gateway/config.js';
import { startGateway, type RunningGateway } from '../gateway/gateway.js';
import { silentLogger } from '../gateway/api/http.js';
import { signerFromSeed } from '../device/custody/keys.js';
import { TestDock, trustFiles, type TrustFiles } from './gateway.fixtures.js';
import { pseudoRandomBytes, run, runBwc, tempDir, until } from './helpers.js';

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 5, 1, 12, 0, 0);
const root = signerFromSeed(pseudoRandomBytes(32, 7001));
const rootKey = trustPublicKey(root.publicKey);
const otherRoot = signerFromSeed(pseudoRandomBytes(32, 7002));
const gatewayKey = signerFromSeed(pseudoRandomBytes(32, 7003));

// Keys that must never be certified (test/proto.ed25519.test.ts has the full lists).
const WEAK_KEYS: [string, string][] = [
  ['0100000000000000000000000000000000000000000000000000000000000000', 'WEAK_KEY'], // the identity
  ['ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', 'WEAK_KEY'], // order 2
  ['26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05', 'WEAK_KEY'], // order 8
  ['edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', 'WEAK_KEY'], // y = p
  ['0100000000000000000000000000000000000000000000000000000000000080', 'WEAK_KEY'], // identity, "negative zero" x
  ['00', 'BAD_KEY'], // 1 byte
];

const CERT = { gatewayId: 'gw-sea-1', fleet: 'sea', publicKey: gatewayKey.publicKey, notBeforeMs: T0, notAfterMs: T0 + 30 * DAY };

/** The WireError `fn` throws (fails the test if it throws anything else, or nothing). */
function wireError(fn: () => unknown): WireError {
  try {
    fn();
  } catch (e) {
    expect(isWireError(e), `a WireError, got ${String(e)}`).toBe(true);
    return e as WireError;
  }
  throw new Error('expected a WireError, nothing was thrown');
}

/** A certificate body signed as given, bypassing signGatewayCertificate's checks (what a forger could send). */
function rawCertificate(fields: Partial<bwc.v1.GatewayCertificate.$Properties>, signer: Signer = root): Uint8Array {
  const body = pb.GatewayCertificate.encode({
    header: { issuer: signer.keyId, fleet: CERT.fleet, seq: 0, createdAtMs: T0 },
    gatewayId: CERT.gatewayId,
    fleet: CERT.fleet,
    publicKey: CERT.publicKey,
    notBeforeMs: CERT.notBeforeMs,
    notAfterMs: CERT.notAfterMs,
    ...fields,
  }).finish();
  return sealEnvelope('GatewayCertificate', body, signer).bytes;
}

// ───────────────────────── proto/gateway-cert.ts ─────────────────────────

describe('gateway certificates (proto/gateway-cert.ts)', () => {
  const bytes = signGatewayCertificate(CERT, root, T0 - 1000);

  it('signs an Envelope of GatewayCertificate with the root key, header issuer = the root key id, seq 0, and verifies it back', () => {
    const env = openEnvelope(bytes, { expectType: 'GatewayCertificate' });
    expect(env.keyId).toBe(root.keyId);
    const body = pb.GatewayCertificate.decode(env.body);
    expect(body.header).toMatchObject({ issuer: root.keyId, fleet: 'sea', createdAtMs: T0 - 1000 });
    expect(Number(body.header!.seq)).toBe(0);
    const c = verifyGatewayCertificate(bytes, rootKey, { fleet: 'sea', gatewayId: 'gw-sea-1', at: T0 + DAY });
    expect(c).toMatchObject({ gatewayId: 'gw-sea-1', fleet: 'sea', notBeforeMs: T0, notAfterMs: T0 + 30 * DAY });
    expect(Buffer.from(c.publicKey).equals(Buffer.from(gatewayKey.publicKey))).toBe(true);
    expect(c.key.keyId).toBe(gatewayKey.keyId);
    expect(c.hash).toBe(toHex(sha256(signedInput('GatewayCertificate', env.body))));
    expect(c.bytes).toBe(bytes);
    // The validity window includes both ends.
    expect(verifyGatewayCertificate(bytes, rootKey, { at: T0 }).gatewayId).toBe('gw-sea-1');
    expect(verifyGatewayCertificate(bytes, rootKey, { at: T0 + 30 * DAY }).gatewayId).toBe('gw-sea-1');
  });

  it('refuses a certificate signed by another root, an unsigned one and a tampered one', () => {
    const other = wireError(() => verifyGatewayCertificate(signGatewayCertificate(CERT, otherRoot), rootKey, { at: T0 }));
    expect(other.code).toBe('BAD_SIGNATURE');
    expect(other.message).toMatch(/signed by key [0-9a-f]{16}…, not by the root key/);
    // Signed by another key, but claiming the root's key id.
    const env = openEnvelope(signGatewayCertificate(CERT, otherRoot), {});
    const claimed = pb.Envelope.encode({ type: env.type, body: env.body, keyId: root.keyId, sig: env.sig }).finish();
    expect(wireError(() => verifyGatewayCertificate(claimed, rootKey, { at: T0 })).code).toBe('BAD_SIGNATURE');
    const unsigned = pb.Envelope.encode({ type: 'GatewayCertificate', body: openEnvelope(bytes).body }).finish();
    expect(wireError(() => verifyGatewayCertificate(unsigned, rootKey, { at: T0 })).code).toBe('NOT_SIGNED');
    const tampered = Buffer.from(bytes);
    tampered[40] = tampered[40]! ^ 0x01; // inside the body (the header's issuer)
    expect(wireError(() => verifyGatewayCertificate(tampered, rootKey, { at: T0 })).code).toBe('BAD_SIGNATURE');
  });

  it('refuses what is not a GatewayCertificate', () => {
    const bundle = sealEnvelope('PolicyBundle', pb.PolicyBundle.encode({ version: 1 }).finish(), root).bytes;
    const e = wireError(() => verifyGatewayCertificate(bundle, rootKey, { at: T0 }));
    expect(e.code).toBe('WRONG_TYPE');
    expect(e.message).toMatch(/holds a PolicyBundle, not a GatewayCertificate/);
    expect(wireError(() => verifyGatewayCertificate(Buffer.from('not a certificate at all'), rootKey)).code).toMatch(/UNDECODABLE|BAD_TYPE/);
    expect(wireError(() => verifyGatewayCertificate(new Uint8Array(0), rootKey)).code).toBe('EMPTY');
    expect(wireError(() => verifyGatewayCertificate(encodeUnsignedEnvelope('ClipChunk', new Uint8Array(3)), rootKey)).code).toBe('WRONG_TYPE');
    // A body that is not a GatewayCertificate, signed by the root.
    const garbage = sealEnvelope('GatewayCertificate', Buffer.from([0x0a, 0x05, 0x01]), root).bytes;
    expect(wireError(() => verifyGatewayCertificate(garbage, rootKey, { at: T0 })).code).toBe('UNDECODABLE');
    // A header that does not name the root as issuer.
    const issuer = rawCertificate({ header: { issuer: 'gw-sea-1', fleet: 'sea', seq: 0 } });
    expect(wireError(() => verifyGatewayCertificate(issuer, rootKey, { at: T0 })).message).toMatch(/header names issuer "gw-sea-1"/);
  });

  it('refuses a certificate outside its validity at `at`, naming the times', () => {
    const early = wireError(() => verifyGatewayCertificate(bytes, rootKey, { at: T0 - 1 }));
    expect(early.code).toBe('NOT_YET_VALID');
    expect(early.message).toContain(`not valid until ${new Date(T0).toISOString()}`);
    const late = wireError(() => verifyGatewayCertificate(bytes, rootKey, { at: T0 + 30 * DAY + 1 }));
    expect(late.code).toBe('EXPIRED');
    expect(late.message).toContain(`expired at ${new Date(T0 + 30 * DAY).toISOString()}`);
    // Without `at`, now: this one ended in the past.
    const old = signGatewayCertificate({ ...CERT, notBeforeMs: Date.now() - 10 * DAY, notAfterMs: Date.now() - DAY }, root);
    expect(wireError(() => verifyGatewayCertificate(old, rootKey)).code).toBe('EXPIRED');
    // A window that ends before it begins is refused by the signer and by the verifier.
    expect(wireError(() => signGatewayCertificate({ ...CERT, notAfterMs: T0 - 1 }, root)).code).toBe('INCONSISTENT');
    expect(wireError(() => verifyGatewayCertificate(rawCertificate({ notAfterMs: T0 - 1 }), rootKey, { at: T0 })).code).toBe('INCONSISTENT');
  });

  it('refuses a certificate for another fleet or another gateway id, and ids outside the grammar', () => {
    const fleet = wireError(() => verifyGatewayCertificate(bytes, rootKey, { fleet: 'pdx', at: T0 }));
    expect(fleet).toMatchObject({ code: 'INCONSISTENT', message: 'gateway certificate is for fleet sea, not pdx' });
    const id = wireError(() => verifyGatewayCertificate(bytes, rootKey, { gatewayId: 'gw-sea-2', at: T0 }));
    expect(id).toMatchObject({ code: 'INCONSISTENT', message: 'gateway certificate is for gateway gw-sea-1, not gw-sea-2' });
    for (const bad of ['', '_gateway', 'gw sea', 'a/b', 'x'.repeat(65)]) {
      expect(wireError(() => signGatewayCertificate({ ...CERT, gatewayId: bad }, root)).code, bad).toBe('BAD_ID');
      expect(wireError(() => signGatewayCertificate({ ...CERT, fleet: bad }, root)).code, bad).toBe('BAD_ID');
      expect(wireError(() => verifyGatewayCertificate(rawCertificate({ gatewayId: bad }), rootKey, { at: T0 })).code, bad).toBe('BAD_ID');
    }
  });

  it('never certifies a weak or malformed public key, and refuses one a forger certified', () => {
    for (const [hex, code] of WEAK_KEYS) {
      const key = Buffer.from(hex, 'hex');
      expect(wireError(() => signGatewayCertificate({ ...CERT, publicKey: key }, root)).code, hex).toBe(code);
      const e = wireError(() => verifyGatewayCertificate(rawCertificate({ publicKey: key }), rootKey, { at: T0 }));
      expect(e.code, hex).toBe(code);
      expect(e.message, hex).toMatch(/certified public key of gateway gw-sea-1/);
    }
  });

  it('is verified by OpenSSL from the signed input, the signature and the root public key (and not when one bit changes)', () => {
    const dir = tempDir();
    const env = openEnvelope(bytes);
    const input = signedInput(env.type, env.body);
    writeFileSync(join(dir, 'signed.bin'), input);
    writeFileSync(join(dir, 'sig.bin'), env.sig);
    writeFileSync(
      join(dir, 'root.pem'),
      `-----BEGIN PUBLIC KEY-----\n${Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), root.publicKey]).toString('base64')}\n-----END PUBLIC KEY-----\n`,
    );
    const verify = (file: string) =>
      run('openssl', ['pkeyutl', '-verify', '-pubin', '-inkey', join(dir, 'root.pem'), '-rawin', '-in', join(dir, file), '-sigfile', join(dir, 'sig.bin')]);
    const ok = verify('signed.bin');
    expect(ok.stdout + ok.stderr).toMatch(/Signature Verified Successfully/);
    expect(ok.code).toBe(0);
    const tampered = Buffer.from(input);
    tampered[tampered.length - 2] = tampered[tampered.length - 2]! ^ 0x01;
    writeFileSync(join(dir, 'tampered.bin'), tampered);
    const bad = verify('tampered.bin');
    expect(bad.stdout + bad.stderr).toMatch(/Signature Verification Failure/);
    expect(bad.code).not.toBe(0);
    // The hash is the SHA-256 of that same signed input.
    expect(verifyGatewayCertificate(bytes, rootKey, { at: T0 }).hash).toBe(toHex(sha256(readFileSync(join(dir, 'signed.bin')))));
  });
});

// ───────────────────────── bwc authz sign-gateway-cert and show ─────────────────────────

describe('bwc authz sign-gateway-cert', () => {
  const dir = tempDir();
  const p = (name: string) => join(dir, name);
  beforeAll(() => {
    expect(runBwc(['authz', 'keygen', '--out', p('root')]).code).toBe(0);
    expect(runBwc(['authz', 'keygen', '--out', p('rogue')]).code).toBe(0);
    expect(runBwc(['keygen', '--out', p('gw')]).code).toBe(0);
  });

  it("certifies a gateway's public.hex or public.pem for N days; the certificate verifies against the root; `show` checks it", () => {
    const before = Date.now();
    const r = runBwc([
      'authz',
      'sign-gateway-cert',
      '--key',
      p('root'),
      '--gateway-key',
      p('gw/public.hex'),
      '--gateway-id',
      'gw-sea-1',
      '--fleet',
      'sea',
      '--days',
      '30',
      '--out',
      p('gw.cert'),
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const rootPub = readFileSync(p('root/public.hex'), 'utf8').trim();
    const gwPub = readFileSync(p('gw/public.hex'), 'utf8').trim();
    const out = JSON.parse(r.stdout) as Record<string, string>;
    expect(out).toMatchObject({
      out: p('gw.cert'),
      type: 'GatewayCertificate',
      gatewayId: 'gw-sea-1',
      fleet: 'sea',
      gatewayKeyId: keyIdOf(Buffer.from(gwPub, 'hex')),
      keyId: keyIdOf(Buffer.from(rootPub, 'hex')),
    });
    const c = verifyGatewayCertificate(readFileSync(p('gw.cert')), trustPublicKey(Buffer.from(rootPub, 'hex')), {
      fleet: 'sea',
      gatewayId: 'gw-sea-1',
    });
    expect(toHex(c.publicKey)).toBe(gwPub);
    expect(c.hash).toBe(out.hash);
    expect(c.notAfterMs - c.notBeforeMs).toBeGreaterThanOrEqual(30 * DAY);
    expect(c.notAfterMs).toBeGreaterThanOrEqual(before + 30 * DAY);
    expect(c.notAfterMs).toBeLessThanOrEqual(Date.now() + 30 * DAY);
    expect(c.notBeforeMs).toBeLessThanOrEqual(before);
    expect(new Date(out.notAfter!).getTime()).toBe(c.notAfterMs);

    // The PEM form of the key, the default validity (365 days), and the text output.
    const pem = runBwc([
      'authz',
      'sign-gateway-cert',
      '--key',
      p('root'),
      '--gateway-key',
      p('gw/public.pem'),
      '--gateway-id',
      'gw-sea-1',
      '--fleet',
      'sea',
      '--out',
      p('gw-pem.cert'),
    ]);
    expect(pem.code, pem.stderr).toBe(0);
    expect(pem.stdout).toMatch(
      /^wrote .*gw-pem\.cert: GatewayCertificate [0-9a-f]{64}\ngateway gw-sea-1 of fleet sea, key [0-9a-f]{64}\nvalid \S+ to \S+\nsigned by root key [0-9a-f]{64}\n$/,
    );
    const year = verifyGatewayCertificate(readFileSync(p('gw-pem.cert')), trustPublicKey(Buffer.from(rootPub, 'hex')));
    expect(year.notAfterMs - Date.now()).toBeGreaterThan(364 * DAY);

    const shown = runBwc(['authz', 'show', p('gw.cert'), '--root-pubkey', p('root/public.hex'), '--json']);
    expect(shown.code, shown.stderr).toBe(0);
    expect(JSON.parse(shown.stdout)).toMatchObject({
      type: 'GatewayCertificate',
      hash: out.hash,
      keyId: out.keyId,
      signature: 'VALID',
      detail: expect.stringMatching(/certifies gateway gw-sea-1 of fleet sea/),
      body: { gatewayId: 'gw-sea-1', fleet: 'sea', publicKey: gwPub, notAfterMs: out.notAfter, header: { issuer: out.keyId } },
    });
    const unchecked = runBwc(['authz', 'show', p('gw.cert'), '--json']);
    expect(JSON.parse(unchecked.stdout)).toMatchObject({ signature: 'UNCHECKED', detail: expect.stringMatching(/--root-pubkey/) });
    const wrongRoot = runBwc(['authz', 'show', p('gw.cert'), '--root-pubkey', p('rogue/public.hex')]);
    expect(wrongRoot.code).toBe(1);
    expect(wrongRoot.stdout).toMatch(/signature INVALID: gateway certificate is signed by key/);
  });

  it('never overwrites, and refuses a bad id, a weak key, a missing key file or bad --days with one line and exit 2', () => {
    writeFileSync(p('weak.hex'), `${WEAK_KEYS[0]![0]}\n`);
    writeFileSync(p('exists.cert'), 'keep me');
    const base = ['authz', 'sign-gateway-cert', '--key', p('root'), '--gateway-key', p('gw/public.hex'), '--gateway-id', 'gw-1', '--fleet', 'sea'];
    const cases: [string[], RegExp][] = [
      [['--out', p('exists.cert')], /exists\.cert already exists; refusing to overwrite it/],
      [['--gateway-id', '_gw', '--out', p('a.cert')], /--gateway-id "_gw" must match/],
      [['--fleet', 'se a', '--out', p('b.cert')], /--fleet "se a" must match/],
      [['--gateway-key', p('weak.hex'), '--out', p('c.cert')], /small-order/],
      [['--gateway-key', p('nope.hex'), '--out', p('d.cert')], /nope\.hex does not exist/],
      [['--days', '0', '--out', p('e.cert')], /--days must be/],
      [['--days', 'ten', '--out', p('f.cert')], /--days must be/],
      [['--key', p('nokey'), '--out', p('g.cert')], /nokey/],
    ];
    for (const [extra, message] of cases) {
      const r = runBwc([...base, ...extra]);
      expect(r.code, extra.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n'), extra.join(' ')).toEqual([expect.stringMatching(message)]);
    }
    expect(readFileSync(p('exists.cert'), 'utf8')).toBe('keep me');
    for (const f of ['a', 'b', 'c', 'd', 'e', 'f', 'g']) expect(() => readFileSync(p(`${f}.cert`))).toThrow(/ENOENT/);
  });
});

// ───────────────────────── the gateway's trust configuration ─────────────────────────

function gatewayConfig(dataDir: string, extra: Record<string, unknown> = {}) {
  return parseGatewayConfig({
    fleet: 'f1',
    gatewayId: 'gw1',
    dataDir,
    mqtt: { embedded: { port: 0 } },
    http: { port: 0 },
    sweepIntervalMs: 600_000,
    ...extra,
  });
}

async function startupError(config: ReturnType<typeof gatewayConfig>): Promise<Error> {
  const e = await startGateway({ config, log: silentLogger }).then(
    async (gw) => {
      await gw.stop();
      return null;
    },
    (err: unknown) => err as Error,
  );
  expect(e, 'startup refused').toBeInstanceOf(Error);
  return e!;
}

describe('trust configuration', () => {
  it('reads trust.* from the file and BWC_GATEWAY_ROOT_PUBKEY, _CERT, _BUNDLE, and mqtt.publicUrl; refuses a certificate or bundle without a root key and a root key without a certificate', () => {
    const dir = tempDir();
    writeFileSync(
      join(dir, 'gw.yaml'),
      'trust:\n  rootPublicKey: /etc/bwc/root.hex\n  certificate: /etc/bwc/gw.cert\nmqtt:\n  publicUrl: mqtts://broker.example:8883\n',
    );
    expect(loadGatewayConfig(join(dir, 'gw.yaml'), {})).toMatchObject({
      trust: { rootPublicKey: '/etc/bwc/root.hex', certificate: '/etc/bwc/gw.cert' },
      mqtt: { publicUrl: 'mqtts://broker.example:8883' },
    });
    expect(
      loadGatewayConfig(join(dir, 'gw.yaml'), {
        BWC_GATEWAY_ROOT_PUBKEY: 'r.pem',
        BWC_GATEWAY_CERT: 'g.cert',
        BWC_GATEWAY_BUNDLE: 'p.bundle',
      }).trust,
    ).toEqual({ rootPublicKey: 'r.pem', certificate: 'g.cert', bundle: 'p.bundle' });
    expect(loadGatewayConfig(undefined, {}).trust).toEqual({});
    const refused = (raw: unknown) => {
      try {
        parseGatewayConfig(raw);
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        return (e as Error).message;
      }
      return 'accepted';
    };
    expect(refused({ trust: { certificate: 'g.cert' } })).toMatch(/^configuration: trust\.certificate: a certificate needs trust\.rootPublicKey/);
    expect(refused({ trust: { rootPublicKey: 'r.hex', certificate: 'g.cert', bundle: 'p.bundle' } })).toBe('accepted');
    expect(refused({ trust: { bundle: 'p.bundle' } })).toMatch(/trust\.bundle: a bundle needs trust\.rootPublicKey/);
    expect(refused({ trust: { rootPublicKey: 'r.hex' } })).toMatch(/trust\.certificate: is required with trust\.rootPublicKey.*sign-gateway-cert/);
    expect(refused({ trust: { rootKey: 'r.hex' } })).toMatch(/trust.*rootKey/);
    expect(refused({ mqtt: { publicUrl: 'not a url' } })).toMatch(/mqtt\.publicUrl/);
  });

  it('refuses to start with a certificate for another key, gateway id or fleet, an expired one, another root, a bad bundle or a missing file, naming the file', async () => {
    const dataDir = tempDir();
    const t = trustFiles(dataDir, { gatewayId: 'gw1', fleet: 'f1', bundle: true });
    const dir = tempDir();
    const write = (name: string, bytes: Uint8Array) => {
      writeFileSync(join(dir, name), bytes);
      return join(dir, name);
    };
    const now = Date.now();
    const cert = (o: Partial<typeof CERT>) =>
      signGatewayCertificate({ gatewayId: 'gw1', fleet: 'f1', publicKey: t.gatewayKey.publicKey, notBeforeMs: now - DAY, notAfterMs: now + DAY, ...o }, t.root);
    const cases: [Record<string, string>, RegExp][] = [
      [
        { certificate: write('other-key.cert', cert({ publicKey: gatewayKey.publicKey })) },
        /trust\.certificate .*other-key\.cert certifies key [0-9a-f]{16}…, not this gateway's key [0-9a-f]{16}…/,
      ],
      [{ certificate: write('other-id.cert', cert({ gatewayId: 'gw2' })) }, /other-id\.cert: gateway certificate is for gateway gw2, not gw1/],
      [{ certificate: write('other-fleet.cert', cert({ fleet: 'f2' })) }, /other-fleet\.cert: gateway certificate is for fleet f2, not f1/],
      [
        { certificate: write('expired.cert', cert({ notBeforeMs: now - 3 * DAY, notAfterMs: now - DAY })) },
        /expired\.cert: gateway certificate of gw1 expired at/,
      ],
      [
        { certificate: write('future.cert', cert({ notBeforeMs: now + DAY, notAfterMs: now + 3 * DAY })) },
        /future\.cert: gateway certificate of gw1 is not valid until/,
      ],
      [
        {
          certificate: write(
            'rogue.cert',
            signGatewayCertificate(
              { gatewayId: 'gw1', fleet: 'f1', publicKey: t.gatewayKey.publicKey, notBeforeMs: now - DAY, notAfterMs: now + DAY },
              otherRoot,
            ),
          ),
        },
        /rogue\.cert: gateway certificate is signed by key .*not by the root key/,
      ],
      [{ certificate: write('bundle-as-cert', t.bundleBytes!) }, /bundle-as-cert: envelope holds a PolicyBundle, not a GatewayCertificate/],
      [{ certificate: join(dir, 'missing.cert') }, /trust\.certificate .*missing\.cert does not exist/],
      [{ bundle: write('cert-as-bundle', t.certificateBytes) }, /trust\.bundle .*cert-as-bundle: envelope holds a GatewayCertificate, not a PolicyBundle/],
      [
        { bundle: write('rogue.bundle', sealEnvelope('PolicyBundle', openEnvelope(t.bundleBytes!).body, otherRoot).bytes) },
        /trust\.bundle .*rogue\.bundle: PolicyBundle is signed by key/,
      ],
      [{ rootPublicKey: join(dir, 'missing.hex') }, /trust\.rootPublicKey: public key .*missing\.hex does not exist/],
      [{ rootPublicKey: write('weak.hex', Buffer.from(`${WEAK_KEYS[0]![0]}\n`)) }, /trust\.rootPublicKey: public key .*weak\.hex is a small-order/],
    ];
    for (const [override, message] of cases) {
      const e = await startupError(
        gatewayConfig(dataDir, { trust: { rootPublicKey: t.rootPublicKey, certificate: t.certificate, bundle: t.bundle, ...override } }),
      );
      expect(e, JSON.stringify(override)).toBeInstanceOf(ConfigError);
      expect(e.message, JSON.stringify(override)).toMatch(message);
    }
    // The same files, right, start it.
    const gw = await startGateway({
      config: gatewayConfig(dataDir, { trust: { rootPublicKey: t.rootPublicKey, certificate: t.certificate, bundle: t.bundle } }),
      log: silentLogger,
    });
    expect(gw.trust!.root.keyId).toBe(t.rootKey.keyId);
    await gw.stop();
  });
});

// ───────────────────────── a running gateway with trust ─────────────────────────

interface Reply {
  status: number;
  json: any;
}

async function post(gw: RunningGateway, path: string, json: unknown): Promise<Reply> {
  const res = await fetch(`http://127.0.0.1:${gw.httpPort}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(json),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

function enrollmentRequest(dock: TestDock, token: string, subject = dock.deviceId): string {
  const body = pb.EnrollmentRequest.encode({
    header: { issuer: dock.deviceId, subjectDevice: subject, seq: 0, createdAtMs: Date.now() },
    deviceId: dock.deviceId,
    publicKey: dock.key.publicKey,
    token,
    agentVersion: '0.1.0',
    hardware: 'rpi4',
  }).finish();
  return Buffer.from(sealEnvelope('EnrollmentRequest', body, dock.key).bytes).toString('base64');
}

/** An MQTT client as a dock: subscribed to its cmd topic, collecting what arrives there. */
async function dockClient(gw: RunningGateway, dock: TestDock, creds: { username: string; password: string }): Promise<{ client: MqttClient; cmds: Buffer[] }> {
  const client = await mqtt.connectAsync(gw.mqttUrl, {
    clientId: dock.deviceId,
    ...creds,
    protocolVersion: 4,
    clean: false,
    reconnectPeriod: 0,
  });
  const cmds: Buffer[] = [];
  client.on('message', (topic, payload) => {
    if (topic === deviceTopic('f1', dock.deviceId, 'cmd')) cmds.push(payload);
  });
  await client.subscribeAsync(dock.topic('cmd'), { qos: 1 });
  return { client, cmds };
}

describe('a gateway with a root key, a certificate and a bundle', () => {
  let gw: RunningGateway;
  let t: TrustFiles;
  let cert: GatewayCert;
  const logs: string[] = [];
  const PUBLIC_URL = 'mqtts://broker.example.org:8883';

  beforeAll(async () => {
    const dataDir = tempDir();
    t = trustFiles(dataDir, { gatewayId: 'gw1', fleet: 'f1', bundle: true });
    gw = await startGateway({
      config: gatewayConfig(dataDir, {
        mqtt: { embedded: { port: 0 }, publicUrl: PUBLIC_URL },
        trust: { rootPublicKey: t.rootPublicKey, certificate: t.certificate, bundle: t.bundle },
      }),
      log: pino({ level: 'debug' }, { write: (line: string) => void logs.push(line) }),
    });
    cert = verifyGatewayCertificate(t.certificateBytes, t.rootKey, { fleet: 'f1', gatewayId: 'gw1' });
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it('exposes its trust: the root key, its certificate and the bundle, as read from the files', () => {
    expect(gw.trust).not.toBeNull();
    expect(gw.trust!.root.keyId).toBe(t.rootKey.keyId);
    expect(Buffer.from(gw.trust!.certificate).equals(Buffer.from(t.certificateBytes))).toBe(true);
    expect(Buffer.from(gw.trust!.bundle!).equals(Buffer.from(t.bundleBytes!))).toBe(true);
    expect(cert.key.keyId).toBe(gw.signer.keyId);
  });

  it('publishes its certificate in its retained presence, so docks learn its certified key', async () => {
    const dock = new TestDock('dock-presence', 'f1', 7100);
    const creds = await gw.fleet.enroll(dock.deviceId, dock.key.publicKey, 'otto');
    const client = await mqtt.connectAsync(gw.mqttUrl, {
      clientId: dock.deviceId,
      username: creds.mqttUsername,
      password: creds.mqttPassword,
      reconnectPeriod: 0,
    });
    const state = new Promise<Record<string, unknown>>((resolve) =>
      client.on('message', (topic, p) => {
        if (topic === gatewayStateTopic('f1', 'gw1')) resolve(JSON.parse(p.toString()) as Record<string, unknown>);
      }),
    );
    await client.subscribeAsync('bwc/v1/f1/_gateway/+/state', { qos: 1 });
    const presence = await state;
    await client.endAsync();
    expect(presence).toMatchObject({ gatewayId: 'gw1', online: true, keyId: gw.signer.keyId, certificate: expect.any(String) });
    // What a dock does with it: check it against the pinned root, then trust the key it certifies.
    const learned = verifyGatewayCertificate(Buffer.from(presence.certificate as string, 'base64'), t.rootKey, { fleet: 'f1' });
    expect(learned).toMatchObject({ gatewayId: 'gw1', hash: cert.hash });
    expect(learned.key.keyId).toBe(gw.signer.keyId);
  });

  it('answers an enrollment with an EnrollmentResponse signed by its certified key, carrying the certificate, root, bundle, broker, credentials and assignments', async () => {
    await gw.fleet.assign('CAM-T1', 'O-17', 'otto', 'operator');
    const dock = new TestDock('dock-t1', 'f1', 7101);
    const { token } = await gw.fleet.createEnrollmentToken(dock.deviceId, 'otto');
    const r = await post(gw, '/api/v1/enroll', { request: enrollmentRequest(dock, token) });
    expect(r.status).toBe(201);
    expect(r.json).toEqual({ deviceId: 'dock-t1', keyId: dock.key.keyId, fleet: 'f1', response: expect.any(String) });

    // The dock's checks, in its order (DESIGN §8): the root against the fingerprint, the
    // certificate against the root, the response against the certified key.
    const env = openEnvelope(Buffer.from(r.json.response, 'base64'), { expectType: 'EnrollmentResponse' });
    const resp = pb.EnrollmentResponse.decode(env.body);
    expect(keyIdOf(resp.rootPublicKey)).toBe(t.root.keyId);
    const certified = verifyGatewayCertificate(resp.gatewayCertificate, trustPublicKey(resp.rootPublicKey), { fleet: resp.fleet });
    expect(env.keyId).toBe(certified.key.keyId);
    assertEnvelopeSigned(env, certified.key);
    expect(() => assertEnvelopeSigned(env, t.rootKey)).toThrow(/signed by key/);

    expect(resp.header).toMatchObject({ issuer: 'gw1', subjectDevice: 'dock-t1', fleet: 'f1' });
    expect(Number(resp.header!.seq)).toBeGreaterThanOrEqual(1);
    expect(resp).toMatchObject({
      deviceId: 'dock-t1',
      fleet: 'f1',
      brokerUrl: PUBLIC_URL,
      mqttUsername: 'dock-t1',
      mqttPassword: expect.stringMatching(/^[A-Za-z0-9_-]{32,}$/),
    });
    expect(Buffer.from(resp.gatewayCertificate).equals(Buffer.from(t.certificateBytes))).toBe(true);
    expect(Buffer.from(resp.policyBundle).equals(Buffer.from(t.bundleBytes!))).toBe(true);
    expect(verifyBundle(resp.policyBundle, trustPublicKey(resp.rootPublicKey)).version).toBe(4);
    const aEnv = openEnvelope(resp.cameraAssignments, { expectType: 'CameraAssignments' });
    assertEnvelopeSigned(aEnv, certified.key);
    const assignments = pb.CameraAssignments.decode(aEnv.body);
    expect(assignments.header).toMatchObject({ issuer: 'gw1', subjectDevice: 'dock-t1', fleet: 'f1' });
    expect(assignments.assignments).toEqual([expect.objectContaining({ cameraSerial: 'CAM-T1', officerId: 'O-17', assignedBy: 'otto' })]);

    // The credentials open the broker (the public URL is for docks elsewhere; this test is local).
    const client = await mqtt.connectAsync(gw.mqttUrl, {
      clientId: 'dock-t1',
      username: resp.mqttUsername,
      password: resp.mqttPassword,
      reconnectPeriod: 0,
    });
    await client.endAsync();
    // A second enrollment gets a higher EnrollmentResponse seq.
    const dock2 = new TestDock('dock-t2', 'f1', 7102);
    const second = await post(gw, '/api/v1/enroll', {
      request: enrollmentRequest(dock2, (await gw.fleet.createEnrollmentToken('dock-t2', 'otto')).token),
    });
    const resp2 = pb.EnrollmentResponse.decode(openEnvelope(Buffer.from(second.json.response, 'base64')).body);
    expect(Number(resp2.header!.seq)).toBeGreaterThan(Number(resp.header!.seq));
    // Secrets never reach the log.
    const logged = logs.join('\n');
    expect(logged).toContain('"route":"/api/v1/enroll"');
    for (const secret of [token, resp.mqttPassword, resp2.mqttPassword]) expect(logged).not.toContain(secret);
  });

  it('refuses an enrollment request whose signed header names another device as its subject, and leaves the token usable (DESIGN §8)', async () => {
    const dock = new TestDock('dock-t4', 'f1', 7104);
    const { token } = await gw.fleet.createEnrollmentToken(dock.deviceId, 'otto');
    const r = await post(gw, '/api/v1/enroll', { request: enrollmentRequest(dock, token, 'dock-t1') });
    expect(r.status).toBe(400);
    expect(r.json.error.message).toMatch(/subject/);
    expect(await gw.fleet.device('dock-t4')).toBeUndefined();
    expect((await post(gw, '/api/v1/enroll', { request: enrollmentRequest(dock, token) })).status).toBe(201);
  });

  it("sends a dock whose Birth it accepts the policy bundle and the camera assignments on the dock's cmd topic, signed by its key", async () => {
    await gw.fleet.assign('CAM-T3', 'O-21', 'otto', 'operator');
    const dock = new TestDock('dock-t3', 'f1', 7103);
    const creds = await gw.fleet.enroll(dock.deviceId, dock.key.publicKey, 'otto');
    const { client, cmds } = await dockClient(gw, dock, { username: creds.mqttUsername, password: creds.mqttPassword });
    await client.publishAsync(dock.topic('birth'), Buffer.from(dock.birth()), { qos: 1 });
    const got = await until('two commands', () => (cmds.length >= 2 ? cmds : undefined));
    const open = (payload: Buffer) => {
      const env = openEnvelope(payload, { expectType: 'Command' });
      assertEnvelopeSigned(env, cert.key);
      return pb.Command.decode(env.body);
    };
    const [bundleCmd, assignCmd] = got.map(open);
    expect(bundleCmd!.cmd).toBe('policyBundle');
    expect(Buffer.from(bundleCmd!.policyBundle!).equals(Buffer.from(t.bundleBytes!))).toBe(true);
    expect(verifyBundle(bundleCmd!.policyBundle!, t.rootKey).version).toBe(4); // both layers verify
    expect(assignCmd!.cmd).toBe('cameraAssignments');
    expect(assignCmd!.cameraAssignments!.assignments).toContainEqual(expect.objectContaining({ cameraSerial: 'CAM-T3', officerId: 'O-21' }));
    for (const c of [bundleCmd!, assignCmd!]) expect(c.header).toMatchObject({ issuer: 'gw1', subjectDevice: 'dock-t3', fleet: 'f1' });
    // The next Birth (the dock reconnected) brings both again.
    await client.publishAsync(dock.topic('birth'), Buffer.from(dock.birth()), { qos: 1 });
    await until('two more commands', () => (cmds.length >= 4 ? cmds : undefined));
    expect(open(cmds[2]!).cmd).toBe('policyBundle');
    expect(open(cmds[3]!).cmd).toBe('cameraAssignments');
    await client.endAsync();
  });
});

// ───────────────────────── a running gateway without trust ─────────────────────────

describe('a gateway without trust configured', () => {
  let gw: RunningGateway;
  beforeAll(async () => {
    gw = await startGateway({ config: gatewayConfig(tempDir()), log: silentLogger });
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it('refuses enrollment with 503, telling the operator what to configure, and leaves the token usable', async () => {
    expect(gw.trust).toBeNull();
    const dock = new TestDock('dock-n1', 'f1', 7200);
    const { token } = await gw.fleet.createEnrollmentToken(dock.deviceId, 'otto');
    const r = await post(gw, '/api/v1/enroll', { request: enrollmentRequest(dock, token) });
    expect(r.status).toBe(503);
    expect(r.json.error.code).toBe('TRUST_NOT_CONFIGURED');
    expect(r.json.error.message).toMatch(/trust\.rootPublicKey and trust\.certificate.*bwc authz sign-gateway-cert/);
    expect(await gw.fleet.device('dock-n1')).toBeUndefined();
    // The refused attempt did not spend the token.
    await expect(gw.fleet.redeemEnrollmentToken(token, dock.deviceId, dock.key.publicKey)).resolves.toMatchObject({ deviceId: 'dock-n1' });
  });

  it('announces no certificate, and sends a born dock its camera assignments only (no bundle)', async () => {
    const dock = new TestDock('dock-n2', 'f1', 7201);
    const creds = await gw.fleet.enroll(dock.deviceId, dock.key.publicKey, 'otto');
    const { client, cmds } = await dockClient(gw, dock, { username: creds.mqttUsername, password: creds.mqttPassword });
    const state = new Promise<Record<string, unknown>>((resolve) =>
      client.on('message', (topic, p) => {
        if (topic.endsWith('/state')) resolve(JSON.parse(p.toString()) as Record<string, unknown>);
      }),
    );
    await client.subscribeAsync('bwc/v1/f1/_gateway/+/state', { qos: 1 });
    const presence = await state;
    expect(presence).toMatchObject({ gatewayId: 'gw1', online: true });
    expect(presence).not.toHaveProperty('certificate');
    await client.publishAsync(dock.topic('birth'), Buffer.from(dock.birth()), { qos: 1 });
    await until('a command', () => (cmds.length >= 1 ? cmds : undefined));
    await until('the Birth handled', async () => (await gw.fleet.device('dock-n2'))?.online === 1);
    await gw.idle();
    // A second Birth, sent once the first is handled: its answer comes after anything the first one
    // caused, so the commands up to it are all the first Birth's.
    await client.publishAsync(dock.topic('birth'), Buffer.from(dock.birth()), { qos: 1 });
    await until('the answer to the second Birth', () => (cmds.length >= 2 ? cmds : undefined));
    const kinds = cmds.map((c) => {
      const env = openEnvelope(c, { expectType: 'Command' });
      assertEnvelopeSigned(env, trustPublicKey(gw.signer.publicKey));
      return pb.Command.decode(env.body).cmd;
    });
    expect(kinds).toEqual(['cameraAssignments', 'cameraAssignments']);
    await client.endAsync();
  });
});
