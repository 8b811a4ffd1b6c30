/**
 * scripts/deploy/udev/99-bwc-camera.rules: parsed with udev's grammar (udev(7): comma-separated
 * KEY[{attr}] OP "value"; match keys compare, assignment keys assign) and held to the rest of the
 * deployment: one camera USB id throughout, the same as the example dock configs' `link.usb`;
 * devices for groups that sysusers creates and the dock unit joins; storage mounted read-only where
 * the dock's `storage.mountTemplate` looks, by the systemd-mount options that exist.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadDockConfig, parseDockConfig } from '../device/config.js';
import { hex4, parseUsbMatch } from '../device/io/usb.js';
import { ROOT } from './helpers.js';

const DEPLOY = join(ROOT, 'scripts', 'deploy');

interface Key {
  key: string;
  attr: string | null;
  op: string;
  value: string;
}
type Rule = Key[];

const MATCH_ONLY = new Set([
  'ACTION',
  'DEVPATH',
  'KERNEL',
  'KERNELS',
  'SUBSYSTEM',
  'SUBSYSTEMS',
  'DRIVER',
  'DRIVERS',
  'ATTRS',
  'TAGS',
  'TEST',
  'PROGRAM',
  'RESULT',
  'CONST',
]);
const ASSIGN_ONLY = new Set(['OWNER', 'GROUP', 'MODE', 'SECLABEL', 'RUN', 'LABEL', 'GOTO', 'IMPORT', 'OPTIONS']);
const EITHER = new Set(['NAME', 'SYMLINK', 'ATTR', 'SYSCTL', 'ENV', 'TAG']);
const NEEDS_ATTR = new Set(['ATTR', 'ATTRS', 'ENV', 'SYSCTL', 'CONST', 'IMPORT', 'SECLABEL']);
const MATCH_OPS = new Set(['==', '!=']);
const ASSIGN_OPS = new Set(['=', '+=', '-=', ':=']);

/** The rules of a file, or an error naming the line and the key that udev would reject. */
function parseRules(text: string): Rule[] {
  const rules: Rule[] = [];
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    if (line.endsWith('\\')) throw new Error(`line ${i + 1}: continuation lines are not used here`);
    const rule: Rule = [];
    const re = /\s*([A-Z_]+)(?:\{([^}]+)\})?\s*(==|!=|\+=|-=|:=|=)\s*"((?:[^"\\]|\\.)*)"\s*(,|$)/y;
    let m: RegExpExecArray | null;
    let at = 0;
    while (at < line.length && (m = re.exec(line)) !== null) {
      const [, key, attr, op, value] = m as unknown as [string, string, string | undefined, string, string];
      const where = `line ${i + 1}, ${key}`;
      if (!MATCH_ONLY.has(key) && !ASSIGN_ONLY.has(key) && !EITHER.has(key)) throw new Error(`${where}: unknown key`);
      if (MATCH_ONLY.has(key) && !MATCH_OPS.has(op)) throw new Error(`${where}: a match key takes == or !=, not ${op}`);
      if (ASSIGN_ONLY.has(key) && !ASSIGN_OPS.has(op)) throw new Error(`${where}: an assignment key takes =, +=, -= or :=, not ${op}`);
      if (NEEDS_ATTR.has(key) && !attr) throw new Error(`${where}: needs {attribute}`);
      rule.push({ key, attr: attr ?? null, op, value });
      at = re.lastIndex;
    }
    if (at !== line.length) throw new Error(`line ${i + 1}: cannot parse from column ${at + 1}: ${line.slice(at, at + 40)}`);
    if (!rule.some((k) => MATCH_OPS.has(k.op))) throw new Error(`line ${i + 1}: a rule without a match applies to every device`);
    if (!rule.some((k) => ASSIGN_OPS.has(k.op))) throw new Error(`line ${i + 1}: a rule that assigns nothing`);
    rules.push(rule);
  }
  return rules;
}

const rules = parseRules(readFileSync(join(DEPLOY, 'udev', '99-bwc-camera.rules'), 'utf8'));
const value = (rule: Rule, key: string, attr: string | null = null, ops = MATCH_OPS) =>
  rule.find((k) => k.key === key && k.attr === attr && ops.has(k.op))?.value;
const assigned = (rule: Rule, key: string, attr: string | null = null) => value(rule, key, attr, ASSIGN_OPS);
const matching = (pred: (r: Rule) => boolean) => rules.filter(pred);
const sysusersMembers = readFileSync(join(DEPLOY, 'sysusers', 'bwc-dock.conf'), 'utf8')
  .split('\n')
  .filter((l) => /^m\s+bwc-dock\s/.test(l))
  .map((l) => l.split(/\s+/)[2]);

describe('99-bwc-camera.rules', () => {
  it('parses as udev rules: known keys, the right operators, a match and an assignment in each', () => {
    expect(rules.length).toBeGreaterThanOrEqual(5);
    expect(() => parseRules('SUBSYSTEM=="tty", GROUP=="bwc-dock"')).toThrow(/assignment key/);
    expect(() => parseRules('SUBSYSTEM="tty", GROUP="bwc-dock"')).toThrow(/match key/);
    expect(() => parseRules('SUBSYSTEM=="tty", GRUOP="x"')).toThrow(/unknown key/);
  });

  it('names one camera USB id throughout, in lower-case hex, the one the example dock configs watch', () => {
    const ids = new Set<string>();
    for (const r of rules) {
      const vid = value(r, 'ATTRS', 'idVendor') ?? value(r, 'ATTR', 'idVendor');
      const pid = value(r, 'ATTRS', 'idProduct') ?? value(r, 'ATTR', 'idProduct');
      expect(vid === undefined, 'idVendor without idProduct, or the reverse').toBe(pid === undefined);
      if (vid !== undefined) ids.add(`${vid}:${pid}`);
    }
    expect(ids.size).toBe(1);
    const [id] = [...ids];
    expect(id).toMatch(/^[0-9a-f]{4}:[0-9a-f]{4}$/);
    const m = parseUsbMatch(id!);
    for (const example of ['dock.yaml', 'dock-wearable.yaml']) {
      const usb = loadDockConfig(join(DEPLOY, 'examples', example), {}).link.usb.map(parseUsbMatch);
      expect(
        usb.map((u) => `${hex4(u.vendorId)}:${hex4(u.productId)}`),
        example,
      ).toContain(`${hex4(m.vendorId)}:${hex4(m.productId)}`);
    }
  });

  it("gives the camera's tty and USB device node to group bwc-dock only (0660)", () => {
    const tty = matching((r) => value(r, 'SUBSYSTEM') === 'tty' && assigned(r, 'GROUP') !== undefined);
    expect(tty).toHaveLength(1);
    expect(assigned(tty[0]!, 'GROUP')).toBe('bwc-dock');
    expect(assigned(tty[0]!, 'MODE')).toBe('0660');
    const usb = matching((r) => value(r, 'SUBSYSTEM') === 'usb');
    expect(usb).toHaveLength(1);
    expect(value(usb[0]!, 'ENV', 'DEVTYPE')).toBe('usb_device');
    // The device node's own attributes: ATTR, not ATTRS (which would also match its interfaces).
    expect(value(usb[0]!, 'ATTR', 'idVendor')).toBeDefined();
    expect(assigned(usb[0]!, 'GROUP')).toBe('bwc-dock');
    expect(assigned(usb[0]!, 'MODE')).toBe('0660');
    // The group is bwc-dock's own (sysusers' u line makes it), the unit's Group=.
    expect(readFileSync(join(DEPLOY, 'sysusers', 'bwc-dock.conf'), 'utf8')).toMatch(/^u bwc-dock /m);
    expect(readFileSync(join(DEPLOY, 'systemd', 'bwc-dock.service'), 'utf8')).toMatch(/^Group=bwc-dock$/m);
  });

  it('names each camera /dev/bwc-camera-<serial>, only when it has a serial number', () => {
    const link = matching((r) => assigned(r, 'SYMLINK') !== undefined);
    expect(link).toHaveLength(1);
    expect(assigned(link[0]!, 'SYMLINK')).toBe('bwc-camera-%s{serial}');
    expect(link[0]!.find((k) => k.key === 'SYMLINK')!.op).toBe('+=');
    expect(value(link[0]!, 'ATTRS', 'serial')).toBe('?*');
  });

  it("mounts camera storage read-only, by label, where the dock's storage.mountTemplate looks", () => {
    const mount = matching((r) => value(r, 'SUBSYSTEM') === 'block');
    expect(mount).toHaveLength(1);
    const r = mount[0]!;
    expect(value(r, 'ACTION')).toBe('add');
    expect(value(r, 'ENV', 'ID_FS_LABEL')).toBe('?*');
    const run = assigned(r, 'RUN', 'program')!;
    const argv = run.split(/\s+/);
    expect(argv[0]).toBe('/usr/bin/systemd-mount');
    expect(argv).toContain('--options=ro,nosuid,nodev,noexec');
    expect(argv).toContain('--no-block');
    expect(argv.at(-2)).toBe('$devnode');
    const template = parseDockConfig({}).storage.mountTemplate;
    expect(loadDockConfig(join(DEPLOY, 'examples', 'dock.yaml'), {}).storage.mountTemplate).toBe(template);
    expect(argv.at(-1)).toBe(template.replace('{label}', '$env{ID_FS_LABEL}'));
  });

  const hasSystemdMount = spawnSync('sh', ['-c', 'command -v systemd-mount']).status === 0;
  it(`uses only systemd-mount options that exist${hasSystemdMount ? '' : ' (skipped: systemd-mount not installed; Debian package systemd)'}`, {
    skip: !hasSystemdMount,
  }, () => {
    const help = spawnSync('systemd-mount', ['--help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    const run = assigned(matching((r) => value(r, 'SUBSYSTEM') === 'block')[0]!, 'RUN', 'program')!;
    const options = run.split(/\s+/).filter((a) => a.startsWith('--'));
    expect(options.length).toBeGreaterThan(0);
    for (const option of options) expect(help.stdout, option).toMatch(new RegExp(`\\s${option.split('=')[0]}[=\\s]`));
  });

  it('gives the GPIO chips to group gpio, which bwc-dock joins', () => {
    const gpio = matching((r) => value(r, 'SUBSYSTEM') === 'gpio');
    expect(gpio).toHaveLength(1);
    expect(value(gpio[0]!, 'KERNEL')).toBe('gpiochip*');
    expect(assigned(gpio[0]!, 'GROUP')).toBe('gpio');
    expect(sysusersMembers).toContain('gpio');
  });

  it('leaves no device node open to others', () => {
    for (const r of rules) {
      const mode = assigned(r, 'MODE');
      if (mode !== undefined) expect(mode).toMatch(/^0[0-7][0-7]0$/);
    }
  });
});
