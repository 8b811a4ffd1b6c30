/**
 * What the gateway does with each message ingest accepted: the fleet applies it, a Birth brings
 * the dock up to date, events and manifests go to the second decision, and the dashboard's live
 * stream hears of the device and clip it changed.
 */
import type { LiveFeed } from '../api/live.js';
import type { Fleet } from '../fleet/registry.js';
import type { FleetMessage } from '../ingest/types.js';
import type { DockCommands } from './dock-commands.js';
import type { GatewayPolicy } from './policy.js';

export function acceptedMessages(o: { fleet: Fleet; commands: DockCommands; policy: GatewayPolicy; live: LiveFeed }): (m: FleetMessage) => Promise<void> {
  const { fleet, commands, policy, live } = o;
  return async (m) => {
    switch (m.type) {
      case 'Birth':
        await fleet.applyBirth(m.deviceId, m.body, m.receivedAt);
        await commands.bringUpToDate(m.deviceId, policy);
        break;
      case 'Death':
        await fleet.applyDeath(m.deviceId, m.body, m.receivedAt);
        break;
      case 'Status':
        await fleet.applyStatus(m.deviceId, m.body, m.receivedAt);
        break;
      case 'Event':
        await fleet.applyEvent(m.deviceId, m.body, m.receivedAt);
        await policy.secondDecisions.noteEvent(m.deviceId, m.hash, m.body, m.receivedAt);
        break;
      case 'ClipManifest':
        await fleet.applyManifest(m.deviceId, m.body, m.receivedAt);
        policy.secondDecisions.noteManifest(m.deviceId, m.hash, m.body, m.receivedAt);
        live.clipChanged(m.hash);
        break;
      case 'ClipVerified':
        live.clipChanged(m.hash);
        break;
      default:
        break;
    }
    live.deviceChanged(m.deviceId);
  };
}
