import { useLab } from '../store/labStore';

/** The VM's configuration and VM-wide state: vendor, KVM release, map and APICv. */
export function VmBar() {
  const vmInput = useLab((s) => s.vmInput);
  const snapshot = useLab((s) => s.snapshot);
  const error = useLab((s) => s.error);
  const { map, inhibits, apicvActive } = snapshot;
  return (
    <section className="vmbar" aria-labelledby="vm-heading">
      <h1 id="vm-heading">VM</h1>
      <dl>
        <div><dt>vendor</dt><dd>{vmInput.vendor ?? 'intel'}</dd></div>
        <div><dt>KVM</dt><dd>{vmInput.kvm ?? 'current'}</dd></div>
        <div><dt>vCPUs</dt><dd>{snapshot.vcpus.length}</dd></div>
        <div>
          <dt>APIC map</dt>
          <dd data-testid="map-state">{map.present ? `present, logical ${map.logicalMode}, max ID ${map.maxApicId}` : 'absent (slow path)'}</dd>
        </div>
        <div>
          <dt>{(vmInput.vendor ?? 'intel') === 'amd' ? 'AVIC' : 'APICv'}</dt>
          <dd data-testid="apicv-state">{apicvActive ? 'active' : `inhibited: ${inhibits.join(', ')}`}</dd>
        </div>
      </dl>
      {error && <p className="error" role="alert">{error}</p>}
    </section>
  );
}
