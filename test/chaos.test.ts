/**
 * The chaos suite in its short form (scripts/sim/chaos.ts; `bwc sim chaos --runs N` is the soak):
 * two docks, two cameras, a gateway and Mosquitto as real processes, with faults that land while a
 * clip is mid-upload (checked from the gateway's database before each) — docks and the gateway
 * SIGKILLed and restarted, the broker restarted and frozen — serial chaos on the camera links, dock
 * messages duplicated and delivered late; and then the invariants: every clip VERIFIED exactly once
 * and freed by the camera only after the gateway's audit log has it VERIFIED (not the dock's own
 * history), no chain gap or fork, the audit log intact, no database corrupted. Two fixed seeds, so
 * a failure replays.
 */
import { describe, expect, it } from 'vitest';
import { runBwcAsync, tempDir } from './helpers.js';

describe('bwc sim chaos (short form)', () => {
  for (const seed of [11, 2026]) {
    it(`keeps every custody invariant under seed ${seed}`, async () => {
      const dir = tempDir(`bwc-chaos-${seed}-`);
      const r = await runBwcAsync(['sim', 'chaos', '--seed', String(seed), '--faults', '5', '--window', '60', '--clips', '3,16,6', '--dir', dir, '--json']);
      const results = JSON.parse(r.stdout || '[]') as {
        seed: number;
        ok: boolean;
        faults: string[];
        landed: ({ clip: string; chunks: number; of: number } | null)[];
        invariants: { name: string; ok: boolean; detail: string }[];
        duplicatesSent: number;
      }[];
      const report = `${r.stderr.slice(-3000)}\n${JSON.stringify(results, null, 1).slice(0, 6000)}`;
      expect(r.code, report).toBe(0);
      expect(results).toHaveLength(1);
      const [run] = results;
      expect(run!.seed).toBe(seed);
      expect(run!.faults.length, report).toBe(5);
      // Every fault hit a clip some of whose chunks the gateway had, and not all.
      expect(run!.landed, report).toHaveLength(5);
      for (const l of run!.landed) expect(l !== null && l.chunks > 0 && l.chunks < l.of, report).toBe(true);
      for (const f of run!.faults) expect(f, report).toMatch(/mid-upload: \d+\/\d+ chunks at the gateway/);
      expect(run!.duplicatesSent, report).toBeGreaterThan(0);
      const names = run!.invariants.map((i) => i.name);
      for (const want of [
        'every clip VERIFIED exactly once (audit log)',
        'audit log intact (bwc audit verify)',
        'gateway database intact (PRAGMA integrity_check)',
        'no chain gap or fork, no refused signature or clip (none injected)',
        'dock-c-2: dock database intact (PRAGMA integrity_check)',
        "every fault landed while a clip was mid-upload (from the gateway's database)",
        "CAM-C-1: each clip freed only after the gateway's audit log has it VERIFIED, with the same SHA-256",
        "CAM-C-2: each clip freed only after the gateway's audit log has it VERIFIED, with the same SHA-256",
      ]) {
        expect(names, report).toContain(want);
      }
      expect(
        run!.invariants.filter((i) => !i.ok),
        report,
      ).toEqual([]);
    }, 420_000);
  }
});
