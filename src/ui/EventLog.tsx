import { useLab } from '../store/labStore';
import { Panel } from './Panel';

/** Every step applied so far, with its result and the KVM trace events it caused. */
export function EventLog() {
  const log = useLab((s) => s.log);
  return (
    <Panel title="Event log" className="log area-log">
      {log.length === 0 ? (
        <p className="muted">No steps yet. Actions in the other panels appear here as scenario steps.</p>
      ) : (
        <ol className="log-list">
          {log.map(({ step, result }) => (
            <li key={result.i} className={result.ok ? '' : 'fault'}>
              <span className="mono">
                {result.i}: {step.op}
                {'vcpu' in step ? ` vcpu ${step.vcpu}` : ''}
              </span>{' '}
              <strong>{result.ok ? 'ok' : String(result.fault ?? result.error)}</strong>
              {typeof result.reason === 'string' && <span className="muted"> — {result.reason}</span>}
            </li>
          ))}
        </ol>
      )}
    </Panel>
  );
}
