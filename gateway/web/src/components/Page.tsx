import type { ComponentChildren } from 'preact';
import { useEffect } from 'preact/hooks';

interface PageProps {
  title: string;
  /** Shown beside the title: a page's main buttons. */
  actions?: ComponentChildren;
  children: ComponentChildren;
}

/** A page: its heading (focused after navigation, see app.tsx) and the document title. */
export function Page({ title, actions, children }: PageProps) {
  useEffect(() => {
    document.title = `${title} · BWC Companion`;
  }, [title]);
  return (
    <>
      <div class="page-head">
        <h1 tabIndex={-1}>{title}</h1>
        {actions ? <div class="page-actions">{actions}</div> : null}
      </div>
      {children}
    </>
  );
}

/** A titled section of a page. */
export function Panel({ title, id, children, actions }: { title: string; id?: string; children: ComponentChildren; actions?: ComponentChildren }) {
  return (
    <section class="panel" aria-labelledby={id ? `${id}-h` : undefined}>
      <div class="panel-head">
        <h2 id={id ? `${id}-h` : undefined}>{title}</h2>
        {actions ? <div class="panel-actions">{actions}</div> : null}
      </div>
      {children}
    </section>
  );
}

/** "Loading…" for the first load of a resource (later reloads keep the old data on screen). */
export function Loading({ what }: { what: string }) {
  return (
    <p class="muted" role="status">
      Loading {what}…
    </p>
  );
}
