import { memo, useState } from 'react';
import { count } from '../../explain/panels';

/** The vCPU id typed in `text` (digits, spaces around allowed), or NaN. */
const typedId = (text: string) => (/^\d+$/.test(text.trim()) ? Number(text.trim()) : NaN);

/** Up to this many vCPUs the sender is picked from a list; beyond it, typed (a list of 4096 is no help, and heavy). */
export const SENDER_LIST_MAX = 256;

/**
 * The ICR's sender vCPU: a drop-down list, or for big VMs a number field that takes only an
 * existing vCPU id (anything else is named under it and changes nothing). Re-renders only when
 * the vCPUs, the sender or `disabled` change.
 */
export const SenderPicker = memo(function SenderPicker({ index, value, disabled, onChange }: {
  /** vCPU id -> position, in creation order (the store's vcpuIndex). */
  index: ReadonlyMap<number, number>;
  value: number | null;
  disabled: boolean;
  onChange(id: number): void;
}) {
  const [draft, setDraft] = useState<string | null>(null);
  if (index.size <= SENDER_LIST_MAX) {
    return (
      <select className="icr-in" aria-label="sender vCPU" value={value ?? ''} disabled={disabled} onChange={(e) => onChange(Number(e.target.value))}>
        {[...index.keys()].map((id) => (
          <option key={id} value={id}>
            vCPU {id}
          </option>
        ))}
      </select>
    );
  }
  const text = draft ?? String(value ?? '');
  const bad = draft !== null && !index.has(typedId(text));
  return (
    <>
      <input
        className="icr-in mono"
        aria-label="sender vCPU"
        aria-invalid={bad || undefined}
        inputMode="numeric"
        size={5}
        value={text}
        disabled={disabled}
        onChange={(e) => {
          const n = typedId(e.target.value);
          if (index.has(n)) {
            setDraft(null);
            onChange(n);
          } else setDraft(e.target.value);
        }}
        onBlur={() => setDraft(null)}
      />
      {bad && (
        <span className="error small" role="alert">
          {text.trim() === '' ? 'type a vCPU id' : `no vCPU "${text.trim()}" (this VM has ${count(index.size)} vCPUs)`}
        </span>
      )}
    </>
  );
});
