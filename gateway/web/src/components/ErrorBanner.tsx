import type { ApiError } from '../api.js';

interface ErrorBannerProps {
  error: ApiError | null | undefined;
  /** What was being done: "Could not acknowledge the alert". */
  context?: string;
}

/**
 * A failure, next to the action that caused it: the gateway's message and code, and the request
 * id to quote when reporting it (the gateway's log has the details under it).
 */
export function ErrorBanner({ error, context }: ErrorBannerProps) {
  if (!error) return null;
  return (
    <div role="alert" class="alert alert-error">
      {context ? <strong>{context}: </strong> : null}
      <span class="alert-message">{error.message}</span>{' '}
      <code class="alert-code">{error.code}</code>
      {error.requestId ? <span class="alert-request"> (request id <code>{error.requestId}</code>)</span> : null}
    </div>
  );
}

/** A problem found in the page before anything was sent (a missing field). */
export function FormProblem({ message }: { message: string | null }) {
  if (!message) return null;
  return <div role="alert" class="alert alert-error">{message}</div>;
}
