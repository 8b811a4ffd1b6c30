/**
 * A throw-away Mosquitto broker for tests (scripts/sim/mosquitto.ts), its files in a test temp dir.
 */
import { startMosquitto as start, type LocalMosquitto, type MosquittoOptions } from '../scripts/sim/mosquitto.js';
import { tempDir } from './helpers.js';

export { freePort, type MosquittoOptions } from '../scripts/sim/mosquitto.js';
export type TestMosquitto = LocalMosquitto;

export async function startMosquitto(options: MosquittoOptions = {}): Promise<TestMosquitto> {
  return start({ dir: tempDir('bwc-mosq-'), ...options });
}
