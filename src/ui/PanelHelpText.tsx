/**
 * The text of a panel's "?" help (src/explain/help.ts), loaded the first time a "?" is opened
 * (Panel.tsx): a chunk of its own, since most visits never open one.
 */
import { PANEL_HELP } from '../explain/help';
import { KvmSource } from './KvmSource';

export function PanelHelpText({ title, onClose }: { title: string; onClose: () => void }) {
  const help = PANEL_HELP[title];
  if (!help) return null;
  return (
    <>
      <p className="panel-help-summary">{help.summary}</p>
      {help.body.map((p, i) => <p key={i}>{p}</p>)}
      {help.legend && (
        <ul className="panel-help-legend">
          {help.legend.map((l, i) => <li key={i}>{l}</li>)}
        </ul>
      )}
      <p className="panel-help-read">
        Read in KVM: {help.read.map((fn) => <KvmSource key={fn} fn={fn} />)}
      </p>
      <button className="panel-help-close" onClick={onClose}>Close</button>
    </>
  );
}
