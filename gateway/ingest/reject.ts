/**
 * How ingest refuses a message: a reason (counted, DESIGN §7) and, where it matters, an alert. It
 * is a UnitRefusal, so inside a group commit it rolls back only its own unit (batcher.ts).
 */
import { UnitRefusal } from './batcher.js';
import type { IngestAlert, RejectReason } from './types.js';

export class Reject extends UnitRefusal {
  constructor(
    readonly reason: RejectReason,
    message: string,
    readonly alert?: IngestAlert,
  ) {
    super(message);
  }
}
