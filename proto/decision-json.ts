/**
 * The decision JSON of DESIGN §5 (what `bwc policy decide --json` prints, what the gateway's API
 * and the dashboard show). Types only, importing nothing: a browser build reads them too.
 * Conversion to and from the protobuf form is in decision.ts.
 */
export interface ActivationJson {
  cameraSerial: string;
  officerId?: string | null;
  deviceRole: string;
  trigger: string;
  activity?: string | null;
  purposes?: string[];
  method: string;
  location?: { office?: string } | null;
  at: string;
  stoppedAt?: string | null;
  clock?: { synced: boolean; offsetMs: number } | null;
  replayed?: boolean;
  clipId?: string;
}

export interface DecisionJson {
  decision: 'AUTHORIZED' | 'UNAUTHORIZED' | 'PROHIBITED' | 'PENDING_CLASSIFICATION';
  /** `hash`: hex SHA-256 of the basis object's signed input (the grant or plan; the bundle for a trigger or standing policy). */
  basis?: { kind: string; id: string; category?: string; hash?: string } | null;
  reasons: string[];
  clauses: string[];
  policyVersion: number;
  cacheAgeMs: number;
  evaluatedAt: string;
  decidedAt: string;
  activation?: ActivationJson;
  bundleHash?: string | null;
  /**
   * Where the basis's cover ends (DESIGN §5 whole-recording coverage): for a recording still running,
   * the instant its basis will end (the dock alerts the officer then); for a stopped recording that
   * its basis did not cover to the end, the instant cover ended. Null: covered with no end in sight.
   */
  coveredUntil?: string | null;
}
