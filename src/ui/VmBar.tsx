/**
 * The VM bar: vendor and acceleration, the KVM release, the X2APIC_API flags, vCPUs, tours,
 * import, share, compare and export; whether the map exists and APICv / AVIC is active, and the
 * warnings where KVM surprises.
 */
import { useRef, useState } from 'react';
import { MODELLED_RELEASES } from '../core/profile';
import { explain } from '../explain/explain';
import { engineName, timerWords, vmBarHelp } from '../explain/panels';
import type { TraceImportResult } from '../import/traceCmd';
import type { VmInput } from '../scenario/schema';
import { labStore, useLab } from '../store/labStore';
import { TOUR_MENU } from '../tours/order';
import { CompareDialog } from './compare/lazy';
import { ImportReview, loadTraceImporter } from './import/lazy';
import { startTour } from './tour/lazy';
import { Tip, WithTip } from './Panel';
import { PresetMenu, SetAsideMenu } from './VmMenus';
import { useUndoKeys } from './useUndoKeys';
import { Warnings } from './warnings/Warnings';
import { Welcome } from './Welcome';
import './vmMenus.css';

/** Larger files are refused before reading (a trace of 200,000 lines is about 20 MB). */
const MAX_IMPORT_BYTES = 32 * 1024 * 1024;

/** A trace to review before loading: its text and its import with the importer's own thread mapping. */
type TraceToReview = { text: string; fileName: string; first: TraceImportResult };

/**
 * Load an imported file: an apic-scenario/1 document at once; trace-cmd / ftrace text goes to the
 * review of its thread → vCPU mapping (returned), which loads it.
 */
async function importFile(text: string, fileName: string): Promise<TraceToReview | null> {
  const store = labStore.getState();
  if (text.trimStart().startsWith('{')) {
    if (store.importScenario(text)) store.setNotice(null);
    return null;
  }
  const importer = await loadTraceImporter(); // on demand: the importer is big (null: not loaded, said so)
  if (!importer) return null;
  const first = importer.importTrace(text);
  const { report } = first;
  if (report.steps.length === 0 && report.unresolvedThreads.length === 0) {
    labStore.setState({ error: `import: no APIC events found (${report.totalLines} lines: not an apic-scenario/1 file, nor a trace-cmd report / ftrace trace with kvm_msr, kvm_apic or kvm_msi_set_irq events)` });
    return null;
  }
  return { text, fileName, first };
}

function download(name: string, text: string) {
  const url = URL.createObjectURL(new Blob([text], { type: 'application/json' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.click();
  URL.revokeObjectURL(url);
}

/** The VM: vendor and acceleration, KVM release, X2APIC_API flags, vCPUs, import and export. */
export function VmBar() {
  const vmInput = useLab((s) => s.vmInput);
  const caps = useLab((s) => s.snapshot.caps);
  const count = useLab((s) => s.snapshot.vcpus.length);
  const apicvActive = useLab((s) => s.snapshot.apicvActive);
  const clockNs = useLab((s) => s.snapshot.clockNs);
  const map = useLab((s) => s.snapshot.map);
  const error = useLab((s) => s.error);
  const notice = useLab((s) => s.notice);
  const focused = useLab((s) => s.tour?.focus[s.cursor - 1]?.includes('VM') ?? false);
  const [newId, setNewId] = useState('');
  const [vcpus, setVcpus] = useState<string | null>(null);
  const file = useRef<HTMLInputElement>(null);
  const [comparing, setComparing] = useState(false);
  const [review, setReview] = useState<TraceToReview | null>(null);
  /** What Share did: copied the link, or could not (the link is then shown to copy by hand). */
  const [shared, setShared] = useState<{ copied: true } | { copied: false; url: string; why: string } | null>(null);
  useUndoKeys();
  const share = async () => {
    const url = `${location.origin}${location.pathname}${location.search}#${store.shareLink()}`;
    history.replaceState(null, '', url);
    try {
      if (!navigator.clipboard?.writeText) throw new Error('this page has no clipboard access');
      await navigator.clipboard.writeText(url);
      setShared({ copied: true });
      setTimeout(() => setShared((s) => (s?.copied ? null : s)), 2000);
    } catch (e) {
      setShared({ copied: false, url, why: e instanceof Error ? e.message : String(e) });
    }
  };
  const store = labStore.getState();
  const vendor = vmInput.vendor ?? 'intel';
  const configure = (patch: Partial<VmInput>) => store.configure({ ...vmInput, ...patch });
  const flag = (bit: number, set: boolean, label: string, title: string) => (
    <WithTip tip={set ? vmBarHelp.flagSet(title) : title}>
      <label>
        <input type="checkbox" checked={set} disabled={set} onChange={() => store.apply({ op: 'enable_cap', cap: 'X2APIC_API', flags: bit })} /> {label}
      </label>
    </WithTip>
  );
  return (
    <section className={`vmbar${focused ? ' focused' : ''}`} aria-labelledby="vm-heading">
      <h1 id="vm-heading">VM</h1>
      <label>
        <select aria-label="Vendor" value={vendor} onChange={(e) => configure({ vendor: e.target.value as 'intel' | 'amd' })}>
          <option value="intel">Intel</option>
          <option value="amd">AMD</option>
        </select>
      </label>
      <WithTip tip={vmBarHelp.apicv(vendor)}>
        <label>
          <input type="checkbox" checked={vmInput.apicv ?? true} onChange={(e) => configure({ apicv: e.target.checked })} /> {engineName(vendor)}
        </label>
      </WithTip>
      {vendor === 'intel' ? (
        <WithTip key="ipiv" tip={vmBarHelp.ipiv}>
          <label>
            <input type="checkbox" checked={vmInput.ipiv ?? false} onChange={(e) => configure({ ipiv: e.target.checked })} /> IPIv
          </label>
        </WithTip>
      ) : (
        <>
          <WithTip key="x2avic" tip={vmBarHelp.x2avic}>
            <label>
              <input type="checkbox" checked={vmInput.x2avic ?? true} onChange={(e) => configure({ x2avic: e.target.checked })} /> x2AVIC
            </label>
          </WithTip>
          <WithTip key="x2avicExt" tip={vmBarHelp.x2avicExt}>
            <label>
              <input type="checkbox" checked={vmInput.x2avicExt ?? false} disabled={!(vmInput.x2avic ?? true)} onChange={(e) => configure({ x2avicExt: e.target.checked })} /> 4k
            </label>
          </WithTip>
        </>
      )}
      <label>
        KVM{' '}
        <select aria-label="KVM release" value={vmInput.kvm ?? 'current'} onChange={(e) => configure({ kvm: e.target.value })}>
          {MODELLED_RELEASES.map((r) => (
            <option key={r} value={r}>
              {r}
            </option>
          ))}
        </select>
      </label>
      {flag(1, caps.x2apicFormat, '32-bit IDs', vmBarHelp.x2apicFormat)}
      {flag(2, caps.broadcastQuirkDisabled, 'no bcast quirk', vmBarHelp.broadcastQuirk)}
      <form
        className="inline"
        onSubmit={(e) => {
          e.preventDefault();
          // Reset always starts over, with the count shown (the session is set aside).
          const n = Number(vcpus ?? count);
          if (Number.isInteger(n) && n >= 1 && n <= 4096) {
            store.reset({ ...vmInput, vcpus: n });
            setVcpus(null);
          }
        }}
      >
        <label>
          vCPUs <input className="num" type="number" min={1} max={4096} aria-label="Number of vCPUs" value={vcpus ?? count} onChange={(e) => setVcpus(e.target.value)} />
        </label>
        <WithTip tip="Start over with this many vCPUs (ids 0..N-1), as KVM creates them; the session is set aside">
          <button type="submit">Reset</button>
        </WithTip>
      </form>
      <PresetMenu vcpus={Number(vcpus ?? count)} onLoaded={() => setVcpus(null)} />
      <form
        className="inline"
        onSubmit={(e) => {
          e.preventDefault();
          if (store.apply({ op: 'create_vcpu', vcpu: newId.trim() })) setNewId('');
        }}
      >
        <input className="num" placeholder="id" aria-label="New vCPU id" value={newId} onChange={(e) => setNewId(e.target.value)} />
        <WithTip tip="KVM_CREATE_VCPU with this id (hotplug; ids above 255 allowed)">
          <button type="submit">Add vCPU</button>
        </WithTip>
      </form>
      <select
        className="tours"
        aria-label="Guided tours"
        value=""
        onChange={(e) => {
          if (e.target.value) startTour(e.target.value);
        }}
      >
        <option value="">Tours…</option>
        {TOUR_MENU.map((t) => (
          <option key={t.id} value={t.id}>
            {t.title}
          </option>
        ))}
      </select>
      <WithTip tip="Import an apic-scenario/1 file, or the text of trace-cmd report / an ftrace trace with KVM's APIC events">
        <button onClick={() => file.current?.click()} aria-label="Import scenario">
          Import
        </button>
      </WithTip>
      <input
        ref={file}
        type="file"
        accept=".json,.txt,.dat,application/json,text/plain"
        aria-label="Import scenario file"
        hidden
        onChange={async (e) => {
          const f = e.target.files?.[0];
          e.target.value = '';
          if (!f) return;
          if (f.size > MAX_IMPORT_BYTES) labStore.setState({ error: `import: ${f.name} is ${f.size} bytes; files up to ${MAX_IMPORT_BYTES} bytes are read` });
          else setReview(await importFile(await f.text(), f.name));
        }}
      />
      {review && <ImportReview {...review} onClose={() => setReview(null)} />}
      <WithTip tip="Put the whole session in the address bar and copy the link">
        <button onClick={share}>{shared?.copied ? 'Link copied' : 'Share'}</button>
      </WithTip>
      <WithTip tip="Replay this scenario under two KVM releases side by side">
        <button onClick={() => setComparing(true)}>Compare</button>
      </WithTip>
      {comparing && <CompareDialog onClose={() => setComparing(false)} />}
      <WithTip tip="Export the log up to the shown step as an apic-scenario/1 file">
        <button onClick={() => download('scenario.json', store.exportScenario())} aria-label="Export scenario">
          Export
        </button>
      </WithTip>
      <SetAsideMenu />
      <span className="status">
        {/* The findings in words on hover / focus / tap; the map panel shows them in full. */}
        <Tip
          testId="map-state"
          className={map.present ? '' : 'warn'}
          tip={vmBarHelp.map(map.present, (map.why ?? []).map((d) => explain(d, 'short', { x2apicFormat: caps.x2apicFormat })))}
        >
          map {map.present ? 'present' : 'absent'}
        </Tip>
        {' · '}
        <span data-testid="apicv-state" className={apicvActive ? '' : 'warn'}>
          {engineName(vendor)} {apicvActive ? 'active' : 'inhibited'}
        </span>
        {' · '}
        {/* The guest clock: VM-wide, moved only by advance steps (the register page's timer lane). */}
        <Tip testId="vm-clock" className="vm-clock" tip={timerWords.clockHelp(clockNs)}>
          {timerWords.clock(clockNs)}
        </Tip>
      </span>
      <Warnings max={2} />
      <Welcome />
      {shared && !shared.copied && (
        <p className="notice share-by-hand" role="status">
          The link could not be copied ({shared.why}): copy it by hand{' '}
          <input
            className="mono"
            readOnly
            aria-label="Link to this session"
            value={shared.url}
            autoFocus
            onFocus={(e) => e.currentTarget.select()}
          />{' '}
          <button className="mini" onClick={() => setShared(null)} aria-label="Dismiss the link">
            ✕
          </button>
        </p>
      )}
      {notice && !error && (
        <p className="notice" role="status">
          {notice}{' '}
          <button className="mini" onClick={() => store.setNotice(null)} aria-label="Dismiss">
            ✕
          </button>
        </p>
      )}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}
