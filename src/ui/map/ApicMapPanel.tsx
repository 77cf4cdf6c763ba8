/**
 * The optimized APIC map panel: d3 slot cards or a canvas density grid, the logical tables, what
 * the last rebuild found and the last interrupt's route, each explained from KVM's decisions.
 */
import { useDeferredValue, useEffect, useLayoutEffect, useMemo, useRef, useState, type RefObject } from 'react';
import type { MapDecision } from '../../core/decisions';
import { explain } from '../../explain/explain';
import { labStore, useAddressedVcpus, useLab, type Hover } from '../../store/labStore';
import { KvmSource } from '../KvmSource';
import { Panel } from '../Panel';
import {
  buildSlots, changedSlotIds, describeSlot, hex, listWords, logicalView, rebuildFindings, routeOf,
  STATE_WORDS, type RouteView, type SlotModel, type SlotState,
} from './mapView';
import { createSlotNodes, type SlotNodes } from './slotNodes';
import { createDensityGrid, gridLayout, type DensityGrid } from './densityCanvas';
import './apicMap.css';

/** Past this many occupied slots the map is drawn as a density grid on a canvas. */
const NODE_LIMIT = 64;
/** Never one SVG node per slot past this many, whatever the user picks. */
const NODE_MAX = 256;

type ViewPick = 'auto' | 'slots' | 'density';

const act = {
  hover: (h: Hover) => {
    const cur = labStore.getState().hover;
    if (JSON.stringify(cur) !== JSON.stringify(h)) labStore.getState().setHover(h);
  },
  select: (vcpu: number) => labStore.getState().select(vcpu),
};

/**
 * KVM's optimized APIC map (struct kvm_apic_map): the physical table APIC ID → vCPU, the logical
 * tables, why the map is absent, and the route the last IPI took through it.
 */
export function ApicMapPanel() {
  // Deferred: a click paints its own result first; the slots of a big map follow.
  const map = useDeferredValue(useLab((s) => s.snapshot.map));
  const vcpus = useDeferredValue(useAddressedVcpus());
  const x2apicFormat = useDeferredValue(useLab((s) => s.snapshot.caps.x2apicFormat));
  const entry = useLab((s) => s.log[s.cursor - 1]);
  const hover = useLab((s) => s.hover);
  const selected = useLab((s) => s.selectedVcpu);
  const [pick, setPick] = useState<ViewPick>('auto');

  const model = useMemo(() => buildSlots(map, vcpus, x2apicFormat), [map, vcpus, x2apicFormat]);
  const route = useMemo(() => routeOf(entry?.step as Record<string, unknown> | undefined, entry?.result, model), [entry, model]);
  const dense = model.slots.length > NODE_MAX || (pick === 'auto' ? model.slots.length > NODE_LIMIT : pick === 'density');
  const logical = logicalView(map);

  const hoverSlots = useMemo(() => slotsOfHover(model, hover), [model, hover]);
  const readout = useMemo(() => readoutOf(model, hover), [model, hover]);

  return (
    <Panel
      title="Optimized APIC map"
      className="area-map apic-map"
      actions={
        <div className="actions" role="group" aria-label="Map view">
          <button type="button" aria-pressed={!dense} disabled={model.slots.length > NODE_MAX} onClick={() => setPick('slots')}>
            slots
          </button>
          <button type="button" aria-pressed={dense} onClick={() => setPick('density')}>
            density
          </button>
        </div>
      }
    >
      <Summary model={model} />
      {!map.present && (
        <div className="map-absent" data-testid="map-absent">
          <strong>⚠ No optimized map</strong>
          {rebuildFindings(map).length ? '' : ': every interrupt takes the slow path (KVM matches every vCPU one by one).'}
          <Findings findings={rebuildFindings(map)} x2apicFormat={x2apicFormat} />
        </div>
      )}
      <h3 className="map-h">{map.present ? 'Physical table: phys_map[APIC ID] → vCPU' : 'Physical APIC IDs the vCPUs answer to (no table)'}</h3>
      {dense ? (
        <DensityView model={model} hoverSlots={hoverSlots} selected={selected} route={route} />
      ) : (
        <NodesView model={model} hover={hover} selected={selected} route={route} />
      )}
      <p className="map-readout mono" data-testid="map-readout">{readout || ' '}</p>
      <RouteText route={route} x2apicFormat={x2apicFormat} />
      <NotInMap model={model} />
      {map.present && rebuildFindings(map).length > 0 && (
        <section className="map-why" data-testid="map-why" aria-label="What the last rebuild found">
          <h3 className="map-h">What the last rebuild found</h3>
          <Findings findings={rebuildFindings(map)} x2apicFormat={x2apicFormat} />
        </section>
      )}
      <LogicalPart logical={logical} route={route} />
    </Panel>
  );
}

function Summary({ model }: { model: SlotModel }) {
  const map = useLab((s) => s.snapshot.map);
  const total = useLab((s) => s.snapshot.vcpus.length);
  if (!map.present) return null;
  const inMap = total - model.notInMap.length;
  return (
    <p className="map-summary" data-testid="map-summary">
      <span className="map-ok">✓ present</span> · {inMap} of {total} vCPUs in phys_map · max_apic_id <span className="mono">{map.maxApicId}</span> · logical{' '}
      <span className="mono">{map.logicalMode}</span>
    </p>
  );
}

/** The element's content width, kept up to date. */
function useWidth<T extends HTMLElement>(): [RefObject<T | null>, number] {
  const ref = useRef<T>(null);
  const [width, setWidth] = useState(0);
  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    setWidth(el.clientWidth);
    const ro = new ResizeObserver(() => setWidth(el.clientWidth));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);
  return [ref, width];
}

/** What a renderer drew last, so a rebuild fades in only the changed slots and a new route pulses once. */
function useDrawn() {
  return useRef<{ model: SlotModel | null; route: RouteView | null }>({ model: null, route: null });
}

/** Diff against what was drawn last, then remember this as drawn. */
function nextDraw(drawn: RefObject<{ model: SlotModel | null; route: RouteView | null }>, model: SlotModel, route: RouteView | null) {
  const changed = changedSlotIds(drawn.current.model, model);
  const pulse = route !== null && route !== drawn.current.route;
  drawn.current = { model, route };
  return { changed, pulse };
}

function NodesView({ model, hover, selected, route }: { model: SlotModel; hover: Hover; selected: number | null; route: RouteView | null }) {
  const [wrap, width] = useWidth<HTMLDivElement>();
  const svgRef = useRef<SVGSVGElement>(null);
  const nodes = useRef<SlotNodes | null>(null);
  const drawn = useDrawn();

  useEffect(() => {
    nodes.current = createSlotNodes(svgRef.current!, { onHover: act.hover, onSelect: act.select });
    return () => {
      nodes.current?.destroy();
      nodes.current = null;
    };
  }, []);
  useEffect(() => {
    if (!nodes.current || !width) return;
    const { changed, pulse } = nextDraw(drawn, model, route);
    nodes.current.update(model.slots, width, changed);
    nodes.current.route(route, pulse);
    nodes.current.highlight(labStore.getState().hover, labStore.getState().selectedVcpu);
  }, [model, width, route]);
  useEffect(() => {
    nodes.current?.highlight(hover, selected);
  }, [hover, selected]);

  return (
    <div className="map-nodes" ref={wrap} data-testid="map-nodes">
      {model.slots.length === 0 && <p className="muted">No vCPU answers to any physical APIC ID (every APIC is disabled).</p>}
      <svg ref={svgRef} className="map-svg" role="group" aria-label="Physical slots: APIC ID → vCPU" />
    </div>
  );
}

const LEGEND: SlotState[] = ['xapic', 'x2apic', 'alias', 'conflict', 'missing', 'empty'];

function DensityView({ model, hoverSlots, selected, route }: { model: SlotModel; hoverSlots: readonly number[]; selected: number | null; route: RouteView | null }) {
  const [wrap, width] = useWidth<HTMLDivElement>();
  const gridEl = useRef<HTMLDivElement>(null);
  const grid = useRef<DensityGrid | null>(null);
  const drawn = useDrawn();
  const selectedSlots = useMemo(() => (selected === null ? [] : (model.vcpuSlots.get(selected) ?? [])), [model, selected]);
  const sourceSlots = route?.source != null ? (model.vcpuSlots.get(route.source) ?? []) : [];
  const modelRef = useRef(model);
  modelRef.current = model;
  const [zoom, setZoom] = useState(1);

  useEffect(() => {
    grid.current = createDensityGrid(gridEl.current!, {
      onHover: (slot) => act.hover(slot === null ? null : { apicId: slot }),
      onSelect: (slot) => {
        const v = modelRef.current.vcpuAt[slot] ?? -1;
        if (v >= 0) act.select(v);
      },
    });
    return () => {
      grid.current?.destroy();
      grid.current = null;
    };
  }, []);
  useEffect(() => {
    if (!grid.current || !width) return;
    const { changed, pulse } = nextDraw(drawn, model, route);
    grid.current.update(model, width, changed, zoom);
    grid.current.route(route, sourceSlots, pulse);
  }, [model, width, route, zoom]);
  useEffect(() => {
    grid.current?.highlight(hoverSlots, selectedSlots);
  }, [hoverSlots, selectedSlots, model, width, zoom]);

  return (
    <div className="map-density" ref={wrap} data-testid="map-density">
      <div className="density-scroll">
        <div className="density-grid" ref={gridEl} />
      </div>
      <div className="density-zoom" role="group" aria-label="Zoom">
        <button type="button" aria-label="Zoom out" disabled={zoom <= 1} onClick={() => setZoom((z) => Math.max(1, z / 2))}>−</button>
        <span className="mono">{zoom === 1 ? 'fit' : `${zoom}×`}</span>
        <button type="button" aria-label="Zoom in" disabled={zoom >= 4} onClick={() => setZoom((z) => Math.min(4, z * 2))}>+</button>
      </div>
      <p className="density-axis muted" data-testid="density-axis">
        Each row holds {gridLayout(model.size, width || 300).cols} slots: APIC ID = the row's label on the left + the column (0 to{' '}
        {gridLayout(model.size, width || 300).cols - 1}).
      </p>
      <ul className="density-legend" aria-label="Legend">
        {LEGEND.filter((s) => s === 'empty' || s === 'xapic' || model.counts[s] > 0).map((s) => (
          <li key={s}>
            <Swatch state={s} /> {STATE_WORDS[s]} <span className="mono muted">{model.counts[s]}</span>
          </li>
        ))}
      </ul>
    </div>
  );
}

/** The legend's glyph: the same shape as the canvas cell. */
function Swatch({ state }: { state: SlotState }) {
  return (
    <svg className={`swatch sw-${state}`} width="12" height="12" viewBox="0 0 12 12" aria-hidden="true">
      {state === 'empty' && <rect x="0.5" y="0.5" width="11" height="11" className="sw-outline" />}
      {state === 'xapic' && <rect width="12" height="12" />}
      {state === 'x2apic' && (
        <>
          <rect width="12" height="12" />
          <rect x="4" y="4" width="4" height="4" className="sw-hole" />
        </>
      )}
      {state === 'alias' && (
        <>
          <rect width="12" height="12" />
          <line x1="0" y1="12" x2="12" y2="0" className="sw-hole" />
        </>
      )}
      {state === 'conflict' && (
        <>
          <rect width="12" height="12" />
          <path d="M1,1 L11,11 M11,1 L1,11" className="sw-hole" />
        </>
      )}
      {state === 'missing' && <rect x="1" y="1" width="10" height="10" className="sw-dashed" />}
    </svg>
  );
}

/** The map rebuild's decisions, in words, each with the KVM function that made it. */
function Findings({ findings, x2apicFormat }: { findings: readonly MapDecision[]; x2apicFormat: boolean }) {
  if (!findings.length) return null;
  return (
    <ul className="map-findings">
      {findings.map((d, k) => (
        <li key={k} onMouseEnter={() => act.hover({ vcpu: d.vcpus[0] })} onMouseLeave={() => act.hover(null)}>
          {explain(d, 'long', { x2apicFormat })} <KvmSource fn={d.kvm} />
        </li>
      ))}
    </ul>
  );
}

/** vCPUs outside the map that no rebuild finding explains (a disabled APIC). */
function NotInMap({ model }: { model: SlotModel }) {
  const xs = model.notInMap.filter((x) => !x.decision);
  if (!xs.length) return null;
  const shown = xs.slice(0, 6);
  return (
    <ul className="map-notin" data-testid="map-notin">
      {shown.map((x) => (
        <li key={x.vcpu}>
          <button type="button" className="linkish mono" onClick={() => act.select(x.vcpu)} onMouseEnter={() => act.hover({ vcpu: x.vcpu })} onMouseLeave={() => act.hover(null)}>
            vCPU {x.vcpu}
          </button>{' '}
          {x.why}
        </li>
      ))}
      {xs.length > shown.length && <li className="muted">and {xs.length - shown.length} more vCPUs</li>}
    </ul>
  );
}

function RouteText({ route, x2apicFormat }: { route: RouteView | null; x2apicFormat: boolean }) {
  if (!route) return null;
  const d = route.decision;
  const accepted = route.targets.filter((t) => t.accepted).map((t) => t.vcpu);
  const drops = route.targets.flatMap((t) => (t.drop ? [t.drop] : []));
  const reached = accepted.length ? `vCPU ${listWords(accepted)}` : 'nobody accepted it';
  const cells = route.logicalCells;
  return (
    <section className={`map-route path-${route.path}`} data-testid="map-route" aria-label="Last IPI route">
      <h3 className="map-h">
        Last interrupt <span className="muted">(step {route.step}: {route.label})</span>
      </h3>
      <p data-testid="map-route-why">
        <span className={`path-badge path-${route.path}`}>{route.path === 'fast' ? '⚡ fast path' : '↻ slow path'}</span> {explain(d, 'long', { x2apicFormat })}{' '}
        <KvmSource fn={d.kvm} />
      </p>
      <p>
        {cells ? (
          <>
            Through{' '}
            <span className="mono">
              {cells.table === 'flat' ? 'xapic_flat_map' : `xapic_cluster_map[${cells.cluster}]`} bit {listWords(cells.bits)}
            </span>{' '}
            → {reached}.
          </>
        ) : route.slots.length ? (
          <>
            Through <span className="mono">{listWords(route.slots.map((id) => `phys_map[${id}]`))}</span> → {reached}.
          </>
        ) : (
          <>{accepted.length ? `Accepted by ${reached}.` : 'Nobody accepted it.'}</>
        )}
      </p>
      {drops.length > 0 && (
        <ul className="map-dropped" data-testid="map-dropped" aria-label="Not accepted">
          {drops.slice(0, 6).map((a, k) => (
            <li key={k}>
              {explain(a)} <KvmSource fn={a.kvm} />
            </li>
          ))}
          {drops.length > 6 && <li>and {drops.length - 6} more vCPUs did not accept it</li>}
        </ul>
      )}
    </section>
  );
}

function LogicalPart({ logical, route }: { logical: ReturnType<typeof logicalView>; route: RouteView | null }) {
  if (!logical) return null;
  const cells = route?.logicalCells;
  const cellClass = (table: 'flat' | 'cluster', cluster: number, bit: number, v: number | null) =>
    [v === null ? 'empty' : '', cells && cells.table === table && cells.cluster === cluster && cells.bits.includes(bit) ? 'on-route' : ''].join(' ');
  return (
    <section className="map-logical" data-testid="map-logical" aria-label="Logical table">
      <h3 className="map-h">
        Logical destinations: <span className="mono">{logical.mode}</span>
      </h3>
      <p>{logical.words}.</p>
      {logical.flat && (
        <table className="grid logical-table" aria-label="xapic_flat_map">
          <thead>
            <tr>
              <th scope="row">LDR bit</th>
              {logical.flat.map((_, i) => (
                <th key={i} scope="col" className="mono">{i}</th>
              ))}
            </tr>
          </thead>
          <tbody>
            <tr>
              <th scope="row">vCPU</th>
              {logical.flat.map((v, i) => (
                <td key={i} className={`mono ${cellClass('flat', 0, i, v)}`}>{v ?? '–'}</td>
              ))}
            </tr>
          </tbody>
        </table>
      )}
      {logical.clusters && (
        <table className="grid logical-table" aria-label="xapic_cluster_map">
          <thead>
            <tr>
              <th scope="col">cluster</th>
              {[0, 1, 2, 3].map((i) => (
                <th key={i} scope="col" className="mono">bit {i}</th>
              ))}
            </tr>
          </thead>
          <tbody>
            {logical.clusters.length === 0 && (
              <tr>
                <td colSpan={5} className="muted">every cluster is empty</td>
              </tr>
            )}
            {logical.clusters.map((c) => (
              <tr key={c.cluster}>
                <th scope="row" className="mono">{hex(c.cluster)}</th>
                {c.slots.map((v, i) => (
                  <td key={i} className={`mono ${cellClass('cluster', c.cluster, i, v)}`}>{v ?? '–'}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function slotsOfHover(model: SlotModel, hover: Hover): number[] {
  if (!hover) return [];
  if ('apicId' in hover) return [hover.apicId];
  if ('vcpu' in hover) return model.vcpuSlots.get(hover.vcpu) ?? [];
  return [];
}

function readoutOf(model: SlotModel, hover: Hover): string {
  if (!hover) return '';
  if ('apicId' in hover) return describeSlot(model, hover.apicId);
  if ('vcpu' in hover) {
    const slots = model.vcpuSlots.get(hover.vcpu);
    if (slots) return `vCPU ${hover.vcpu} ← APIC ID ${listWords(slots)}${model.present ? '' : ' (no map)'}`;
    const out = model.notInMapByVcpu.get(hover.vcpu);
    // A rebuild decision's words name the vCPU themselves.
    return out?.decision ? out.why : `vCPU ${hover.vcpu}: ${out?.why ?? 'not in the map'}`;
  }
  return '';
}
