/**
 * Status words with a colour: the word always carries the meaning (never the colour alone), and
 * each colour pairs with a symbol so it reads in greyscale too. A space follows each badge, so a
 * row's text reads "online 3 min ago" when copied or read as one line.
 */
import type { ClipState, DeviceJson, RequestState, Severity, Verdict } from '../../../api/types.js';

const VERDICT_MARK: Record<Verdict, string> = {
  AUTHORIZED: '✓',
  UNAUTHORIZED: '!',
  PROHIBITED: '⨯',
  PENDING_CLASSIFICATION: '…',
};

export function VerdictBadge({ verdict }: { verdict: Verdict | null | undefined }) {
  if (!verdict) return <span class="muted">no decision</span>;
  return (
    <>
      <span class={`badge verdict-${verdict}`}>
        <span aria-hidden="true">{VERDICT_MARK[verdict]} </span>
        {verdict}
      </span>{' '}
    </>
  );
}

const SEVERITY_MARK: Record<Severity, string> = { critical: '▲', warning: '◆', info: '●' };

export function SeverityBadge({ severity }: { severity: Severity }) {
  return (
    <>
      <span class={`badge severity-${severity}`}>
        <span aria-hidden="true">{SEVERITY_MARK[severity]} </span>
        {severity}
      </span>{' '}
    </>
  );
}

export type DeviceState = 'online' | 'offline' | 'decommissioned';

export function deviceState(d: DeviceJson): DeviceState {
  if (d.status === 'decommissioned') return 'decommissioned';
  return d.online ? 'online' : 'offline';
}

const DEVICE_MARK: Record<DeviceState, string> = { online: '●', offline: '○', decommissioned: '–' };

export function DeviceStateBadge({ device }: { device: DeviceJson }) {
  const s = deviceState(device);
  return (
    <>
      <span class={`badge device-${s}`}>
        <span aria-hidden="true">{DEVICE_MARK[s]} </span>
        {s}
      </span>{' '}
    </>
  );
}

export function ClipStateBadge({ state }: { state: ClipState }) {
  return (
    <>
      <span class={`badge clip-${state}`}>{state}</span>{' '}
    </>
  );
}

export function RequestStateBadge({ state }: { state: RequestState }) {
  return (
    <>
      <span class={`badge request-${state}`}>{state}</span>{' '}
    </>
  );
}
