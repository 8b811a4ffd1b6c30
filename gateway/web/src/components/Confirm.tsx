/**
 * An action that asks first, in place: the button opens a short explanation, an optional reason
 * field and a confirm button. A refusal from the gateway stays on screen beside it.
 */
import type { ComponentChildren } from 'preact';
import { useEffect, useId, useRef, useState } from 'preact/hooks';
import { useAction } from '../hooks.js';
import { ErrorBanner, FormProblem } from './ErrorBanner.js';
import { FieldLabel } from './Fields.js';

interface ConfirmActionProps {
  label: string;
  confirmLabel: string;
  prompt: ComponentChildren;
  /** A reason field; `required` refuses an empty one before anything is sent. */
  reason?: { label: string; required: boolean };
  danger?: boolean;
  onConfirm: (reason: string) => Promise<unknown>;
}

export function ConfirmAction({ label, confirmLabel, prompt, reason, danger = false, onConfirm }: ConfirmActionProps) {
  const [open, setOpen] = useState(false);
  const [text, setText] = useState('');
  const [problem, setProblem] = useState<string | null>(null);
  const action = useAction(onConfirm);
  const id = useId();
  const reasonField = useRef<HTMLTextAreaElement>(null);
  const confirmButton = useRef<HTMLButtonElement>(null);
  const opener = useRef<HTMLButtonElement>(null);

  // Focus moves into the step when it opens, and back to the button when it closes.
  const wasOpen = useRef(false);
  useEffect(() => {
    if (open) (reasonField.current ?? confirmButton.current)?.focus();
    else if (wasOpen.current) opener.current?.focus();
    wasOpen.current = open;
  }, [open]);

  const close = () => {
    setOpen(false);
    setText('');
    setProblem(null);
    action.setError(null);
  };
  const confirm = async () => {
    if (reason?.required && text.trim() === '') {
      setProblem(`${reason.label} is required.`);
      return;
    }
    setProblem(null);
    if (await action.run(text.trim())) {
      setOpen(false);
      setText('');
    }
  };

  if (!open) {
    return (
      <button type="button" ref={opener} class={danger ? 'btn btn-danger' : 'btn'} onClick={() => setOpen(true)}>
        {label}
      </button>
    );
  }
  return (
    <fieldset class="confirm" aria-label={label}>
      <div class="confirm-prompt">{prompt}</div>
      {reason ? (
        <div class="field">
          <FieldLabel id={id} label={reason.label} needed={reason.required} />
          <textarea id={id} ref={reasonField} rows={2} value={text} onInput={(e) => setText(e.currentTarget.value)} aria-required={reason.required} />
        </div>
      ) : null}
      <FormProblem message={problem} />
      <ErrorBanner error={action.error} />
      <div class="actions">
        <button
          type="button"
          ref={confirmButton}
          class={danger ? 'btn btn-danger' : 'btn btn-primary'}
          aria-disabled={action.busy}
          onClick={() => void confirm()}
        >
          {action.busy ? 'Working…' : confirmLabel}
        </button>
        <button type="button" class="btn btn-quiet" onClick={close}>
          Cancel
        </button>
      </div>
    </fieldset>
  );
}
