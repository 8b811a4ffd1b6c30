/**
 * `bwc dock`: the dock agent, `bwc dock enroll | status | decommission` for field IT, and
 * `bwc dock config-reference`, the configuration reference generated from the schema.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import type { Command } from 'commander';
import { loadDockConfig, statePaths, DockConfigError, DockConfigSchema, DOCK_ENV, type DockConfig } from '../../device/config.js';
import { DockAgent, DockError } from '../../device/agent.js';
import { KeyFileError } from '../../device/custody/keys.js';
import { readEnrollment, EnrollmentError } from '../../device/sync/enroll.js';
import { enrollDock } from '../../device/enrollment.js';
import { openDockDb } from '../../device/store/dock-db.js';
import { Clips, NOT_VERIFIED } from '../../device/store/clips.js';
import { Outbox } from '../../device/store/outbox.js';
import { DockState } from '../../device/store/state.js';
import { PolicyStoreError } from '../../device/policy/store.js';
import { PRIVATE_KEY_FILE } from '../../proto/keydir.js';
import { assertId } from '../../proto/topics.js';
import { isWireError } from '../../proto/errors.js';
import { CliError, writeJson } from './common.js';
import { registerConfigReference } from './config-reference.js';

function config(file?: string, stateDir?: string): DockConfig {
  try {
    const c = loadDockConfig(file);
    if (stateDir) c.stateDir = stateDir;
    return c;
  } catch (e) {
    if (e instanceof DockConfigError) throw new CliError(e.message);
    throw e;
  }
}

function fmtBytes(n: number | null): string {
  if (n === null) return '-';
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(2)} GiB`;
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}

export function registerDock(program: Command): void {
  const dock = program.command('dock').description('The dock agent: camera links, policy decisions, custody and sync with the gateway.');
  const common = (c: Command) =>
    c
      .option('--config <file>', 'YAML or JSON configuration (device/README.md lists every setting)')
      .option('--state-dir <dir>', 'state directory (database, device key, enrollment)');

  common(dock.command('run', { isDefault: true }).description('Run the dock agent (the default).'))
    .addHelpText(
      'after',
      '\nExamples:\n  $ bwc dock --config /etc/bwc/dock.yaml\n  $ BWC_DOCK_PORTS=/dev/ttyACM0,/dev/ttyACM1 bwc dock --state-dir /var/lib/bwc-dock\n\nSIGTERM or SIGINT: finish the write under way, publish a clean Death, close the database.\n',
    )
    .action(async (o: { config?: string; stateDir?: string }) => {
      const c = config(o.config, o.stateDir);
      let agent: DockAgent;
      try {
        agent = DockAgent.open({ config: c });
      } catch (e) {
        if (e instanceof DockError || isWireError(e) || e instanceof PolicyStoreError) throw new CliError(e.message);
        throw e;
      }
      await agent.start();
      process.stdout.write(`${JSON.stringify({ deviceId: agent.deviceId, fleet: agent.fleet, stateDir: statePaths(c).dir })}\n`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await agent.stop();
    });

  common(dock.command('enroll').description('Generate the device key here and enroll with a gateway using a one-time token.'))
    .requiredOption('--gateway <url>', 'the gateway HTTP API over TLS, e.g. https://gateway.example:8443 (plain http:// only to a loopback address)')
    .requiredOption('--token <token>', 'the one-time enrollment token the operator issued for this device id')
    .requiredOption('--device-id <id>', "this dock's device id (the one the token was issued for)")
    .requiredOption('--root-fingerprint <hex>', 'the agency root key id (64 hex digits), given out of band')
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      '\nExample:\n  $ bwc dock enroll --gateway https://gw.field.example:8080 --device-id dock-sea-01 \\\n      --token "$(cat token.txt)" --root-fingerprint 3f1c…e9 --state-dir /var/lib/bwc-dock\n',
    )
    .action(async (o: { config?: string; stateDir?: string; gateway: string; token: string; deviceId: string; rootFingerprint: string; json?: boolean }) => {
      const c = config(o.config, o.stateDir);
      const paths = statePaths(c);
      try {
        assertId(o.deviceId, 'device id');
      } catch (e) {
        throw new CliError((e as Error).message);
      }
      let out;
      try {
        out = await enrollDock({
          stateDir: paths.dir,
          gatewayUrl: o.gateway,
          deviceId: o.deviceId,
          token: o.token,
          rootFingerprint: o.rootFingerprint,
        });
      } catch (e) {
        if (e instanceof EnrollmentError || e instanceof KeyFileError) throw new CliError(e.message);
        if (e instanceof PolicyStoreError) throw new CliError(`cannot keep the enrolled policy: ${e.message}`);
        throw new CliError(`cannot prepare ${paths.dir}: ${(e as Error).message}`);
      }
      if (o.json) writeJson(out);
      else
        process.stdout.write(
          `enrolled ${out.deviceId} in fleet ${out.fleet} (key ${out.keyId.slice(0, 16)}…)\ngateway ${out.gateway}, broker ${out.broker}${out.policyBundle ? '' : '\nno policy bundle yet: the gateway sends it when one is published'}\n`,
        );
    });

  common(dock.command('status').description("The custody table of this dock's clips, the outbox, and transfers under way."))
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  $ bwc dock status --state-dir /var/lib/bwc-dock\n  $ bwc dock status --config /etc/bwc/dock.yaml --json | jq .notVerified\n',
    )
    .action((o: { config?: string; stateDir?: string; json?: boolean }) => {
      const c = config(o.config, o.stateDir);
      const paths = statePaths(c);
      if (!existsSync(paths.db)) throw new CliError(`no dock database in ${paths.dir} (not enrolled, or another --state-dir)`);
      const db = openDockDb(paths.db);
      try {
        const clips = new Clips(db);
        const outbox = new Outbox(db);
        const enrollment = readEnrollment(paths.enrollment);
        let progress: unknown = null;
        try {
          progress = JSON.parse(readFileSync(`${paths.dir}/progress.json`, 'utf8'));
        } catch {
          progress = null;
        }
        const rows = clips.all();
        const report = {
          deviceId: enrollment?.deviceId ?? null,
          fleet: enrollment?.fleet ?? null,
          outbox: outbox.depth(),
          byState: clips.countByState(),
          notVerified: clips.countNotVerified(),
          progress,
          clips: rows.map((r) => ({
            cameraSerial: r.camera_serial,
            clipId: r.clip_id,
            state: r.state,
            bytes: r.byte_length ?? r.size,
            sha256: r.sha256,
            manifestSeq: r.manifest_seq,
            error: r.error,
            updatedAt: new Date(r.updated_at).toISOString(),
          })),
        };
        if (o.json) {
          writeJson(report);
          return;
        }
        const lines = [
          `dock ${report.deviceId ?? '(not enrolled)'} fleet ${report.fleet ?? '-'}: ${rows.length} clip(s), ${report.notVerified} not yet verified; outbox ${report.outbox.messages} message(s), ${fmtBytes(report.outbox.bytes)}`,
        ];
        const table = [
          ['CAMERA', 'CLIP', 'STATE', 'SIZE', 'SEQ', 'SHA-256', 'UPDATED'],
          ...report.clips.map((r) => [
            r.cameraSerial,
            r.clipId,
            r.state,
            fmtBytes(r.bytes),
            r.manifestSeq === null ? '-' : String(r.manifestSeq),
            r.sha256 ? `${r.sha256.slice(0, 12)}…` : '-',
            r.updatedAt,
          ]),
        ];
        const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
        for (const row of table)
          lines.push(
            row
              .map((cell, i) => cell.padEnd(widths[i]!))
              .join('  ')
              .trimEnd(),
          );
        for (const r of report.clips) if (r.error) lines.push(`  ${r.cameraSerial}/${r.clipId}: ${r.error}`);
        const transfers =
          (
            progress as {
              transfers?: { cameraSerial: string; clipId: string; phase: string; doneBytes: number; totalBytes: number }[];
            } | null
          )?.transfers ?? [];
        for (const t of transfers) lines.push(`  ${t.phase} ${t.cameraSerial}/${t.clipId}: ${fmtBytes(t.doneBytes)} of ${fmtBytes(t.totalBytes)}`);
        process.stdout.write(`${lines.join('\n')}\n`);
      } finally {
        db.close();
      }
    });

  common(
    dock
      .command('decommission')
      .description('Retire this dock. Refused while any clip is not VERIFIED (4007.1 §4.7); the records stay, the private key and MQTT password are removed.'),
  )
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      '\nExample:\n  $ bwc dock status --state-dir /var/lib/bwc-dock          # every clip VERIFIED?\n  $ bwc dock decommission --state-dir /var/lib/bwc-dock\n',
    )
    .action((o: { config?: string; stateDir?: string; json?: boolean }) => {
      const c = config(o.config, o.stateDir);
      const paths = statePaths(c);
      if (!existsSync(paths.db)) throw new CliError(`no dock database in ${paths.dir}`);
      const db = openDockDb(paths.db);
      try {
        const clips = new Clips(db);
        const open = clips.inStates(NOT_VERIFIED);
        if (open.length > 0) {
          const list = open
            .slice(0, 5)
            .map((r) => `${r.camera_serial}/${r.clip_id} (${r.state})`)
            .join(', ');
          throw new CliError(`refused: ${open.length} clip(s) not yet VERIFIED by the gateway: ${list}${open.length > 5 ? ', …' : ''} (4007.1 §4.7)`);
        }
        const state = new DockState(db);
        const at = new Date().toISOString();
        state.set('decommissioned', at);
        rmSync(`${paths.keyDir}/${PRIVATE_KEY_FILE}`, { force: true });
        rmSync(paths.mqttPassword, { force: true });
        if (o.json) writeJson({ decommissioned: at, clips: clips.all().length });
        else process.stdout.write(`decommissioned at ${at}; ${clips.all().length} clip record(s) kept in ${paths.db}\n`);
      } finally {
        db.close();
      }
    });

  registerConfigReference(dock, 'dock', DockConfigSchema, DOCK_ENV, 'device/README.md');
}
