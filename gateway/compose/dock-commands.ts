/**
 * What the gateway sends the docks on its own: a command sealed for each enrolled dock, a
 * litigation hold's notice, and bringing a dock that was born up to date (the policy bundle in
 * force, camera assignments, grants and revocations).
 */
import { deviceTopic } from '../../proto/topics.js';
import type { Logger } from '../api/http.js';
import type { PolicyBundles } from '../authz/bundles.js';
import type { Authorizations } from '../authz/workflow.js';
import type { Fleet } from '../fleet/registry.js';
import type { GatewayMessenger } from '../messenger.js';
import type { LitigationHold } from '../records/retention.js';
import type { Db } from '../store/db.js';

export interface DockCommandsOptions {
  db: Db;
  fleet: Fleet;
  fleetId: string;
  messenger: GatewayMessenger;
  log: Logger;
  publish: (topic: string, payload: Uint8Array) => Promise<void>;
}

export class DockCommands {
  readonly #o: DockCommandsOptions;

  constructor(o: DockCommandsOptions) {
    this.#o = o;
  }

  /** Sends `command` to one dock. */
  async send(deviceId: string, command: Uint8Array): Promise<void> {
    await this.#o.publish(deviceTopic(this.#o.fleetId, deviceId, 'cmd'), command);
  }

  /** Sends each enrolled dock (those `only` names, when given) a command sealed for it; returns how many. */
  async toDocks(seal: (deviceId: string) => Promise<Uint8Array>, only: readonly string[] = []): Promise<number> {
    let n = 0;
    for (const d of await this.#o.fleet.devices()) {
      if (d.status !== 'enrolled' || (only.length > 0 && !only.includes(d.device_id))) continue;
      await this.send(d.device_id, await seal(d.device_id));
      n++;
    }
    return n;
  }

  /** A hold placed or released goes to the docks as a signed HoldNotice. Its failure is logged: the hold stands. */
  async holdChanged(h: LitigationHold): Promise<void> {
    const { db, messenger, log } = this.#o;
    try {
      // The dock the hold names, or the one that recorded the clip it names; otherwise every
      // enrolled dock (an officer, a camera, a date range or a clip not yet here: anywhere).
      const clipDock =
        h.manifestHash && !h.deviceId
          ? ((await db.get<{ device_id: string }>('SELECT device_id FROM manifests WHERE manifest_hash = ?', [h.manifestHash]))?.device_id ?? null)
          : null;
      const devices = h.deviceId ? [h.deviceId] : clipDock ? [clipDock] : [];
      const holdNotice = {
        holdId: h.holdId,
        reason: h.reason,
        fromMs: h.fromAt ?? 0,
        toMs: h.toAt ?? 0,
        released: h.releasedAt !== null,
        scope: { officers: h.officerId ? [h.officerId] : [], cameras: h.cameraSerial ? [h.cameraSerial] : [], devices, offices: [] },
      };
      const sent = await this.toDocks((id) => messenger.sealCommand({ holdNotice }, id), devices);
      log.info({ holdId: h.holdId }, `records: hold ${h.holdId} ${holdNotice.released ? 'released' : 'placed'}; notice sent to ${sent} dock(s)`);
    } catch (e) {
      log.warn({ holdId: h.holdId, err: e }, `records: hold ${h.holdId} stands, but its notice to the docks failed: ${(e as Error).message}`);
    }
  }

  /**
   * A dock that was born (it connected) gets the current policy bundle, the camera assignments, and
   * the grants and revocations that name it or no dock, whatever it missed while away. A failure here is logged; it never refuses the Birth.
   */
  async bringUpToDate(deviceId: string, policy: { bundles: PolicyBundles; authz: Authorizations }): Promise<void> {
    const { fleet, messenger, log } = this.#o;
    try {
      const bundle = policy.bundles.current();
      if (bundle) await this.send(deviceId, await messenger.sealCommand({ policyBundle: bundle.bytes }, deviceId));
      await this.send(deviceId, await messenger.sealCameraAssignments(await fleet.assignmentsForDocks(), deviceId));
      for (const o of await policy.authz.forDevice(deviceId)) {
        await this.send(deviceId, await messenger.sealCommand(o.kind === 'grant' ? { grant: o.envelope } : { revocation: o.envelope }, deviceId));
      }
    } catch (e) {
      log.warn(
        { device: deviceId, err: e },
        `birth: could not send ${deviceId} its policy bundle, camera assignments, grants and revocations: ${(e as Error).message}`,
      );
    }
  }
}
