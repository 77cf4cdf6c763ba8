import { useMemo } from 'react';
import { moreWarnings, NO_SURPRISES, selectHint, warningLevelWord } from '../../explain/panels';
import { labStore, useLab } from '../../store/labStore';
import { useConflictReport } from '../conflicts/useConflictReport';
import { KvmSource } from '../KvmSource';
import { useTip } from '../Panel';
import { computeWarnings, type Warning } from './warnings';
import './warnings.css';

const ICON = { warn: '⚠', info: 'ℹ' } as const;

/** One warning; `withSource` adds the link to the KVM function that decided (the drop-down has room for it). */
function Item({ w, withSource = false }: { w: Warning; withSource?: boolean }) {
  const first = w.vcpus[0];
  // The whole story on hover, focus or tap (not a title: keyboard and touch reach it too).
  const tip = useTip<HTMLButtonElement>(first === undefined ? w.detail : `${w.detail}\n\n${selectHint(first)}`);
  return (
    <li className={`wn-item wn-${w.level}`} data-testid={`warning-${w.key}`}>
      <button
        className="wn-btn"
        {...tip.trigger}
        aria-label={`${warningLevelWord[w.level]}: ${w.text}`}
        onClick={() => first !== undefined && labStore.getState().select(first)}
        onMouseEnter={() => {
          tip.trigger.onMouseEnter();
          if (first !== undefined) labStore.getState().setHover({ vcpu: first });
        }}
        onFocus={() => {
          tip.trigger.onFocus();
          if (first !== undefined) labStore.getState().setHover({ vcpu: first });
        }}
        onMouseLeave={() => {
          tip.trigger.onMouseLeave();
          labStore.getState().setHover(null);
        }}
        onBlur={() => {
          tip.trigger.onBlur();
          labStore.getState().setHover(null);
        }}
      >
        <span className="wn-icon" aria-hidden="true">
          {ICON[w.level]}
        </span>
        <span className="wn-text">{w.text}</span>
      </button>
      {withSource && w.kvm && <KvmSource fn={w.kvm} />}
      {tip.tip}
    </li>
  );
}

/**
 * Where KVM surprises, for the VM bar: a compact list (the first `max` inline, the rest behind
 * "+N more"), computed from the snapshot and the last step's result.
 */
export function Warnings({ max = 2 }: { max?: number }) {
  const snapshot = useLab((s) => s.snapshot);
  const last = useLab((s) => (s.cursor > 0 ? (s.log[s.cursor - 1]?.result ?? null) : null));
  const report = useConflictReport();
  const warnings = useMemo(() => computeWarnings(snapshot, last, report), [snapshot, last, report]);
  const shown = warnings.slice(0, max);
  const rest = warnings.slice(max);
  return (
    <div className="wn" role="status" aria-label="KVM surprises" data-testid="warnings">
      {warnings.length === 0 ? (
        <span className="wn-none">
          <span aria-hidden="true">✓ </span>
          {NO_SURPRISES}
        </span>
      ) : (
        <ul className="wn-list">
          {shown.map((w) => (
            <Item key={w.key} w={w} />
          ))}
        </ul>
      )}
      {rest.length > 0 && (
        <details className="wn-more">
          <summary aria-label={moreWarnings(rest.length)}>+{rest.length} more</summary>
          <ul className="wn-pop">
            {rest.map((w) => (
              <Item key={w.key} w={w} withSource />
            ))}
          </ul>
        </details>
      )}
    </div>
  );
}
