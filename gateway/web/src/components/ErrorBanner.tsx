import type { ApiError } from '../api.js';

interface ErrorBannerProps {
  error: ApiError | null | undefined;
  /** What was being done: "Could not acknowledge the alert". */
  context?: string;
}

/**
 * A failure, next to the action that caused it: the gateway's message and code, and the request
 * id to quote when reporting it (the gateway's log has the details under it). When the gateway
 * names several problems, all of them are listed.
 */
export function ErrorBanner({ error, context }: ErrorBannerProps) {
  if (!error) return null;
  const several = error.problems.length > 1;
  return (
    <div role="alert" class="alert alert-error">
      {context ? <strong>{context}: </strong> : null}
      {several ? <span class="alert-message">{error.problems.length} problems</span> : <span class="alert-message">{error.message}</span>}{' '}
      <code class="alert-code">{error.code}</code>
      {error.requestId ? (
        <span class="alert-request">
          {' '}
          (request id <code>{error.requestId}</code>)
        </span>
      ) : null}
      {several ? (
        <ul class="problems">
          {error.problems.map((p, i) => (
            <li key={i}>{p}</li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}

/** The problems found in the page before anything was sent (missing fields): all of them at once. */
export function FormProblem({ message }: { message: string | readonly string[] | null }) {
  const list = message === null ? [] : typeof message === 'string' ? [message] : message;
  if (list.length === 0) return null;
  if (list.length === 1)
    return (
      <div role="alert" class="alert alert-error">
        {list[0]}
      </div>
    );
  return (
    <div role="alert" class="alert alert-error">
      <strong>Fix these {list.length} problems before sending:</strong>
      <ul class="problems">
        {list.map((p, i) => (
          <li key={i}>{p}</li>
        ))}
      </ul>
    </div>
  );
}
