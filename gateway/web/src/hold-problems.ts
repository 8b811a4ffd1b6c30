/** What a litigation hold needs before it is sent (the gateway checks again). */
import type { HoldInput } from '../../api/types.js';

/** Every problem of a hold at once, so the records officer fixes them in one pass. */
export function holdProblems(input: HoldInput): string[] {
  const problems: string[] = [];
  if (!input.reason) problems.push('Give the reason for the hold (the matter it preserves records for).');
  const { reason: _reason, holdId: _holdId, ...criteria } = input;
  if (Object.keys(criteria).length === 0)
    problems.push('Name at least one criterion besides the reason: a manifest hash, device, officer, camera or date range.');
  if (input.manifestHash !== undefined && !/^[0-9a-f]{64}$/i.test(input.manifestHash))
    problems.push('A manifest hash is 64 hexadecimal characters (copy it from the clip page).');
  if (input.fromAt !== undefined && input.toAt !== undefined && input.fromAt > input.toAt) problems.push('"From" must come before "To".');
  return problems;
}
