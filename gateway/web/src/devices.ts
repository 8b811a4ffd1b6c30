/**
 * The fleet as the dashboard knows it: every device row, loaded once from `GET /api/v1/devices`
 * and then kept current by the live `devices` event (changed rows only, merged by deviceId), so a
 * fleet of ten thousand docks is fetched once, not every second. The Overview counts, the Fleet
 * table and the Device page read the same store.
 */
import { createContext } from 'preact';
import { useContext, useEffect, useState } from 'preact/hooks';
import type { DeviceJson, DevicesResponse } from '../../api/types.js';
import { api, isAbort, toApiError, type ApiError } from './api.js';

export interface FleetSnapshot {
  /** Every device, in the order the gateway listed them (new ones last). */
  devices: readonly DeviceJson[];
  loaded: boolean;
  loading: boolean;
  error: ApiError | null;
}

export class DeviceStore {
  readonly #byId = new Map<string, DeviceJson>();
  #snapshot: FleetSnapshot = { devices: [], loaded: false, loading: false, error: null };
  #inflight: Promise<void> | null = null;
  /** Rows that arrived live while a full load was in flight: newer than that load's answer. */
  #arrivedDuringLoad: DeviceJson[] = [];
  readonly #listeners = new Set<() => void>();

  get snapshot(): FleetSnapshot {
    return this.#snapshot;
  }

  get(id: string): DeviceJson | undefined {
    return this.#byId.get(id);
  }

  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Loads every device (again); concurrent calls share one request. */
  load(): Promise<void> {
    if (this.#inflight) return this.#inflight;
    this.#arrivedDuringLoad = [];
    this.#publish({ loading: true });
    this.#inflight = api
      .get<DevicesResponse>('/api/v1/devices')
      .then((r) => {
        this.#byId.clear();
        for (const d of r.devices) this.#byId.set(d.deviceId, d);
        for (const d of this.#arrivedDuringLoad) this.#byId.set(d.deviceId, d);
        this.#publish({ loaded: true, loading: false, error: null }, true);
      })
      .catch((e: unknown) => {
        if (!isAbort(e)) this.#publish({ loading: false, error: toApiError(e) });
      })
      .finally(() => {
        this.#inflight = null;
        this.#arrivedDuringLoad = [];
      });
    return this.#inflight;
  }

  /** Merges changed rows (the live `devices` event). */
  merge(rows: readonly DeviceJson[]): void {
    if (rows.length === 0) return;
    if (this.#inflight) this.#arrivedDuringLoad.push(...rows);
    for (const d of rows) this.#byId.set(d.deviceId, d);
    this.#publish({}, true);
  }

  #publish(change: Partial<FleetSnapshot>, rowsChanged = false): void {
    this.#snapshot = { ...this.#snapshot, ...change, ...(rowsChanged ? { devices: [...this.#byId.values()] } : {}) };
    for (const l of [...this.#listeners]) l();
  }
}

export const DeviceStoreContext = createContext<DeviceStore | null>(null);

/**
 * The fleet, re-rendering on every change. Loads it on first use unless `load` is false (the
 * Overview reads the store only when another page has already loaded it).
 */
export function useFleet({ load = true }: { load?: boolean } = {}): FleetSnapshot & { store: DeviceStore } {
  const store = useContext(DeviceStoreContext);
  if (!store) throw new Error('devices: no DeviceStore above this component');
  const [snapshot, setSnapshot] = useState(store.snapshot);
  useEffect(() => {
    const unsubscribe = store.subscribe(() => setSnapshot(store.snapshot));
    setSnapshot(store.snapshot);
    if (load && !store.snapshot.loaded && !store.snapshot.loading) void store.load();
    return unsubscribe;
  }, [store, load]);
  return { ...snapshot, store };
}
