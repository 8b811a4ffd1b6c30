/**
 * A policy decision (proto/decision.ts) as an officer or auditor reads it: the verdict, each reason
 * code with its text and the clause it rests on (proto/policy-vocab.ts REASONS), and the basis.
 */
import type { DecisionJson } from '../../../api/types.js';
import { REASONS, categoryClause, type ReasonCode } from '../../../../proto/policy-vocab.js';
import { VerdictBadge } from './Badges.js';
import { Time } from './Time.js';

function reason(code: string): { text: string; clause: string } | null {
  return code in REASONS ? REASONS[code as ReasonCode] : null;
}

export function DecisionView({ decision, compact = false }: { decision: DecisionJson; compact?: boolean }) {
  const basis = decision.basis;
  return (
    <div class={compact ? 'decision decision-compact' : 'decision'}>
      <p class="decision-verdict">
        <VerdictBadge verdict={decision.decision} />
      </p>
      {decision.reasons.length > 0 ? (
        <ul class="reasons">
          {decision.reasons.map((code, i) => {
            const r = reason(code);
            // Each code's own clause (the decision's clause list is a set, not index for index).
            const clause = r?.clause ?? '';
            return (
              <li key={`${code}-${i}`}>
                <code class="reason-code">{code}</code> <span class="reason-text">{r ? r.text : 'a reason code this dashboard does not know'}</span>
                {clause ? (
                  <>
                    {' '}
                    <span class="clause">({clause})</span>
                  </>
                ) : null}
              </li>
            );
          })}
        </ul>
      ) : (
        <p class="muted">No reason codes.</p>
      )}
      {decision.coveredUntil ? (
        <p class="decision-cover">
          <span class="label">Covered until: </span>
          <Time at={decision.coveredUntil} />{' '}
          <span class="muted">
            {decision.decision === 'AUTHORIZED'
              ? '(the basis ends then; a recording still running is alerted at that instant)'
              : '(the basis covered the recording up to here; the rest had none)'}
          </span>
        </p>
      ) : null}
      {compact ? null : (
        <p class="decision-clauses muted">
          <span class="label">Clauses: </span>
          {decision.clauses.join(', ')}
        </p>
      )}
      <p class="decision-basis">
        <span class="label">Basis: </span>
        {basis ? (
          <>
            {basis.kind} <code>{basis.id}</code>
            {basis.category ? (
              <>
                {' '}
                · {basis.category} <span class="clause">({categoryClause(basis.category)})</span>
              </>
            ) : null}
          </>
        ) : (
          <span class="muted">none</span>
        )}
      </p>
      {compact ? null : (
        <p class="decision-meta muted">
          Policy version {decision.policyVersion} · decided <Time at={decision.decidedAt} />
          {decision.activation ? (
            <>
              {' '}
              · trigger <code>{decision.activation.trigger}</code>
              {decision.activation.activity ? (
                <>
                  , activity <code>{decision.activation.activity}</code>
                </>
              ) : null}
            </>
          ) : null}
        </p>
      )}
    </div>
  );
}
