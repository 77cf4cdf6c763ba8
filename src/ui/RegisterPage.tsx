import { memo, useRef, useState } from 'react';
import { hexDump, imageBytes, parseLapicImage, setLapicStep } from '../scenario/lapicImage';
import { APIC_TMCCT, SLOT_NAMES, SLOT_OFFSETS, slotKey } from '../core/apicdef';
import { slotReadable, slotWritable } from '../core/lapic';
import { labStore, useLab } from '../store/labStore';
import { ApicBaseEditor } from './ApicBaseEditor';
import { decodeSlot } from './decode';
import { lazyPart } from './lazyPart';

/** The register names' tooltips, loaded when the first one opens (FieldDoc.tsx). */
const FieldDoc = lazyPart('the register notes', () => import('./FieldDoc').then((m) => m.FieldDoc));
import { Panel, Tip, WithTip } from './Panel';
import { TimerLane } from './timer/TimerLane';
import { VectorGrid } from './VectorGrid';

/** ISR, TMR and IRR words: which 32 vectors a word holds. */
/** The access marks of the register table in words, for the view shown: the rules in full, not in tooltips. */
function AccessLegend({ x2 }: { x2: boolean }) {
  const how = x2 ? 'RDMSR/WRMSR' : 'MMIO read/write';
  return (
    <p className="muted small" data-testid="reg-access-legend" style={{ margin: '4px 0 0' }}>
      acc ({how}): RW readable and writable
      {x2 ? '; RW0 writable with 0 only (other values #GP)' : ''}; RO read-only{x2 ? ' (a write #GPs)' : ' (writes ignored)'}; WO write-only
      {x2 ? ' (a read #GPs)' : ' (reads return nothing)'}; {x2 ? '#GP not an x2APIC register: RDMSR and WRMSR #GP' : '— not readable or writable through MMIO'}.
    </p>
  );
}

const hex8 = (v: number) => '0x' + (v >>> 0).toString(16).padStart(8, '0');

/** What a guest access to the slot does in this view, as a mark (AccessLegend says them in words). */
function accessOf(off: number, x2: boolean, nrLvt: number): { mark: string } {
  const r = slotReadable(off, x2, nrLvt);
  const w = slotWritable(off, x2, nrLvt);
  if (r && w) return { mark: off === 0x280 && x2 ? 'RW0' : 'RW' };
  if (r) return { mark: 'RO' };
  if (w) return { mark: 'WO' };
  return { mark: x2 ? '#GP' : '—' };
}

/**
 * One slot of the page. It does not take the vCPU (the table's label names it, and a write goes to
 * the selected one), so that selecting another vCPU re-renders only the rows whose value differs.
 */
const SlotRow = memo(function SlotRow({ off, value, x2view, mode, nrLvt, changed }: { off: number; value: number; x2view: boolean; mode: string; nrLvt: number; changed: boolean }) {
  const [edit, setEdit] = useState<string | null>(null);
  const access = accessOf(off, x2view, nrLvt);
  const name = SLOT_NAMES.get(off)!;
  const msr = 0x800 + (off >> 4);
  const commit = (text: string) => {
    const vcpu = labStore.getState().selectedVcpu;
    const step = mode === 'x2apic' ? { op: 'wrmsr', vcpu, msr: '0x' + msr.toString(16), value: text } : { op: 'mmio_write', vcpu, offset: slotKey(off), value: text };
    if (labStore.getState().apply(step)) setEdit(null);
  };
  return (
    <tr data-testid={`reg-${slotKey(off)}`} className={`${changed ? 'changed' : ''} ${access.mark === '#GP' || access.mark === '—' ? 'absent' : ''}`}>
      <td className="mono">{x2view ? '0x' + msr.toString(16) : slotKey(off)}</td>
      <td className="mono">
        <Tip tip={<FieldDoc off={off} name={name} />}>{name}</Tip>
      </td>
      {/* What each mark means is spelled out under the table (AccessLegend). */}
      <td className="mono acc">{access.mark}</td>
      <td className="mono value">
        {edit === null ? (
          <WithTip tip={`write ${name} as the guest (${mode === 'x2apic' ? 'WRMSR' : 'MMIO'})`}>
            <button className="linkish mono" aria-label={`Edit ${name}`} onClick={() => setEdit(hex8(value))}>
              {hex8(value)}
            </button>
          </WithTip>
        ) : (
          <input
            className="mono hexin"
            autoFocus
            onFocus={(e) => e.currentTarget.select()}
            aria-label={`New value for ${name}`}
            value={edit}
            onChange={(e) => setEdit(e.target.value)}
            onBlur={() => setEdit(null)}
            onKeyDown={(e) => {
              if (e.key === 'Enter') commit(e.currentTarget.value.trim());
              if (e.key === 'Escape') setEdit(null);
            }}
          />
        )}
      </td>
      <td className="fields">{decodeSlot(off, value, x2view)}</td>
    </tr>
  );
});

function saveImage(vcpu: number, dump: boolean) {
  const words = labStore.getState().lapicImage(vcpu);
  if (!words) return;
  const blob = dump ? new Blob([hexDump(words)], { type: 'text/plain' }) : new Blob([imageBytes(words) as BlobPart], { type: 'application/octet-stream' });
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = `lapic-vcpu${vcpu}.${dump ? 'txt' : 'bin'}`;
  a.click();
  URL.revokeObjectURL(url);
}

/** The selected vCPU's LAPIC: APICBASE, the 64-slot page in its xAPIC or x2APIC view, IRR/ISR/TMR. */
export function RegisterPage() {
  const id = useLab((s) => s.selectedVcpu);
  const regs = useLab((s) => (id === null ? undefined : s.regs.get(id)));
  const vcpu = useLab((s) => (id === null ? undefined : s.snapshot.vcpus[s.vcpuIndex.get(id) ?? -1]));
  const changed = useLab((s) => (id === null ? undefined : s.changes.slots.get(id)));
  const [view, setView] = useState<'auto' | 'xapic' | 'x2apic'>('auto');
  const imageFile = useRef<HTMLInputElement>(null);
  if (id === null || !regs || !vcpu) return <Panel title="Register page" className="area-regs">No vCPU selected.</Panel>;
  const x2view = view === 'auto' ? vcpu.mode === 'x2apic' : view === 'x2apic';
  const nrLvt = ((regs[0x30 >> 2] >>> 16) & 0xff) + 1;
  const act = (step: object) => labStore.getState().apply(step);
  return (
    <Panel
      title="Register page"
      className="regs area-regs"
      actions={
        <div className="actions">
          <span className="mono">vCPU {id}</span>
          <div role="radiogroup" aria-label="Register view" className="seg">
            {(['xapic', 'x2apic'] as const).map((m) => (
              <button key={m} role="radio" aria-checked={x2view === (m === 'x2apic')} onClick={() => setView(m)}>
                {m === 'xapic' ? 'xAPIC (MMIO)' : 'x2APIC (MSR)'}
              </button>
            ))}
          </div>
          <WithTip tip="Download this vCPU's KVM_GET_LAPIC image (1024 bytes)">
            <button className="mini" aria-label="Image ↓" onClick={() => saveImage(id, false)}>
              ↓bin
            </button>
          </WithTip>
          <WithTip tip="Download the image as an xxd hex dump">
            <button className="mini" aria-label="Dump ↓" onClick={() => saveImage(id, true)}>
              ↓hex
            </button>
          </WithTip>
          <WithTip tip="Load a KVM_GET_LAPIC image (binary or hex dump) with KVM_SET_LAPIC">
            <button className="mini" aria-label="Image ↑" onClick={() => imageFile.current?.click()}>
              ↑load
            </button>
          </WithTip>
          <input
            ref={imageFile}
            type="file"
            hidden
            aria-label="Load a KVM_GET_LAPIC image"
            onChange={async (e) => {
              const f = e.target.files?.[0];
              e.target.value = '';
              if (!f) return;
              if (f.size > 64 * 1024) return labStore.setState({ error: `image: ${f.name} is ${f.size} bytes; a LAPIC image is 1024 bytes, or a hex dump of them` });
              const r = parseLapicImage(new Uint8Array(await f.arrayBuffer()));
              if (r.ok) act(setLapicStep(id, r.words));
              else labStore.setState({ error: r.message });
            }}
          />
          {!vcpu.swEnabled && vcpu.mode !== 'disabled' && (
            <WithTip tip="Set SPIV bit 8 (APIC software enable) as the guest">
              <button className="mini" onClick={() => act(vcpu.mode === 'x2apic' ? { op: 'wrmsr', vcpu: id, msr: '0x80f', value: '0x1ff' } : { op: 'mmio_write', vcpu: id, offset: '0x0f0', value: '0x1ff' })}>
                SW-enable
              </button>
            </WithTip>
          )}
        </div>
      }
    >
      <ApicBaseEditor vcpu={id} value={vcpu.apicBase} />
      <TimerLane vcpu={vcpu} nrLvt={nrLvt} />
      <div className="grids">
        <VectorGrid name="IRR" vectors={vcpu.irr} color="var(--x2apic)" />
        <VectorGrid name="ISR" vectors={vcpu.isr} color="var(--xapic)" />
        <VectorGrid name="TMR" vectors={vcpu.tmr} color="var(--muted)" />
      </div>
      <table className="grid regtable" aria-label={`Register page of vCPU ${id}`}>
        <thead>
          <tr>
            <th scope="col">{x2view ? 'MSR' : 'offset'}</th>
            <th scope="col">register</th>
            <th scope="col">
              <Tip tip="what a guest access does in this view (the marks are listed under the table)">acc</Tip>
            </th>
            <th scope="col">value</th>
            <th scope="col">fields</th>
          </tr>
        </thead>
        <tbody>
          {SLOT_OFFSETS.filter((off) => SLOT_NAMES.has(off)).map((off) => (
            // TMCCT as a read gives it (KVM computes it on each read; the page itself holds 0).
            <SlotRow key={off} off={off} value={off === APIC_TMCCT ? vcpu.timer.tmcct : regs[off >> 2]} x2view={x2view} mode={vcpu.mode} nrLvt={nrLvt} changed={changed?.has(off) ?? false} />
          ))}
        </tbody>
      </table>
      <AccessLegend x2={x2view} />
    </Panel>
  );
}
