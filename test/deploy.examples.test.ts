/**
 * The example configurations of scripts/deploy/examples/ go through the programs' own loaders
 * (device/config.ts, gateway/config.ts: the zod schemas, defaults and environment overrides), so
 * they can never drift from the schemas: an unknown or misspelt setting, a wrong type or a broken
 * combination fails here, naming the field. Their commented-out alternatives load too, they agree
 * with the Mosquitto configuration (ports, users), and each environment file lists every override
 * its program reads, each one taking effect.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DOCK_ENV, loadDockConfig } from '../device/config.js';
import { loadGatewayConfig } from '../gateway/config.js';
import { ROOT, tempDir } from './helpers.js';

const EXAMPLES = join(ROOT, 'scripts', 'deploy', 'examples');
const example = (name: string) => join(EXAMPLES, name);
const text = (name: string) => readFileSync(example(name), 'utf8');

/** The file with the commented-out settings named in `keys` uncommented (`# key: value` → `key: value`). */
function uncommented(name: string, keys: readonly string[]): string {
  const dir = tempDir('bwc-deploy-example-');
  let n = 0;
  const out = text(name)
    .split('\n')
    .map((line) => {
      const m = /^(\s*)#( +)([A-Za-z]+):(.*)$/.exec(line);
      if (!m || !keys.includes(m[3]!)) return line;
      n++;
      return `${m[1]}${m[2]!.slice(1)}${m[3]}:${m[4]}`;
    });
  expect(n, `commented settings ${keys.join(', ')} in ${name}`).toBe(keys.length);
  const file = join(dir, name);
  writeFileSync(file, out.join('\n'));
  return file;
}

/** The overrides an environment file offers: `#NAME=value` or `NAME=value` lines. */
function envLines(name: string): [string, string][] {
  const lines = text(name)
    .split('\n')
    .filter((l) => l.trim() !== '');
  for (const l of lines) expect(l, `${name}: a comment or NAME=value`).toMatch(/^(#.*|[A-Z_][A-Z0-9_]*=\S*)$/);
  return lines
    .map((l) => /^#?([A-Z_][A-Z0-9_]*)=(\S+)$/.exec(l))
    .filter((m) => m !== null)
    .map((m) => [m[1]!, m[2]!]);
}

const bwcConf = readFileSync(join(ROOT, 'scripts', 'deploy', 'mosquitto', 'bwc.conf'), 'utf8');
const listeners = [...bwcConf.matchAll(/^listener (\d+)(?: (\S+))?$/gm)].map((m) => ({ port: Number(m[1]), host: m[2] ?? null }));

describe('dock examples', () => {
  it('dock.yaml loads through loadDockConfig with the production values it shows', () => {
    const c = loadDockConfig(example('dock.yaml'), {});
    expect(c.stateDir).toBe('/var/lib/bwc-dock');
    expect(c.office).toBe('SEA');
    expect(c.mqtt.tls?.ca).toBe('/etc/bwc/mqtt-ca.pem');
    expect(c.mqtt.tls?.rejectUnauthorized).toBe(true);
    expect(c.link.usb).toEqual(['1209:b0c0']);
    expect(c.clock.ntp).toBe('auto');
    // Nothing the enrollment provides is repeated (a value here must agree with it).
    expect(c.deviceId).toBeUndefined();
    expect(c.fleet).toBeUndefined();
    expect(c.mqtt.url).toBeUndefined();
  });

  it("dock.yaml's commented alternatives (broker URL, client certificate) load too", () => {
    const c = loadDockConfig(uncommented('dock.yaml', ['url', 'cert', 'key']), {});
    expect(c.mqtt.url).toBe(`mqtts://broker.sea.example:${listeners.find((l) => l.host === null)!.port}`);
    expect(c.mqtt.tls).toMatchObject({ cert: '/etc/bwc/mqtt-client.crt', key: '/var/lib/bwc-dock/mqtt-client.key' });
  });

  it('dock-wearable.yaml loads, on the UART and with a longer backoff and status period', () => {
    const c = loadDockConfig(example('dock-wearable.yaml'), {});
    expect(c.link.ports).toEqual(['/dev/serial0']);
    expect(c.mqtt.backoffMaxMs).toBeGreaterThan(loadDockConfig(example('dock.yaml'), {}).mqtt.backoffMaxMs);
    expect(c.sync.statusIntervalS).toBeGreaterThan(60);
  });

  it('dock.env offers every BWC_DOCK_* override, and each one takes effect', () => {
    const offered = envLines('dock.env');
    expect(offered.map(([k]) => k).sort()).toEqual(Object.keys(DOCK_ENV).sort());
    for (const [name, value] of offered) {
      const c = loadDockConfig(example('dock.yaml'), { [name]: value }) as unknown as Record<string, Record<string, unknown>>;
      const path = DOCK_ENV[name as keyof typeof DOCK_ENV];
      const got = path.reduce<unknown>((o, p) => (o as Record<string, unknown>)[p], c);
      expect(got, name).toEqual(name === 'BWC_DOCK_PORTS' ? value.split(',') : value);
    }
  });
});

describe('gateway examples', () => {
  const acl = readFileSync(join(ROOT, 'scripts', 'deploy', 'mosquitto', 'acl'), 'utf8');
  const tls = listeners.find((l) => l.host === null)!;
  const loopback = listeners.find((l) => l.host === '127.0.0.1')!;

  it("gateway.yaml loads through loadGatewayConfig, on Mosquitto's loopback listener as the ACL's gateway user", () => {
    const c = loadGatewayConfig(example('gateway.yaml'), {});
    expect(c.fleet).toBe('sea');
    expect(c.gatewayId).toBe('gw-sea-1');
    expect(c.dataDir).toBe('/var/lib/bwc-gateway');
    expect(c.mqtt.url).toBe(`mqtt://127.0.0.1:${loopback.port}`);
    expect(new URL(c.mqtt.publicUrl!).port).toBe(String(tls.port));
    expect(c.mqtt.publicUrl!.startsWith('mqtts://')).toBe(true);
    expect(acl).toMatch(new RegExp(`^user ${c.mqtt.username}$`, 'm'));
    expect(c.mqtt.shared).toBe(false);
    expect(c.http).toMatchObject({ host: '127.0.0.1', behindTls: true });
    expect(c.trust).toEqual({
      rootPublicKey: '/etc/bwc/trust/root.hex',
      certificate: '/etc/bwc/trust/gw-sea-1.cert',
      bundle: '/etc/bwc/trust/policy.bundle',
    });
  });

  it("gateway.yaml's commented alternatives (PostgreSQL, an audit export dir) load too", () => {
    const c = loadGatewayConfig(uncommented('gateway.yaml', ['db', 'url', 'exportDir']), {});
    expect(c.db.url).toMatch(/^postgres:\/\//);
    expect(c.audit.exportDir).toBe('/mnt/audit-worm/gw-sea-1');
  });

  it('gateway-replica.yaml loads as a replica: PostgreSQL, shared subscriptions over TLS, a shared clip store, its own id and broker user', () => {
    const c = loadGatewayConfig(example('gateway-replica.yaml'), {});
    const single = loadGatewayConfig(example('gateway.yaml'), {});
    expect(c.mqtt.shared).toBe(true);
    expect(c.mqtt.shareGroup).toBe('bwc-gateway');
    expect(c.db.url).toMatch(/^postgres:\/\//);
    expect(c.clipsDir).toBe('/srv/bwc-clips');
    expect(new URL(c.mqtt.url!).port).toBe(String(tls.port));
    expect(c.fleet).toBe(single.fleet);
    expect(c.gatewayId).not.toBe(single.gatewayId);
    expect(c.mqtt.username).not.toBe(single.mqtt.username);
    expect(c.trust.certificate).toContain(c.gatewayId);
    expect(c.trust.rootPublicKey).toBe(single.trust.rootPublicKey);
  });

  it('a replica without PostgreSQL is refused, naming the field (the schema, not the example, decides)', () => {
    const file = join(tempDir('bwc-deploy-example-'), 'gw.yaml');
    writeFileSync(file, text('gateway-replica.yaml').replace(/^db:\n\s+#.*\n\s+#.*\n\s+url: .*$/m, ''));
    expect(text('gateway-replica.yaml')).not.toBe(readFileSync(file, 'utf8'));
    expect(() => loadGatewayConfig(file, {})).toThrow(/db\.url/);
  });

  it('gateway.env offers every BWC_GATEWAY_* override gateway/config.ts reads, and each one takes effect', () => {
    // Every variable name gateway/config.ts spells out is one it reads.
    const read = [...new Set(readFileSync(join(ROOT, 'gateway', 'config.ts'), 'utf8').match(/\bBWC_GATEWAY_[A-Z][A-Z_]*/g))].sort();
    expect(read.length).toBeGreaterThanOrEqual(8);
    const offered = envLines('gateway.env');
    expect(
      offered
        .map(([k]) => k)
        .filter((k) => k.startsWith('BWC_'))
        .sort(),
    ).toEqual(read);
    expect(offered.map(([k]) => k)).toContain('NODE_EXTRA_CA_CERTS');
    // The file shows the production values, mostly gateway.yaml's own: each override is also tried
    // with a value of its kind that differs, to see it replace the file's.
    const probe = (v: string) => (/^\d+$/.test(v) ? String(Number(v) + 1) : v.startsWith('/') ? `${v}.probe` : v.replace('//', '//probe.'));
    for (const [name, value] of offered.filter(([k]) => k.startsWith('BWC_'))) {
      expect(() => loadGatewayConfig(example('gateway.yaml'), { [name]: value }), name).not.toThrow();
      const c = JSON.stringify(loadGatewayConfig(example('gateway.yaml'), { [name]: probe(value) }));
      expect(c, name).toContain(name === 'BWC_GATEWAY_HTTP_PORT' ? `"port":${probe(value)}` : JSON.stringify(probe(value)));
    }
  });
});
