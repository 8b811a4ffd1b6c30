/**
 * The systemd units and system users of scripts/deploy/ (DESIGN §8: least privilege; device/README.md
 * "Running a dock"). Parsed and held to the hardening they promise and to the rest of the
 * deployment (the example configs' directories, the users' groups, the `bwc` binary), on any
 * machine; then checked by systemd's own tools where they are installed (`systemd-analyze verify`,
 * `systemd-analyze security --offline`, `systemd-sysusers --root`; Debian's `systemd` package).
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadDockConfig } from '../device/config.js';
import { loadGatewayConfig } from '../gateway/config.js';
import { ROOT, runBwc, tempDir } from './helpers.js';

const DEPLOY = join(ROOT, 'scripts', 'deploy');

type Unit = Map<string, Map<string, string[]>>;

/** A unit file as systemd reads it: sections of keys, each key with every value assigned, in order. */
function parseUnit(text: string): Unit {
  const unit: Unit = new Map();
  let section: Map<string, string[]> | null = null;
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[([A-Za-z]+)\]$/.exec(line);
    if (header) {
      section = new Map();
      unit.set(header[1]!, section);
      continue;
    }
    const kv = /^([A-Za-z][A-Za-z0-9]*)=(.*)$/.exec(line);
    if (!kv || !section) throw new Error(`line ${i + 1} is neither a section nor Key=value: ${raw}`);
    if (line.endsWith('\\')) throw new Error(`line ${i + 1}: continuation lines are not used here`);
    section.set(kv[1]!, [...(section.get(kv[1]!) ?? []), kv[2]!]);
  }
  return unit;
}

/** The effective value (the last assignment), or undefined. */
function get(unit: Unit, section: string, key: string): string | undefined {
  return unit.get(section)?.get(key)?.at(-1);
}

const units = {
  dock: parseUnit(readFileSync(join(DEPLOY, 'systemd', 'bwc-dock.service'), 'utf8')),
  gateway: parseUnit(readFileSync(join(DEPLOY, 'systemd', 'bwc-gateway.service'), 'utf8')),
};

function sysusers(file: string): string[][] {
  return readFileSync(join(DEPLOY, 'sysusers', file), 'utf8')
    .split('\n')
    .filter((l) => l.trim() && !l.startsWith('#'))
    .map((l) => l.match(/"[^"]*"|\S+/g)!);
}

const has = (tool: string) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
const SYSTEMD_TOOLS = has('systemd-analyze') && has('systemd-sysusers');
const SKIP_REASON = '(skipped: systemd-analyze/systemd-sysusers not installed; Debian package systemd)';

describe.each([
  ['dock', 'bwc-dock', 'dock'],
  ['gateway', 'bwc-gateway', 'gateway'],
] as const)('bwc-%s.service', (name, user, command) => {
  const unit = units[name];

  it('runs as its own system user with no privilege: no new privileges, no capabilities', () => {
    expect(get(unit, 'Service', 'User')).toBe(user);
    expect(get(unit, 'Service', 'Group')).toBe(user);
    expect(get(unit, 'Service', 'NoNewPrivileges')).toBe('yes');
    // An empty assignment is systemd's "none at all".
    expect(get(unit, 'Service', 'CapabilityBoundingSet')).toBe('');
    expect(get(unit, 'Service', 'AmbientCapabilities')).toBe('');
    expect(get(unit, 'Service', 'RestrictSUIDSGID')).toBe('yes');
    expect(get(unit, 'Service', 'DynamicUser')).toBeUndefined();
  });

  it('sees the file system read-only but for its state directory, without /home and with a private /tmp', () => {
    expect(get(unit, 'Service', 'ProtectSystem')).toBe('strict');
    expect(get(unit, 'Service', 'ProtectHome')).toBe('yes');
    expect(get(unit, 'Service', 'PrivateTmp')).toBe('yes');
    expect(get(unit, 'Service', 'StateDirectory')).toBe(user);
    expect(get(unit, 'Service', 'StateDirectoryMode')).toBe('0700');
    expect(get(unit, 'Service', 'UMask')).toBe('0077');
    // Nothing else is made writable in the shipped unit (a shared clip store is a drop-in).
    expect(get(unit, 'Service', 'ReadWritePaths')).toBeUndefined();
  });

  it('may open only local, IP and (the dock, for USB hotplug) netlink sockets', () => {
    const families = get(unit, 'Service', 'RestrictAddressFamilies')!.split(/\s+/).sort();
    expect(families).toEqual(name === 'dock' ? ['AF_INET', 'AF_INET6', 'AF_NETLINK', 'AF_UNIX'] : ['AF_INET', 'AF_INET6', 'AF_UNIX']);
    expect(get(unit, 'Service', 'SystemCallFilter')).toBe('@system-service');
    expect(get(unit, 'Service', 'SystemCallArchitectures')).toBe('native');
    // Node's JIT writes executable memory: the gateway runs with it, so the setting would kill it at
    // start; the dock runs --jitless and is held to it (below).
    expect(get(unit, 'Service', 'MemoryDenyWriteExecute')).toBe(name === 'dock' ? 'yes' : undefined);
  });

  it('restarts on failure after a pause, gives up after a start limit, and leaves time for the graceful stop', () => {
    expect(get(unit, 'Service', 'Restart')).toBe('on-failure');
    expect(Number(get(unit, 'Service', 'RestartSec'))).toBeGreaterThanOrEqual(5);
    const interval = Number(get(unit, 'Unit', 'StartLimitIntervalSec'));
    const burst = Number(get(unit, 'Unit', 'StartLimitBurst'));
    expect(burst).toBeGreaterThan(1);
    // The limit must be reachable: `burst` restarts must fit in the interval.
    expect(burst * Number(get(unit, 'Service', 'RestartSec'))).toBeLessThan(interval);
    expect(get(unit, 'Service', 'KillSignal')).toBe('SIGTERM');
    // The dock's own stop waits up to 2 s for its Death's PUBACK and 2 s for the DISCONNECT
    // (device/sync/session.ts), besides the custody step under way.
    expect(Number(get(unit, 'Service', 'TimeoutStopSec'))).toBeGreaterThanOrEqual(name === 'dock' ? 60 : 30);
  });

  it(`starts the installed bwc ${command} with /etc/bwc/${name}.yaml and an optional environment file`, () => {
    const bin = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin: { bwc: string } }).bin.bwc;
    const flags = name === 'dock' ? '--jitless --optimize-for-size ' : '';
    expect(get(unit, 'Service', 'ExecStart')).toBe(`/usr/bin/node ${flags}/opt/bwc/${bin} ${command} --config /etc/bwc/${name}.yaml`);
    expect(get(unit, 'Service', 'EnvironmentFile')).toBe(`-/etc/bwc/${name}.env`);
    // `bwc dock` and `bwc gateway` run their default subcommand, `run`.
    expect(runBwc([command, 'run', '--help']).stdout).toContain('--config <file>');
    expect(get(unit, 'Install', 'WantedBy')).toBe('multi-user.target');
  });

  it('is the state directory the example configuration names', () => {
    const dir = `/var/lib/${get(unit, 'Service', 'StateDirectory')}`;
    expect(get(unit, 'Service', 'WorkingDirectory')).toBe(dir);
    if (name === 'dock') expect(loadDockConfig(join(DEPLOY, 'examples', 'dock.yaml'), {}).stateDir).toBe(dir);
    else expect(loadGatewayConfig(join(DEPLOY, 'examples', 'gateway.yaml'), {}).dataDir).toBe(dir);
  });

  it(`passes systemd-analyze verify ${SYSTEMD_TOOLS ? '' : SKIP_REASON}`.trim(), { skip: !SYSTEMD_TOOLS }, () => {
    const dir = tempDir('bwc-deploy-unit-');
    let text = readFileSync(join(DEPLOY, 'systemd', `${user}.service`), 'utf8');
    // verify checks that ExecStart's program exists: where Node is installed elsewhere, point at it.
    if (!existsSync('/usr/bin/node')) text = text.replace('ExecStart=/usr/bin/node ', `ExecStart=${process.execPath} `);
    writeFileSync(join(dir, `${user}.service`), text);
    const r = spawnSync('systemd-analyze', ['verify', '--man=no', join(dir, `${user}.service`)], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    // Unknown keys and unparsable values are only warnings to systemd: none may name this unit.
    expect(`${r.stdout}${r.stderr}`.split('\n').filter((l) => l.includes(`${user}.service`))).toEqual([]);
  });

  it(`scores as well hardened by systemd-analyze security ${SYSTEMD_TOOLS ? '' : SKIP_REASON}`.trim(), { skip: !SYSTEMD_TOOLS }, () => {
    // The dock keeps device access (ttys, USB, GPIO appear while it runs) and writable /sys (GPIO
    // export); the gateway needs neither.
    // --threshold is in tenths of the printed exposure level (0.0 safest … 10.0 unsafe).
    const threshold = name === 'dock' ? 30 : 20;
    const r = spawnSync(
      'systemd-analyze',
      ['security', '--offline=yes', `--threshold=${threshold}`, '--no-pager', join(DEPLOY, 'systemd', `${user}.service`)],
      { encoding: 'utf8' },
    );
    const overall = /Overall exposure level for \S+: ([\d.]+)/.exec(r.stdout)?.[1];
    expect(overall, r.stderr).toBeDefined();
    expect(r.status, `exposure ${overall} above ${threshold / 10}\n${r.stdout}`).toBe(0);
  });
});

describe('the dock unit keeps what the hardware needs', () => {
  const dock = units.dock;

  it('joins dialout (serial ports) and gpio (LED, button), and sysusers makes bwc-dock a member of both', () => {
    const groups = get(dock, 'Service', 'SupplementaryGroups')!.split(/\s+/).sort();
    expect(groups).toEqual(['dialout', 'gpio']);
    const members = sysusers('bwc-dock.conf')
      .filter((f) => f[0] === 'm' && f[1] === 'bwc-dock')
      .map((f) => f[2])
      .sort();
    expect(members).toEqual(groups);
  });

  it('leaves devices and /sys reachable: no PrivateDevices, DevicePolicy, ProtectClock or ProtectKernelTunables', () => {
    for (const key of ['PrivateDevices', 'DevicePolicy', 'DeviceAllow', 'ProtectClock', 'ProtectKernelTunables']) {
      expect(get(dock, 'Service', key), key).toBeUndefined();
    }
  });

  it('keeps the node options and thread counts of its memory budget (scripts/bench/README.md)', () => {
    expect(get(dock, 'Service', 'Environment')).toBe('"NODE_OPTIONS=--max-semi-space-size=1 --v8-pool-size=1" "UV_THREADPOOL_SIZE=2"');
  });

  // systemd's MemoryDenyWriteExecute= is the kernel's PR_SET_MDWE where it has one (Linux 6.3 and
  // later; a seccomp filter otherwise). The same refusal, set with prctl() before exec: no mapping
  // may be writable and executable, and none may become executable.
  const underMdwe = (args: string[]) =>
    spawnSync(
      'python3',
      [
        '-c',
        'import ctypes, os, sys\nlibc = ctypes.CDLL(None, use_errno=True)\nif libc.prctl(65, 1, 0, 0, 0) != 0: sys.exit(97)\nos.execv(sys.argv[1], sys.argv[1:])',
        process.execPath,
        ...args,
      ],
      { encoding: 'utf8', cwd: ROOT },
    );
  const MDWE = has('python3') && underMdwe(['--jitless', '-e', '0']).status === 0;
  it(`runs the dock's code under MemoryDenyWriteExecute with the unit's node flags, which the JIT cannot ${MDWE ? '' : '(skipped: this kernel has no PR_SET_MDWE, or python3 is missing)'}`.trim(), {
    skip: !MDWE,
  }, () => {
    const flags = /^\/usr\/bin\/node((?: --\S+)*) /
      .exec(get(dock, 'Service', 'ExecStart')!)![1]!
      .trim()
      .split(' ');
    const dir = tempDir('bwc-deploy-mdwe-');
    const clip = join(dir, 'clip.mp4');
    writeFileSync(clip, Buffer.alloc(9 * 1024 * 1024 + 17, 7));
    const bwc = join(ROOT, 'dist', 'scripts', 'bwc.js');
    // The dock's own work: a key generated, a clip hashed on worker threads, its manifest signed.
    const keys = underMdwe([...flags, bwc, 'keygen', '--out', join(dir, 'key')]);
    expect(keys.status, keys.stderr).toBe(0);
    const signed = underMdwe([
      ...flags,
      bwc,
      'manifest',
      'sign',
      '--key',
      join(dir, 'key'),
      '--device-id',
      'DOCK-MDWE',
      '--out',
      join(dir, 'clip.manifest'),
      clip,
    ]);
    expect(signed.status, signed.stderr).toBe(0);
    expect(existsSync(join(dir, 'clip.manifest'))).toBe(true);
    // Without --jitless, V8 cannot allocate its code space and stops at once.
    const jit = underMdwe(['-e', 'console.log([1, 2, 3].map((x) => x * 2))']);
    expect(jit.status).not.toBe(0);
    expect(jit.stderr).toMatch(/Check failed|Fatal/);
  });

  it('the gateway unit, by contrast, sees no hardware and cannot touch the clock or kernel tunables', () => {
    for (const key of ['PrivateDevices', 'ProtectClock', 'ProtectKernelTunables']) expect(get(units.gateway, 'Service', key), key).toBe('yes');
  });
});

describe('sysusers', () => {
  it(`creates the users, their groups and memberships in an empty root ${SYSTEMD_TOOLS ? '' : SKIP_REASON}`.trim(), {
    skip: !SYSTEMD_TOOLS,
  }, () => {
    const root = tempDir('bwc-deploy-sysusers-');
    mkdirSync(join(root, 'etc'));
    writeFileSync(join(root, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/bash\n');
    writeFileSync(join(root, 'etc', 'group'), 'root:x:0:\ndialout:x:20:\n');
    for (const f of ['bwc-dock.conf', 'bwc-gateway.conf']) copyFileSync(join(DEPLOY, 'sysusers', f), join(root, f));
    const r = spawnSync('systemd-sysusers', [`--root=${root}`, join(root, 'bwc-dock.conf'), join(root, 'bwc-gateway.conf')], {
      encoding: 'utf8',
    });
    expect(r.status, r.stderr).toBe(0);
    const passwd = readFileSync(join(root, 'etc', 'passwd'), 'utf8');
    const group = readFileSync(join(root, 'etc', 'group'), 'utf8');
    expect(passwd).toMatch(/^bwc-dock:x:\d+:\d+:[^:]*:\/var\/lib\/bwc-dock:\/usr\/sbin\/nologin$/m);
    expect(passwd).toMatch(/^bwc-gateway:x:\d+:\d+:[^:]*:\/var\/lib\/bwc-gateway:\/usr\/sbin\/nologin$/m);
    expect(group).toMatch(/^dialout:x:20:bwc-dock$/m);
    expect(group).toMatch(/^gpio:x:\d+:bwc-dock$/m);
    expect(group).toMatch(/^bwc-dock:x:\d+:$/m);
    // System users: below the first regular uid.
    for (const m of passwd.matchAll(/^bwc-\w+:x:(\d+):/gm)) expect(Number(m[1])).toBeLessThan(1000);
  });
});
