import { useCallback, useState } from 'react';
import { explain } from '../../explain/explain';
import { field, resultFields } from '../../scenario/result';
import { labStore, useLab, type LogEntry } from '../../store/labStore';
import { KvmSource } from '../KvmSource';
import { Expandable, Panel, Tip, WithTip } from '../Panel';
import { failureName, refusalWords } from '../stepText';
import {
  checksReservedBits, decodeLow, decodeX2apic, DEFAULT_FIELDS, DELIVERY_MODES, destHint, encodeLow, encodeMsi, encodeX2apic,
  encodeXapic, hex, hexPad, ipiSteps, msiStep, parseHex, pvIpiStep, reservedBits, reservedRanges, SHORTHANDS, viewResult, type IcrFields,
} from './icrCodec';
import { SenderPicker } from './SenderPicker';
import './icr.css';

type DraftKey = 'vector' | 'dest' | 'raw' | 'icr2' | 'icr';
const MODE_LABEL: Record<string, string> = { disabled: 'disabled', xapic: 'xAPIC', x2apic: 'x2APIC' };
/** How many delivered targets the result line names before "+N more" (a broadcast to 4096 vCPUs). */
const MAX_TARGETS = 24;
/** How many dropped targets the result explains one by one. */
const MAX_DROPS = 3;
/** The dropped targets' list: unindented, without bullets. */
const DROPS_LIST = { margin: '2px 0 0', padding: 0, listStyle: 'none' } as const;

/**
 * The ICR composer: every field of an IPI, the raw register value in the sender's APIC mode (kept
 * in sync both ways), Send IPI (the guest's ICR writes), PV IPI (the guest's KVM_HC_SEND_IPI
 * hypercall to the one APIC ID) or Send MSI (KVM_SIGNAL_MSI), and the
 * delivery the last step made: targets, fast or slow path, and why.
 */
export function IcrPanel() {
  const index = useLab((s) => s.vcpuIndex);
  const firstVcpu = useLab((s) => s.snapshot.vcpus[0]?.vcpu ?? null);
  const kvm = useLab((s) => s.vmInput.kvm);
  const x2apicFormat = useLab((s) => s.snapshot.caps.x2apicFormat);
  const last = useLab((s) => (s.cursor > 0 ? s.log[s.cursor - 1] : undefined));
  const hovered = useLab((s) => (s.hover && 'vcpu' in s.hover ? s.hover.vcpu : null));

  const [fields, setFields] = useState<IcrFields>(DEFAULT_FIELDS);
  const [drafts, setDrafts] = useState<Partial<Record<DraftKey, string>>>({});
  const [chosen, setSender] = useState<number | null>(() => labStore.getState().selectedVcpu);
  /** Whether the sender follows the vCPU selected elsewhere (off: the sender is only what this select says). */
  const [follow, setFollow] = useState(false);
  // Only a panel that follows the selection re-renders when another vCPU is selected.
  const selected = useLab((s) => (follow ? s.selectedVcpu : null));
  const [sendError, setSendError] = useState<string | null>(null);

  // A sender that no longer exists (a new VM) falls back to the first vCPU.
  const sender = follow && selected !== null ? selected : chosen !== null && index.has(chosen) ? chosen : firstVcpu;
  const senderVcpu = useLab((s) => (sender === null ? undefined : s.snapshot.vcpus[s.vcpuIndex.get(sender) ?? -1]));
  const mode = senderVcpu?.mode ?? 'disabled';
  const x2 = mode === 'x2apic';

  const low = encodeLow(fields);
  const canonical: Record<DraftKey, string> = {
    vector: hexPad(fields.vector, 2),
    dest: hex(fields.dest),
    raw: hexPad(encodeX2apic(fields), 16),
    icr2: hexPad(encodeXapic(fields).icr2, 8),
    icr: hexPad(low, 8),
  };
  const text = (k: DraftKey) => drafts[k] ?? canonical[k];
  const widths: Record<DraftKey, number> = { vector: 8, dest: 32, raw: 64, icr2: 32, icr: 32 };
  const errors: Partial<Record<DraftKey, string>> = {};
  for (const k of Object.keys(drafts) as DraftKey[]) {
    const p = parseHex(drafts[k]!, widths[k]);
    if ('error' in p) errors[k] = p.error;
  }

  const edit = (k: DraftKey, t: string) => {
    setDrafts({ [k]: t });
    setSendError(null);
    const p = parseHex(t, widths[k]);
    if ('error' in p) return;
    const v = p.value;
    if (k === 'vector') setFields({ ...fields, vector: Number(v) });
    else if (k === 'dest') setFields({ ...fields, dest: Number(v) });
    else if (k === 'raw') setFields(decodeX2apic(v));
    else if (k === 'icr2') setFields({ ...fields, dest: Number(v) >>> 24 });
    else setFields(decodeLow(Number(v), fields.dest));
  };
  const settle = (k: DraftKey) => {
    if (drafts[k] !== undefined && !errors[k]) setDrafts({});
  };
  const change = (patch: Partial<IcrFields>) => {
    setFields({ ...fields, ...patch });
    setDrafts({});
    setSendError(null);
  };
  const textInput = (k: DraftKey, label: string, cls: string) => (
    <input
      className={`mono icr-in ${cls}`}
      aria-label={label}
      aria-invalid={errors[k] ? true : undefined}
      spellCheck={false}
      value={text(k)}
      onChange={(e) => edit(k, e.target.value)}
      onBlur={() => settle(k)}
      data-testid={`icr-${k}`}
    />
  );

  const badHex = Object.entries(errors).map(([k, e]) => `${LABELS[k as DraftKey]}: ${e}`);
  const destTooWide = !x2 && fields.dest > 0xff && fields.shorthand === 0;
  const reserved = reservedBits(low);
  const ipiBlocked =
    badHex.length > 0
      ? 'fix the hex value first'
      : sender === null || !senderVcpu
        ? 'no sender vCPU'
        : mode === 'disabled'
          ? `vCPU ${sender}'s APIC is disabled (MSR_IA32_APICBASE bit 11 clear): it has no ICR to write`
          : destTooWide
            ? `xAPIC APIC_ICR2 holds an 8-bit destination (bits 31:24); ${hex(fields.dest)} needs an x2APIC sender`
            : null;
  const msi = encodeMsi(fields);

  const run = (steps: object[]) => {
    setSendError(null);
    for (const step of steps) {
      const r = labStore.getState().apply(step);
      if (!r) {
        setSendError(labStore.getState().error ?? 'the step was refused');
        return;
      }
      if (!r.ok) return;
    }
  };
  const sendIpi = () => {
    if (ipiBlocked || sender === null) return;
    setDrafts({});
    run(ipiSteps(sender, x2, fields));
  };
  const sendPvIpi = () => {
    if (badHex.length || sender === null) return;
    setDrafts({});
    run([pvIpiStep(sender, fields)]);
  };
  const sendMsi = () => {
    if (badHex.length) return;
    setDrafts({});
    run([msiStep(fields)]);
  };

  const pickSender = useCallback((id: number) => {
    setSender(id);
    setDrafts({});
    setSendError(null);
  }, []);

  return (
    <Panel
      title="ICR"
      className="icr area-icr"
      actions={
        <div className="actions">
          <WithTip tip={follow ? 'the sender is the vCPU selected in the vCPU list' : 'the sender is the vCPU chosen here (selecting a vCPU elsewhere does not change it)'}>
          <label className="icr-lbl">
            from
            <SenderPicker index={index} value={sender} disabled={follow} onChange={pickSender} />
          </label>
          </WithTip>
          <WithTip tip="Tick to make the sender the vCPU selected in the vCPU list">
          <label className="icr-lbl">
            <input
              type="checkbox"
              checked={follow}
              onChange={(e) => {
                setFollow(e.target.checked);
                if (!e.target.checked && sender !== null) setSender(sender);
                setDrafts({});
                setSendError(null);
              }}
            />
            follow selection
          </label>
          </WithTip>
          <span className={`mode mode-${mode}`} data-testid="icr-sender-mode">
            {MODE_LABEL[mode]}
          </span>
          {/* "Send" once, then what: three short buttons stay on one line in a narrow panel (1024x768). */}
          <span className="icr-send" role="group" aria-label="Send">
            <span className="icr-send-lbl" aria-hidden="true">Send</span>
            <WithTip tip={ipiBlocked ?? (x2 ? 'WRMSR 0x830' : 'write APIC_ICR2, then APIC_ICR')}>
              <button onClick={sendIpi} disabled={ipiBlocked !== null} aria-label="Send IPI">
                IPI
              </button>
            </WithTip>
            <WithTip
              tip={
                sender === null
                  ? 'no sender vCPU'
                  : `The PV IPI hypercall (KVM_HC_SEND_IPI), which a Linux guest on KVM uses instead of ICR writes: vCPU ${sender} asks KVM to send this vector and mode to APIC ID ${hex(fields.dest)} (min ${hex(fields.dest)}, bitmap 0x1, ICR ${hex(low)}). KVM looks in the optimized map only; a logical destination or a shorthand is refused.`
              }
            >
              <button onClick={sendPvIpi} disabled={badHex.length > 0 || sender === null} aria-label="Send PV IPI">
                PV IPI
              </button>
            </WithTip>
            <WithTip tip={`KVM_SIGNAL_MSI (no source vCPU): address_lo ${hex(msi.addressLo)}, address_hi ${hex(msi.addressHi)}, data ${hex(msi.data)}`}>
              <button onClick={sendMsi} disabled={badHex.length > 0} aria-label="Send MSI">
                MSI
              </button>
            </WithTip>
          </span>
        </div>
      }
    >
      <div className="icr-form">
        <div className="icr-row">
          <WithTip tip="ICR bits 7:0 (hex)">
            <label className="icr-lbl">vector{textInput('vector', 'vector', 'icr-w-vec')}</label>
          </WithTip>
          <WithTip tip="ICR bits 10:8">
          <label className="icr-lbl">
            delivery
            <select className="icr-in" aria-label="delivery mode" value={fields.mode} onChange={(e) => change({ mode: Number(e.target.value) })}>
              {DELIVERY_MODES.map((m, i) => (
                <option key={m} value={i}>
                  {m}
                </option>
              ))}
            </select>
          </label>
          </WithTip>
          <WithTip tip="trigger mode: ICR bit 15 (APIC_INT_LEVELTRIG)">
            <select className="icr-in" aria-label="trigger mode" value={fields.trigLevel ? 1 : 0} onChange={(e) => change({ trigLevel: e.target.value === '1' })}>
              <option value={0}>edge</option>
              <option value={1}>level</option>
            </select>
          </WithTip>
          <WithTip tip="ICR bit 14 (APIC_INT_ASSERT)">
            <label className="icr-lbl">
              <input type="checkbox" aria-label="level assert" checked={fields.level} onChange={(e) => change({ level: e.target.checked })} />
              assert
            </label>
          </WithTip>
        </div>
        <div className="icr-row">
          <WithTip tip={x2 ? 'ICR bits 63:32 (32-bit, hex)' : 'APIC_ICR2 bits 31:24 (8-bit, hex)'}>
            <label className="icr-lbl">dest{textInput('dest', 'destination', 'icr-w-dest')}</label>
          </WithTip>
          <WithTip tip="ICR bit 11 (APIC_DEST_LOGICAL)">
            <select className="icr-in" aria-label="destination mode" value={fields.logical ? 1 : 0} onChange={(e) => change({ logical: e.target.value === '1' })}>
              <option value={0}>physical</option>
              <option value={1}>logical</option>
            </select>
          </WithTip>
          <WithTip tip="destination shorthand: ICR bits 19:18">
            <select className="icr-in" aria-label="shorthand" value={fields.shorthand} onChange={(e) => change({ shorthand: Number(e.target.value) })}>
              {SHORTHANDS.map((s, i) => (
                <option key={s} value={i}>
                  {i === 0 ? 'no shorthand' : s}
                </option>
              ))}
            </select>
          </WithTip>
          <Expandable className="muted icr-hint" testId="icr-dest-hint">
            {destHint(fields, x2)}
          </Expandable>
        </div>
        <div className="icr-row">
          {x2 ? (
            <WithTip tip={'x2APIC: one 64-bit MSR, destination in bits 63:32 (hex; "_" allowed)'}>
              <label className="icr-lbl">
                <span className="icr-layout mode-x2apic">x2APIC</span> ICR <span className="mono">MSR 0x830</span>
                {textInput('raw', 'raw ICR, 64-bit', 'icr-w-raw')}
              </label>
            </WithTip>
          ) : (
            <>
              <span className={`icr-layout mode-${mode}`}>{mode === 'disabled' ? 'no APIC' : 'xAPIC'}</span>
              <WithTip tip="APIC_ICR2 (0x310, hex): destination in bits 31:24">
                <label className="icr-lbl">APIC_ICR2{textInput('icr2', 'raw APIC_ICR2', 'icr-w-32')}</label>
              </WithTip>
              <WithTip tip="APIC_ICR (0x300, hex): writing it sends the IPI">
                <label className="icr-lbl">APIC_ICR{textInput('icr', 'raw APIC_ICR', 'icr-w-32')}</label>
              </WithTip>
            </>
          )}
        </div>
        {(badHex.length > 0 || ipiBlocked || reserved !== 0 || fields.extra & 0x1000) ? (
          <p className="icr-note" role={badHex.length ? 'alert' : undefined} data-testid="icr-note">
            {badHex.length > 0 ? (
              <span className="icr-bad">✖ {badHex.join('; ')} — nothing is sent</span>
            ) : ipiBlocked ? (
              <span className="muted">IPI: {ipiBlocked}</span>
            ) : null}
            {badHex.length === 0 && reserved !== 0 && (
              <span className={x2 && checksReservedBits(kvm) ? 'icr-warn' : 'muted'}>
                {' '}⚠ reserved bits {reservedRanges(reserved)} set ({hex(reserved)}):{' '}
                {x2
                  ? checksReservedBits(kvm)
                    ? '#GP on KVM 6.12+'
                    : 'accepted before KVM 6.12'
                  : 'xAPIC does not check them'}{' '}
                <span className="muted">(X2APIC_ICR_RESERVED_BITS: bits 31:20, 17:16 and 13; commit 71bf395a276f, KVM 6.12)</span>
              </span>
            )}
            {badHex.length === 0 && (fields.extra & 0x1000) !== 0 && <span className="muted"> bit 12 (busy) is cleared by KVM.</span>}
          </p>
        ) : null}
      </div>
      <IcrResult last={last} hovered={hovered} sendError={sendError} x2apicFormat={x2apicFormat} destWide={fields.dest > 0xff} />
    </Panel>
  );
}

/** Consecutive deliveries of the same mode and vector, as one group of vCPU ids. */
function groupTargets(ds: { vcpu: number; mode: string; vector: number }[]) {
  const out: { key: string; mode: string; vector: number; vcpus: number[] }[] = [];
  for (const d of ds) {
    const g = out.at(-1);
    if (g && g.mode === d.mode && g.vector === d.vector && !g.vcpus.includes(d.vcpu)) g.vcpus.push(d.vcpu);
    else out.push({ key: `${out.length}`, mode: d.mode, vector: d.vector, vcpus: [d.vcpu] });
  }
  return out;
}

const MMIO_NAMES: Record<number, string> = { 0x300: 'APIC_ICR', 0x310: 'APIC_ICR2', 0x3f0: 'SELF_IPI' };
const LABELS: Record<DraftKey, string> = { vector: 'vector', dest: 'dest', raw: 'ICR', icr2: 'APIC_ICR2', icr: 'APIC_ICR' };

/** Steps this panel (or a guest doing the same) sends interrupts with. */
function isIcrStep(e: LogEntry): boolean {
  const s = e.step as { op: string; msr?: unknown; offset?: unknown };
  if ('path' in e.result || s.op === 'msi' || s.op === 'pv_send_ipi') return true;
  if (s.op === 'wrmsr') return Number(s.msr) === 0x830 || Number(s.msr) === 0x83f;
  if (s.op === 'mmio_write') return [0x300, 0x310, 0x3f0].includes(Number(s.offset));
  return false;
}

function IcrResult({ last, hovered, sendError, x2apicFormat, destWide }: { last: LogEntry | undefined; hovered: number | null; sendError: string | null; x2apicFormat: boolean; destWide: boolean }) {
  if (sendError) {
    return (
      <div className="icr-result" aria-live="polite" data-testid="icr-result">
        <span className="icr-bad">✖ refused: {sendError}</span>
      </div>
    );
  }
  if (!last || !isIcrStep(last)) {
    return (
      <div className="icr-result muted" aria-live="polite" data-testid="icr-result">
        Compose an IPI and send it: the targets, the path KVM took and why appear here.
      </div>
    );
  }
  const r = last.result;
  const v = viewResult(resultFields(r));
  const route = field(r, 'route');
  const drops = field(r, 'dropped') ?? [];
  const s = last.step as { op: string; vcpu?: number; msr?: unknown; offset?: unknown };
  const what =
    s.op === 'msi' ? 'MSI' : s.op === 'pv_send_ipi' ? `vCPU ${s.vcpu} KVM_HC_SEND_IPI` : s.op === 'wrmsr' ? `vCPU ${s.vcpu} WRMSR ${hex(Number(s.msr))}` : `vCPU ${s.vcpu} ${MMIO_NAMES[Number(s.offset)] ?? hex(Number(s.offset))}`;
  const setHover = labStore.getState().setHover;
  const groups = groupTargets(v.delivered.slice(0, MAX_TARGETS));
  return (
    <div className="icr-result" aria-live="polite" data-testid="icr-result">
      <div className="icr-line2">
        {v.path ? (
          <>
            {v.pathFn ? (
              <Tip className={`icr-path icr-path-${field(r, 'path')}`} tip={v.pathFn}>
                {v.path}
              </Tip>
            ) : (
              <span className={`icr-path icr-path-${field(r, 'path')}`}>{v.path}</span>
            )}
            <span className="muted"> · examined {v.examined ?? 0} ·</span>
          </>
        ) : !r.ok ? (
          <strong className="icr-bad">✖ {failureName(r)} ·</strong>
        ) : null}
        <span className="muted">
          step {r.i} · {what}
          {v.delivered.length > 1 ? ` → ${v.delivered.length} vCPUs` : ''}
          {v.path || !r.ok ? ':' : ''}
        </span>
        {!r.ok && <span className="muted"> nothing sent</span>}
        {r.ok && !v.path && (
          <span className="muted">{s.op === 'mmio_write' && Number(s.offset) === 0x310 ? ' APIC_ICR2 stored; writing APIC_ICR sends' : ' ✔ ok, nothing sent'}</span>
        )}
        {s.op === 'msi' && destWide && !x2apicFormat && <span className="muted"> (no 32-bit IDs: address_hi ignored)</span>}
        {v.path && (
          <ul className="icr-targets" aria-label="delivered to" data-testid="icr-delivered">
            {v.nobody && <li className="icr-bad">✖ {v.nobody}</li>}
            {groups.map((g) => (
              <li key={g.key} className="icr-group">
                <span className="muted">→ {g.mode}</span> <span className="mono">{hexPad(g.vector, 2)}</span> <span className="muted">to</span>
                {g.vcpus.map((id) => (
                  <WithTip key={id} tip={`vCPU ${id} accepted ${g.mode} vector ${g.vector}; click to open its register page`}>
                    <button
                      className={`icr-target${hovered === id ? ' hovered' : ''}`}
                      onMouseEnter={() => setHover({ vcpu: id })}
                      onMouseLeave={() => setHover(null)}
                      onFocus={() => setHover({ vcpu: id })}
                      onBlur={() => setHover(null)}
                      onClick={() => labStore.getState().select(id)}
                    >
                      vCPU {id}
                    </button>
                  </WithTip>
                ))}
              </li>
            ))}
            {v.delivered.length > MAX_TARGETS && <li className="muted">+{v.delivered.length - MAX_TARGETS} more</li>}
          </ul>
        )}
      </div>
      {route && (
        <div data-testid="icr-why">
          <span className="muted">Why: </span>
          {explain(route, 'long', { x2apicFormat })} <KvmSource fn={route.kvm} />
        </div>
      )}
      {drops.length > 0 && (
        <ul className="icr-dropped" style={DROPS_LIST} aria-label="not accepted" data-testid="icr-dropped">
          {drops.slice(0, MAX_DROPS).map((a, k) => (
            <li key={k} className="icr-bad">
              ✖ {explain(a)} <KvmSource fn={a.kvm} />
            </li>
          ))}
          {drops.length > MAX_DROPS && <li className="muted">and {drops.length - MAX_DROPS} more vCPUs did not accept it</li>}
        </ul>
      )}
      {!r.ok && (
        <div className="icr-bad" data-testid="icr-fault">
          <strong>{failureName(r)}:</strong> {refusalWords(r)} {r.refusal && <KvmSource fn={r.refusal.kvm} />}
        </div>
      )}
    </div>
  );
}
