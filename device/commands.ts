/**
 * What the dock does with a gateway's Command (DESIGN §4): policy data into the policy store, the
 * camera assignments every activation is decided with, a status request, a litigation hold noted
 * (the dock destroys no evidence either way), a decommission refused while any clip is not yet
 * VERIFIED (4007.1 §4.7), manifests sent again for a chain gap, and signed policy objects the gateway
 * asks for to decide a recording again (each sent back as an Event POLICY_OBJECT). The command's signature was
 * checked by the sync layer (a gateway certified by the pinned root) before it gets here.
 * Returns the one line the dock logs and reports for it.
 */
import type { Logger } from 'pino';
import { pb, type bwc } from '../proto/wire.js';
import { toHex } from '../proto/bytes.js';
import { sameId } from '../proto/canonical.js';
import { PolicyStoreError, type PolicyStore } from './policy/store.js';
import { clipKey, type Clips } from './store/clips.js';
import type { DockState } from './store/state.js';
import type { DockSync } from './sync/sync.js';

/** One camera-to-officer assignment, as the gateway sent it (`toMs` 0: still in force). */
export interface Assignment {
  cameraSerial: string;
  officerId: string;
  fromMs: number;
  toMs: number;
}

/** The officer the camera was assigned to at `atMs` (the latest assignment in force then), or null. */
export function officerAt(state: Pick<DockState, 'json'>, cameraSerial: string, atMs: number): string | null {
  const list = state.json<Assignment[]>('assignments') ?? [];
  const hit = list
    .filter((a) => sameId(a.cameraSerial, cameraSerial) && a.fromMs <= atMs && (a.toMs === 0 || atMs < a.toMs))
    .sort((a, b) => b.fromMs - a.fromMs)[0];
  return hit?.officerId ?? null;
}

/** At most this many objects are answered per request (a request names one decision's basis and bundle). */
const MAX_OBJECTS_ASKED = 32;

export interface CommandContext {
  now(): number;
  policy: PolicyStore;
  /** Loads the policy cache again after the store gained something. */
  reloadPolicy(): void;
  sync: DockSync;
  state: DockState;
  clips: Clips;
  log: Logger;
  /** Asks every docked camera for its status. */
  requestCameraStatus(): void;
}

export async function applyCommand(cmd: bwc.v1.Command, c: CommandContext): Promise<string> {
  const now = c.now();
  switch (cmd.cmd) {
    case 'policyBundle':
    case 'grant':
    case 'revocation':
    case 'operationPlan': {
      const bytes = cmd[cmd.cmd]!;
      try {
        const r =
          cmd.cmd === 'policyBundle'
            ? c.policy.addBundle(bytes)
            : c.policy.add(({ grant: 'AuthorizationGrant', revocation: 'Revocation', operationPlan: 'OperationPlan' } as const)[cmd.cmd], bytes);
        if (r.added) c.reloadPolicy();
        c.sync.send('event', 'Event', {
          kind: pb.EventKind.EVENT_KIND_POLICY_APPLIED,
          occurredAtMs: now,
          detail: `${cmd.cmd} ${r.hash.slice(0, 16)}… ${r.added ? 'applied' : 'already held'}`,
        });
        return r.added ? `applied ${r.hash.slice(0, 16)}…` : 'already held';
      } catch (e) {
        if (!(e instanceof PolicyStoreError)) throw e;
        c.sync.send('event', 'Event', {
          kind: pb.EventKind.EVENT_KIND_ALERT,
          alert: pb.AlertKind.ALERT_KIND_SYNC_ERROR,
          occurredAtMs: now,
          detail: `command refused: ${cmd.cmd}: ${e.message}`,
        });
        return `refused: ${e.message}`;
      }
    }
    case 'cameraAssignments': {
      const a = cmd.cameraAssignments as bwc.v1.CameraAssignments;
      const at = Number(a.header?.createdAtMs ?? cmd.header?.createdAtMs ?? 0);
      const held = Number(c.state.get('assignments_at') ?? '0');
      if (at < held) return `refused: older than the assignments held (${new Date(held).toISOString()})`;
      const list: Assignment[] = (a.assignments as bwc.v1.CameraAssignment[]).map((x) => ({
        cameraSerial: x.cameraSerial,
        officerId: x.officerId,
        fromMs: Number(x.fromMs),
        toMs: Number(x.toMs),
      }));
      c.state.transaction(() => {
        c.state.setJson('assignments', list);
        c.state.set('assignments_at', String(at));
      });
      return `applied ${list.length} assignment(s)`;
    }
    case 'statusRequest':
      c.sync.sendStatus();
      c.requestCameraStatus();
      return 'status sent';
    case 'holdNotice': {
      const h = cmd.holdNotice as bwc.v1.HoldNotice;
      const holds = c.state.json<Record<string, unknown>>('holds') ?? {};
      if (h.released) delete holds[h.holdId];
      else holds[h.holdId] = { reason: h.reason, fromMs: Number(h.fromMs), toMs: Number(h.toMs), at: now };
      c.state.setJson('holds', holds);
      c.log.info(`litigation hold ${h.holdId} ${h.released ? 'released' : `placed: ${h.reason}`} (the dock destroys no evidence either way)`);
      return h.released ? 'hold released' : 'hold recorded';
    }
    case 'decommission': {
      const open = c.clips.countNotVerified();
      if (open > 0) {
        c.sync.send('event', 'Event', {
          kind: pb.EventKind.EVENT_KIND_ALERT,
          alert: pb.AlertKind.ALERT_KIND_SYNC_ERROR,
          occurredAtMs: now,
          detail: `decommission refused: ${open} clip(s) not yet VERIFIED (4007.1 §4.7)`,
        });
        return `refused: ${open} clip(s) not yet VERIFIED`;
      }
      c.state.set('decommission_requested', new Date(now).toISOString());
      c.log.warn(`decommission requested by ${cmd.decommission?.requestedBy || 'the gateway'}: run \`bwc dock decommission\` on this dock to finish`);
      return 'decommission accepted: no clip is pending';
    }
    case 'manifestRequest': {
      const m = cmd.manifestRequest!;
      const rows = c.clips.byManifestSeq(Number(m.fromSeq), Number(m.toSeq));
      for (const r of rows)
        if (r.manifest && r.manifest_hash) c.sync.requeue('manifest', 'ClipManifest', r.manifest_hash, r.manifest, clipKey(r.camera_serial, r.clip_id));
      return `resent ${rows.length} manifest(s)`;
    }
    case 'policyObjectRequest': {
      // DESIGN §5: the gateway decides again and lacks an object a decision named. Each one held is
      // sent as it was signed (it verifies itself); one not held is said so, never invented.
      const wanted = (cmd.policyObjectRequest?.hashes ?? []).slice(0, MAX_OBJECTS_ASKED).map((h) => toHex(h));
      let sent = 0;
      const missing: string[] = [];
      for (const hash of wanted) {
        const held = hash.length === 64 ? c.policy.envelopeByHash(hash) : null;
        if (!held) {
          missing.push(hash);
          continue;
        }
        c.sync.send('event', 'Event', {
          kind: pb.EventKind.EVENT_KIND_POLICY_OBJECT,
          occurredAtMs: now,
          policyObject: held.envelope,
          detail: `${held.type} ${hash.slice(0, 16)}…`,
        });
        sent++;
      }
      if (missing.length)
        c.log.warn(`the gateway asked for ${missing.length} policy object(s) this dock does not hold: ${missing.map((h) => `${h.slice(0, 16)}…`).join(', ')}`);
      return `sent ${sent} of ${wanted.length} policy object(s) asked for`;
    }
    default:
      return 'refused: unknown command';
  }
}
