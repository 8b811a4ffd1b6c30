/**
 * The transfers under way on this dock: clips being hashed, and clips being sent to the gateway,
 * with their bytes done. Custody keeps it; `bwc dock status`, the Status message and the status
 * light read it. It is held in memory only: after a restart the work starts again and says so.
 */
export interface ProgressEntry {
  cameraSerial: string;
  clipId: string;
  phase: 'hash' | 'upload';
  doneBytes: number;
  totalBytes: number;
}

export class Transfers {
  readonly #entries = new Map<string, ProgressEntry>();

  /** Hashing of the clip `clipKey` reached `doneBytes`. */
  hashing(clipKey: string, entry: Omit<ProgressEntry, 'phase'>): void {
    this.#entries.set(`hash:${clipKey}`, { ...entry, phase: 'hash' });
  }

  hashDone(clipKey: string): void {
    this.#entries.delete(`hash:${clipKey}`);
  }

  /** Sending the clip whose manifest is `manifestHash` reached `doneBytes`. */
  uploading(manifestHash: string, entry: Omit<ProgressEntry, 'phase'>): void {
    this.#entries.set(`upload:${manifestHash}`, { ...entry, phase: 'upload' });
  }

  uploadDone(manifestHash: string): void {
    this.#entries.delete(`upload:${manifestHash}`);
  }

  get size(): number {
    return this.#entries.size;
  }

  list(): ProgressEntry[] {
    return [...this.#entries.values()];
  }
}
