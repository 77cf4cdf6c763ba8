/**
 * d3 renderer of a small map: one card per physical slot, "APIC ID → vCPU n", inside an <svg>.
 * React owns the numbers (the SlotInfo list, the hover, the route); this module owns the DOM
 * inside the svg. Created once per element, updated from React effects (the xyflow pattern).
 */
import { select } from 'd3-selection';
import type { Timer } from 'd3-timer';
import type { Hover } from '../../store/labStore';
import { MODE_WORDS, type RouteView, type SlotInfo } from './mapView';
import { animate, between, reducedMotion } from './motion';

export const CARD_H = 36;
const GAP = 6;
const ROW_GAP = 12;
const ARROW_W = 9;
const MIN_W = 96;
const MAX_W = 128;

/** Card geometry: as many columns of at least MIN_W as fit, stretched to fill `width`. */
export function cardGeometry(width: number, maxId: number): { cols: number; w: number; slotW: number; vcpuX: number; vcpuW: number } {
  const cols = Math.max(1, Math.floor((width - 2 + GAP) / (MIN_W + GAP)));
  const w = Math.max(MIN_W, Math.min(MAX_W, Math.floor((width - 2 - (cols - 1) * GAP) / cols)));
  const slotW = Math.max(24, Math.ceil(String(maxId).length * 7.3 + 8));
  const vcpuX = slotW + ARROW_W;
  return { cols, w, slotW, vcpuX, vcpuW: w - vcpuX };
}

export interface SlotNodesCallbacks {
  onHover(h: Hover): void;
  onSelect(vcpu: number): void;
}

export interface SlotNodes {
  /** Lay out `slots` in `width` px; slots whose ids are in `changed` fade in. */
  update(slots: readonly SlotInfo[], width: number, changed: ReadonlySet<number>): void;
  highlight(hover: Hover, selected: number | null): void;
  /** Draw the route of the last IPI (null: none); `pulse` animates it once. */
  route(route: RouteView | null, pulse: boolean): void;
  destroy(): void;
}

interface Pos {
  x: number;
  y: number;
}

function vcpuLine(s: SlotInfo): string {
  if (s.state === 'conflict') return s.claims.join(' · ');
  return `vCPU ${s.vcpu}`;
}

function modeLine(s: SlotInfo): string {
  if (s.state === 'conflict') return 'shared ✕';
  if (s.state === 'missing') return 'not yet';
  const mode = MODE_WORDS[s.mode ?? ''] ?? s.mode ?? '';
  if (s.state === 'alias') return s.id > 0xff && s.mode === 'xapic' ? 'hotplug' : `${mode} alias`;
  return mode;
}

function cardLabel(s: SlotInfo): string {
  return `APIC ID ${s.id} → ${s.state === 'conflict' ? `vCPUs ${s.claims.join(', ')}` : `vCPU ${s.vcpu}`}: ${s.note}. Select to open the register page.`;
}

export function createSlotNodes(svgEl: SVGSVGElement, cb: SlotNodesCallbacks): SlotNodes {
  const svg = select(svgEl);
  svg.selectAll('*').remove();
  const defs = svg.append('defs');
  for (const kind of ['plain', 'route']) {
    defs
      .append('marker')
      .attr('id', `map-arrow-${kind}`)
      .attr('viewBox', '0 0 8 8')
      .attr('refX', 7)
      .attr('refY', 4)
      .attr('markerWidth', 6)
      .attr('markerHeight', 6)
      .attr('orient', 'auto')
      .append('path')
      .attr('d', 'M0,0 L8,4 L0,8 z')
      .attr('class', `arrowhead arrowhead-${kind}`);
  }
  const cardsG = svg.append('g').attr('class', 'cards');
  const routeG = svg.append('g').attr('class', 'routes').attr('aria-hidden', 'true');
  const positions = new Map<number, Pos>();
  let slotsNow: readonly SlotInfo[] = [];
  let baseHeight = 0;
  let geo = cardGeometry(400, 0);
  let fadeTimer: Timer | null = null;
  let pulseTimer: Timer | null = null;

  const vcpuOf = (s: SlotInfo) => s.vcpu ?? s.claims[0];

  function update(slots: readonly SlotInfo[], width: number, changed: ReadonlySet<number>) {
    slotsNow = slots;
    geo = cardGeometry(width, slots.length ? slots[slots.length - 1].id : 0);
    const { cols, w, slotW, vcpuX, vcpuW } = geo;
    const rows = Math.ceil(slots.length / cols);
    positions.clear();
    slots.forEach((s, i) => positions.set(s.id, { x: (i % cols) * (w + GAP) + 1, y: Math.floor(i / cols) * (CARD_H + ROW_GAP) + 7 }));
    svg
      .attr('width', Math.max(0, Math.min(slots.length, cols) * (w + GAP) - GAP + 2))
      .attr('height', (baseHeight = Math.max(0, rows * (CARD_H + ROW_GAP) - ROW_GAP + 8)));

    const cards = cardsG
      .selectAll<SVGGElement, SlotInfo>('g.map-card')
      .data(slots, (d) => String(d.id))
      .join((enter) => {
        const g = enter.append('g').attr('class', 'map-card').attr('tabindex', 0).attr('role', 'button');
        g.append('title');
        g.append('rect').attr('class', 'slot-box').attr('height', CARD_H).attr('rx', 3);
        g.append('text').attr('class', 'slot-id').attr('y', CARD_H / 2 + 4).attr('text-anchor', 'middle');
        g.append('line').attr('class', 'slot-link').attr('y1', CARD_H / 2).attr('y2', CARD_H / 2).attr('marker-end', 'url(#map-arrow-plain)');
        g.append('rect').attr('class', 'vcpu-box').attr('height', CARD_H).attr('rx', 3);
        g.append('rect').attr('class', 'vcpu-stripe').attr('width', 3).attr('height', CARD_H);
        g.append('text').attr('class', 'vcpu-name').attr('y', 15);
        g.append('text').attr('class', 'vcpu-mode').attr('y', 29);
        g.on('mouseleave', () => cb.onHover(null))
          .on('click', (_e, d) => cb.onSelect(vcpuOf(d)))
          .on('keydown', (e: KeyboardEvent, d) => {
            if (e.key === 'Enter' || e.key === ' ') {
              e.preventDefault();
              cb.onSelect(vcpuOf(d));
            }
          })
          .on('focus', (_e, d) => cb.onHover({ apicId: d.id }))
          .on('blur', () => cb.onHover(null));
        g.select('.slot-box').on('mouseenter', (_e, d) => cb.onHover({ apicId: (d as SlotInfo).id }));
        g.select('.vcpu-box').on('mouseenter', (_e, d) => cb.onHover({ vcpu: vcpuOf(d as SlotInfo) }));
        return g;
      });

    cards
      .attr('class', (d) => `map-card st-${d.state} mode-${d.mode ?? 'none'}`)
      .attr('data-testid', (d) => `map-slot-${d.id}`)
      .attr('data-vcpu', (d) => (d.state === 'conflict' ? d.claims.join(' ') : String(d.vcpu)))
      .attr('aria-label', cardLabel)
      .attr('transform', (d) => {
        const p = positions.get(d.id)!;
        return `translate(${p.x},${p.y})`;
      });
    cards.select('.slot-box').attr('width', slotW);
    cards.select('.slot-id').attr('x', slotW / 2);
    cards.select('.slot-link').attr('x1', slotW).attr('x2', vcpuX - 1);
    cards.select('.vcpu-box').attr('x', vcpuX).attr('width', vcpuW);
    cards.select('.vcpu-stripe').attr('x', vcpuX);
    cards.select('.vcpu-name').attr('x', vcpuX + 7);
    cards.select('.vcpu-mode').attr('x', vcpuX + 7);
    cards.select('title').text((d) => cardLabel(d));
    cards.select('.slot-id').text((d) => String(d.id));
    cards.select('.vcpu-name').text(vcpuLine);
    cards.select('.vcpu-mode').text(modeLine);
    // Child elements keep the card's datum for their handlers.
    cards.select('.slot-box').datum((d) => d);
    cards.select('.vcpu-box').datum((d) => d);

    // A fade cut short by the next update must not leave a card half transparent.
    fadeTimer?.stop();
    cards.style('opacity', null);
    if (changed.size && !reducedMotion()) {
      const fading = cards.filter((d) => changed.has(d.id));
      fadeTimer = animate((t) => fading.style('opacity', t));
    }
  }

  function highlight(hover: Hover, selected: number | null) {
    const hv = hover && 'vcpu' in hover ? hover.vcpu : null;
    const hid = hover && 'apicId' in hover ? hover.apicId : null;
    const has = (d: SlotInfo, v: number | null) => v !== null && (d.vcpu === v || d.claims.includes(v));
    cardsG
      .selectAll<SVGGElement, SlotInfo>('g.map-card')
      .classed('hovered', (d) => has(d, hv) || d.id === hid)
      .classed('selected', (d) => has(d, selected))
      .attr('aria-pressed', (d) => (has(d, selected) ? 'true' : 'false'));
  }

  function route(r: RouteView | null, pulse: boolean) {
    pulseTimer?.stop();
    routeG.selectAll('*').remove();
    const cards = cardsG.selectAll<SVGGElement, SlotInfo>('g.map-card');
    cards.select('.slot-box').style('stroke-width', null);
    const onRoute = new Set(r && r.path === 'fast' ? r.slots : []);
    const accepted = new Set(r ? r.targets.filter((t) => t.accepted).map((t) => t.vcpu) : []);
    const dropped = new Set(r ? r.targets.filter((t) => !t.accepted).map((t) => t.vcpu) : []);
    const fast = r?.path === 'fast';
    cards
      .classed('on-route', (d) => onRoute.has(d.id))
      .classed('route-source', (d) => r !== null && r.source !== null && (d.vcpu === r.source || (d.state !== 'conflict' && d.claims[0] === r.source)))
      .classed('route-target', (d) => (d.vcpu !== null && accepted.has(d.vcpu)) || (d.state === 'conflict' && d.claims.some((c) => accepted.has(c))))
      .classed('route-dropped', (d) => d.vcpu !== null && dropped.has(d.vcpu));
    svg.classed('path-slow', r !== null && !fast).classed('path-fast', fast);
    svg.attr('height', baseHeight);
    cards.select('.slot-link').attr('marker-end', (d) => (onRoute.has(d.id) ? 'url(#map-arrow-route)' : 'url(#map-arrow-plain)'));
    if (!r || !fast) return;

    // Source vCPU → each slot on the route.
    const srcSlot = r.source === null ? undefined : slotsNow.find((s) => s.vcpu === r.source || s.claims[0] === r.source);
    const from = srcSlot ? positions.get(srcSlot.id) : undefined;
    const paths: string[] = [];
    for (const id of r.slots) {
      const to = positions.get(id);
      if (!to) continue;
      const tx = to.x + geo.slotW / 2;
      if (!from) {
        // A device (MSI): a short stub into the top of the slot.
        paths.push(`M${tx - 10},${to.y - 6} L${tx},${to.y}`);
        continue;
      }
      // Bottom of the source's vCPU box → bottom of the slot box, dipping into the row gap.
      const sx = from.x + geo.vcpuX + geo.vcpuW / 2, sy = from.y + CARD_H;
      const ty = to.y + CARD_H;
      const dip = Math.max(sy, ty) + ROW_GAP - 1;
      paths.push(`M${sx},${sy} C${sx},${dip} ${tx},${dip} ${tx},${ty}`);
    }
    const sel = routeG
      .selectAll('path.route-path')
      .data(paths)
      .join('path')
      .attr('class', r.logicalCells ? 'route-path via-logical' : 'route-path')
      .attr('d', (d) => d)
      .attr('marker-end', 'url(#map-arrow-route)');
    // Routes may reach below the last row: grow the svg to fit.
    svg.attr('height', baseHeight + (paths.length ? ROW_GAP : 0));
    // Inline styles: they win over the stylesheet's stroke widths while the pulse runs.
    if (pulse && !reducedMotion()) {
      const boxes = cards.filter((d) => onRoute.has(d.id)).select<SVGRectElement>('.slot-box');
      pulseTimer = animate((t) => {
        sel.style('stroke-width', `${between(6, 2, t)}px`).style('opacity', between(0.25, 1, t));
        // The slot boxes go back to the stylesheet's width when the pulse ends.
        if (t < 1) boxes.style('stroke-width', `${between(5, 2, t)}px`);
        else boxes.style('stroke-width', null);
      });
    } else {
      sel.style('stroke-width', '2px').style('opacity', 1);
    }
  }

  return {
    update,
    highlight,
    route,
    destroy() {
      fadeTimer?.stop();
      pulseTimer?.stop();
      svg.selectAll('*').remove();
    },
  };
}
