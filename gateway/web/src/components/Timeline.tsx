/**
 * A clip's custody, step by step (CustodyStep in gateway/api/types.ts): on the dock recorded,
 * stopped and signed (times the device claims, inside the signed manifest); at the gateway
 * received, uploaded and verified; then released (the dock's report that the camera let go of it).
 * A step not reached yet reads "pending".
 */
import type { ClipJson, CustodyStep } from '../../../api/types.js';
import { Time } from './Time.js';

const STEPS: readonly CustodyStep['step'][] = ['recorded', 'stopped', 'signed', 'received', 'uploaded', 'verified', 'released'];

interface TimelineProps {
  steps: readonly CustodyStep[];
  /** Why the gateway refused the clip, when it did: shown at the verification step. */
  rejectReason?: string | null;
}

export function CustodyTimeline({ steps, rejectReason }: TimelineProps) {
  const byStep = new Map(steps.map((s) => [s.step, s]));
  return (
    <ol class="timeline">
      {STEPS.map((name) => {
        const s = byStep.get(name);
        const done = s !== undefined && s.at !== null;
        const refused = name === 'verified' && !done && rejectReason;
        return (
          <li key={name} class={refused ? 'step step-refused' : done ? 'step step-done' : 'step step-pending'}>
            <span class="step-name">{name}</span>
            <span class="step-at">{refused ? <>refused: {rejectReason}</> : done ? <Time at={s.at} /> : 'pending'}</span>
            {done ? <span class="step-source">{s.source === 'device' ? 'claimed by the device' : 'seen by the gateway'}</span> : null}
          </li>
        );
      })}
    </ol>
  );
}

/** Three steps from a clip list row: recorded (claimed), received, verified or refused. */
export function CompactTimeline({ clip }: { clip: ClipJson }) {
  const verified = clip.state === 'VERIFIED' ? 'done' : clip.state === 'REJECTED' ? 'refused' : 'pending';
  return (
    <ol class="timeline-compact" aria-label="Custody">
      <li class={clip.startedAt ? 'done' : 'pending'} title="recorded (claimed by the device)">
        recorded
      </li>
      <li class="done" title="manifest received by the gateway">
        received
      </li>
      <li class={verified} title={clip.rejectReason ?? undefined}>
        {verified === 'refused' ? 'refused' : 'verified'}
        {verified === 'pending' ? ' (pending)' : ''}
      </li>
    </ol>
  );
}
