import { useLab, labStore } from '../store/labStore';
import { Panel } from './Panel';

const MODE_LABEL: Record<string, string> = { disabled: 'disabled', xapic: 'xAPIC', x2apic: 'x2APIC' };

/** Every vCPU with its APIC mode, IDs, LDR and MP state; click one to open its register page. */
export function VcpuList() {
  const vcpus = useLab((s) => s.snapshot.vcpus);
  const selected = useLab((s) => s.selectedVcpu);
  return (
    <Panel title="vCPUs" className="vcpus area-vcpus">
      <table className="grid">
        <thead>
          <tr>
            <th scope="col">vCPU</th>
            <th scope="col">mode</th>
            <th scope="col" title="xAPIC ID: bits 31:24 of APIC_ID (kvm_xapic_id)">xID</th>
            <th scope="col" title="x2APIC ID: always the vcpu_id (kvm_x2apic_id)">x2ID</th>
            <th scope="col">LDR</th>
            <th scope="col">mp_state</th>
          </tr>
        </thead>
        <tbody>
          {vcpus.map((v) => (
            <tr
              key={v.vcpu}
              aria-selected={v.vcpu === selected}
              className={v.vcpu === selected ? 'selected' : undefined}
              onClick={() => labStore.getState().select(v.vcpu)}
              data-testid={`vcpu-row-${v.vcpu}`}
            >
              <td className="mono">{v.vcpu}</td>
              <td>
                <span className={`mode mode-${v.mode}`}>{MODE_LABEL[v.mode]}</span>
                {!v.swEnabled && <span className="badge" title="SPIV bit 8 clear: software-disabled">sw-off</span>}
              </td>
              <td className="mono">{v.xapicId}</td>
              <td className="mono">{v.x2apicId}</td>
              <td className="mono">{v.ldr}</td>
              <td className="mono">{v.mpState}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </Panel>
  );
}
