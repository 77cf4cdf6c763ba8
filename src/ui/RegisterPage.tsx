import { SLOT_NAMES, SLOT_OFFSETS, slotKey } from '../core/apicdef';
import { labStore, useLab } from '../store/labStore';
import { decodeSlot } from './decode';
import { Panel } from './Panel';

/** The selected vCPU's 64 register slots, with MSR numbers, raw values and decoded fields. */
export function RegisterPage() {
  const id = useLab((s) => s.selectedVcpu);
  const regs = useLab((s) => (id === null ? undefined : s.regs.get(id)));
  const vcpu = useLab((s) => s.snapshot.vcpus.find((v) => v.vcpu === id));
  if (id === null || !regs || !vcpu) return <Panel title="Register page" className="area-regs">No vCPU selected.</Panel>;
  const x2 = vcpu.mode === 'x2apic';
  const act = (step: object) => labStore.getState().apply(step);
  return (
    <Panel
      title="Register page"
      className="regs area-regs"
      actions={
        <div className="actions">
          <span className="mono" data-testid="apicbase">vCPU {id} · MSR_IA32_APICBASE {vcpu.apicBase}</span>
          {vcpu.mode === 'xapic' && (
            <button onClick={() => act({ op: 'wrmsr', vcpu: id, msr: '0x1b', value: '0x' + (BigInt(vcpu.apicBase) | 0x400n).toString(16) })}>
              Enter x2APIC
            </button>
          )}
          {!vcpu.swEnabled && vcpu.mode !== 'disabled' && (
            <button onClick={() => act(x2 ? { op: 'wrmsr', vcpu: id, msr: '0x80f', value: '0x1ff' } : { op: 'mmio_write', vcpu: id, offset: '0xf0', value: '0x1ff' })}>
              Software-enable
            </button>
          )}
        </div>
      }
    >
      <table className="grid regtable" aria-label={`Register page of vCPU ${id}`}>
        <thead>
          <tr>
            <th scope="col">offset</th>
            <th scope="col">MSR</th>
            <th scope="col">register</th>
            <th scope="col">value</th>
            <th scope="col">fields</th>
          </tr>
        </thead>
        <tbody>
          {SLOT_OFFSETS.filter((off) => SLOT_NAMES.has(off)).map((off) => {
            const value = regs[off >> 2];
            return (
              <tr key={off} data-testid={`reg-${slotKey(off)}`}>
                <td className="mono">{slotKey(off)}</td>
                <td className="mono">0x{(0x800 + (off >> 4)).toString(16)}</td>
                <td className="mono">{SLOT_NAMES.get(off)}</td>
                <td className="mono value">{'0x' + value.toString(16).padStart(8, '0')}</td>
                <td>{decodeSlot(off, value, x2)}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </Panel>
  );
}
