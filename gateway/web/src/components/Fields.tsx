/** Labelled form controls (every control has a visible `<label>`), and a read-only field list. */
import type { ComponentChildren } from 'preact';
import { useId } from 'preact/hooks';

/**
 * A control's label. The "required" mark stays outside the `<label>`, so the label (and the
 * control's accessible name) is exactly the field's name; `aria-required` says it is needed.
 */
export function FieldLabel({ id, label, needed, hidden }: { id: string; label: string; needed?: boolean | undefined; hidden?: boolean | undefined }) {
  if (hidden)
    return (
      <label for={id} class="vh">
        {label}
      </label>
    );
  return (
    <span class="label-row">
      <label for={id}>{label}</label>
      {needed ? (
        <span class="req" aria-hidden="true">
          *
        </span>
      ) : null}
    </span>
  );
}

interface TextFieldProps {
  label: string;
  value: string;
  onInput: (value: string) => void;
  type?: 'text' | 'search' | 'date' | 'datetime-local' | 'number';
  hint?: string;
  /** Marked as needed; checked by the gateway (or the form), not by the browser. */
  needed?: boolean;
  placeholder?: string;
  autocomplete?: string;
  /** Label hidden visually (it is still read out); for a control inside a table row. */
  hiddenLabel?: boolean;
  inputMode?: 'numeric' | 'text';
}

export function TextField(p: TextFieldProps) {
  const id = useId();
  // Preact 11 types the attributes of each input type separately, and a union of types matches
  // none of them: the cast picks one (every type here takes the same attributes).
  const type = (p.type ?? 'text') as 'text';
  return (
    <div class="field">
      <FieldLabel id={id} label={p.label} needed={p.needed} hidden={p.hiddenLabel} />
      <input
        id={id}
        type={type}
        value={p.value}
        onInput={(e) => p.onInput(e.currentTarget.value)}
        placeholder={p.placeholder}
        autocomplete={p.autocomplete ?? 'off'}
        aria-required={p.needed ? true : undefined}
        aria-describedby={p.hint ? `${id}-hint` : undefined}
        inputMode={p.inputMode}
      />
      {p.hint ? (
        <small id={`${id}-hint`} class="hint">
          {p.hint}
        </small>
      ) : null}
    </div>
  );
}

interface TextAreaProps {
  label: string;
  value: string;
  onInput: (value: string) => void;
  hint?: string;
  needed?: boolean;
  rows?: number;
}

export function TextArea(p: TextAreaProps) {
  const id = useId();
  return (
    <div class="field field-wide">
      <FieldLabel id={id} label={p.label} needed={p.needed} />
      <textarea
        id={id}
        rows={p.rows ?? 2}
        value={p.value}
        onInput={(e) => p.onInput(e.currentTarget.value)}
        aria-required={p.needed ? true : undefined}
        aria-describedby={p.hint ? `${id}-hint` : undefined}
      />
      {p.hint ? (
        <small id={`${id}-hint`} class="hint">
          {p.hint}
        </small>
      ) : null}
    </div>
  );
}

interface SelectFieldProps {
  label: string;
  value: string;
  onChange: (value: string) => void;
  options: readonly (string | { value: string; label: string })[];
}

export function SelectField(p: SelectFieldProps) {
  const id = useId();
  return (
    <div class="field">
      <label for={id}>{p.label}</label>
      <select id={id} value={p.value} onChange={(e) => p.onChange(e.currentTarget.value)}>
        {p.options.map((o) => {
          const { value, label } = typeof o === 'string' ? { value: o, label: o } : o;
          return (
            <option key={value} value={value}>
              {label}
            </option>
          );
        })}
      </select>
    </div>
  );
}

interface CheckboxProps {
  label: ComponentChildren;
  checked: boolean;
  onChange: (checked: boolean) => void;
}

export function Checkbox({ label, checked, onChange }: CheckboxProps) {
  const id = useId();
  return (
    <div class="check">
      <input id={id} type="checkbox" checked={checked} onChange={(e) => onChange(e.currentTarget.checked)} />
      <label for={id}>{label}</label>
    </div>
  );
}

/** Read-only facts as a description list: [term, value] pairs; null values are left out. */
export function FactList({ items }: { items: readonly (readonly [string, ComponentChildren] | null)[] }) {
  return (
    <dl class="facts">
      {items
        .filter((i): i is readonly [string, ComponentChildren] => i !== null)
        .map(([term, value]) => (
          <div key={term} class="fact">
            <dt>{term}</dt>
            <dd>{value}</dd>
          </div>
        ))}
    </dl>
  );
}
