/**
 * Canvas renderer of a big map: a grid of physical slots 0..size-1 coloured by state, for
 * hundreds to thousands of vCPUs. Two stacked canvases: the base grid (redrawn only when the map
 * changes) and an overlay for the hover, the selection and the IPI route (a few cells per
 * redraw, never O(slots) on hover). The mouse position maps to a slot in O(1).
 */
import type { Timer } from 'd3-timer';
import { SLOT_STATES, type RouteView, type SlotModel } from './mapView';
import { animate, reducedMotion } from './motion';

export interface DensityCallbacks {
  /** The slot under the pointer or keyboard cursor (null: left the grid). */
  onHover(slot: number | null): void;
  onSelect(slot: number): void;
}

export interface DensityGrid {
  /** Redraw the grid for `model` in `width` px; slots in `changed` fade in. */
  update(model: SlotModel, width: number, changed: ReadonlySet<number>, zoom?: number): void;
  /** Outline the hovered and selected slots (a few cells). */
  highlight(hovered: readonly number[], selected: readonly number[]): void;
  route(route: RouteView | null, sourceSlots: readonly number[], pulse: boolean): void;
  destroy(): void;
}

/** Grid geometry: columns and cell size for `size` slots in `width` px. */
export function gridLayout(size: number, width: number, zoom = 1): { cols: number; cell: number; left: number; rows: number } {
  const cols = size <= 128 ? 16 : size <= 1024 ? 32 : 64;
  const left = 34;
  const fit = Math.max(4, Math.min(18, Math.floor((width - left - 2) / cols)));
  const cell = zoom > 1 ? Math.max(fit * zoom, 8) : fit;
  return { cols, cell, left, rows: Math.ceil(size / cols) };
}

/** The slot under canvas point (x, y), or null: O(1). */
export function slotAt(x: number, y: number, size: number, layout: { cols: number; cell: number; left: number }): number | null {
  const col = Math.floor((x - layout.left) / layout.cell);
  const row = Math.floor(y / layout.cell);
  if (col < 0 || col >= layout.cols || row < 0) return null;
  const slot = row * layout.cols + col;
  return slot < size ? slot : null;
}

export function createDensityGrid(container: HTMLElement, cb: DensityCallbacks): DensityGrid {
  container.replaceChildren();
  const base = document.createElement('canvas');
  const overlay = document.createElement('canvas');
  base.className = 'density-base';
  overlay.className = 'density-overlay';
  overlay.tabIndex = 0;
  overlay.setAttribute('role', 'application');
  overlay.setAttribute('aria-roledescription', 'slot grid');
  overlay.dataset.testid = 'map-density-canvas';
  container.append(base, overlay);

  let model: SlotModel | null = null;
  let layout = gridLayout(1, 100);
  let cssW = 0, cssH = 0;
  let lastHover: number | null = null;
  let cursor = 0;
  let hovered: readonly number[] = [];
  let selected: readonly number[] = [];
  let routeNow: RouteView | null = null;
  let routeSources: readonly number[] = [];
  let fadeTimer: Timer | null = null;
  let pulseTimer: Timer | null = null;
  let pulseT = 1;

  const colours = () => {
    const cs = getComputedStyle(container);
    const v = (name: string, fallback: string) => cs.getPropertyValue(name).trim() || fallback;
    return {
      panel: v('--panel', '#fff'), line: v('--line', '#ddd'), muted: v('--muted', '#666'), fg: v('--fg', '#000'),
      xapic: v('--xapic', '#2f6fdb'), x2apic: v('--x2apic', '#7a3fd1'), fault: v('--fault', '#c62828'),
      alias: v('--map-alias', '#b26a00'), fast: v('--map-fast', '#2e7d32'), slow: v('--map-slow', '#b26a00'), accent: v('--accent', '#5b4bb7'),
    };
  };
  let col = colours();

  function sizeCanvas(c: HTMLCanvasElement, w: number, h: number) {
    const dpr = window.devicePixelRatio || 1;
    c.width = Math.round(w * dpr);
    c.height = Math.round(h * dpr);
    c.style.width = `${w}px`;
    c.style.height = `${h}px`;
    const ctx = c.getContext('2d')!;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    return ctx;
  }

  const cellX = (slot: number) => layout.left + (slot % layout.cols) * layout.cell;
  const cellY = (slot: number) => Math.floor(slot / layout.cols) * layout.cell;

  /** One cell's glyph: colour plus a shape, so the state reads without colour too. */
  function drawCell(ctx: CanvasRenderingContext2D, slot: number, alpha = 1) {
    const m = model!;
    const st = SLOT_STATES[m.states[slot]];
    const x = cellX(slot), y = cellY(slot), c = layout.cell, s = c - 1;
    ctx.fillStyle = col.panel;
    ctx.fillRect(x, y, c, c);
    ctx.globalAlpha = alpha;
    const inner = Math.max(1, Math.floor(c / 3));
    switch (st) {
      case 'empty':
        ctx.strokeStyle = col.line;
        ctx.lineWidth = 1;
        ctx.strokeRect(x + 0.5, y + 0.5, s - 1, s - 1);
        break;
      case 'xapic':
        ctx.fillStyle = col.xapic;
        ctx.fillRect(x, y, s, s);
        break;
      case 'x2apic':
        ctx.fillStyle = col.x2apic;
        ctx.fillRect(x, y, s, s);
        ctx.fillStyle = col.panel;
        ctx.fillRect(x + Math.floor((s - inner) / 2), y + Math.floor((s - inner) / 2), inner, inner);
        break;
      case 'alias':
        ctx.fillStyle = col.alias;
        ctx.fillRect(x, y, s, s);
        ctx.strokeStyle = col.panel;
        ctx.lineWidth = 1;
        ctx.beginPath();
        ctx.moveTo(x, y + s);
        ctx.lineTo(x + s, y);
        ctx.stroke();
        break;
      case 'conflict':
        ctx.fillStyle = col.fault;
        ctx.fillRect(x, y, s, s);
        ctx.strokeStyle = col.panel;
        ctx.lineWidth = 1;
        ctx.beginPath();
        ctx.moveTo(x + 1, y + 1);
        ctx.lineTo(x + s - 1, y + s - 1);
        ctx.moveTo(x + s - 1, y + 1);
        ctx.lineTo(x + 1, y + s - 1);
        ctx.stroke();
        break;
      case 'missing':
        ctx.strokeStyle = m.byId.get(slot)?.mode === 'x2apic' ? col.x2apic : col.xapic;
        ctx.lineWidth = 1.5;
        ctx.setLineDash([2, 1]);
        ctx.strokeRect(x + 1, y + 1, s - 2, s - 2);
        ctx.setLineDash([]);
        break;
    }
    ctx.globalAlpha = 1;
  }

  function drawBase(skip: ReadonlySet<number>) {
    const m = model!;
    const ctx = sizeCanvas(base, cssW, cssH);
    ctx.fillStyle = col.panel;
    ctx.fillRect(0, 0, cssW, cssH);
    for (let i = 0; i < m.size; i++) if (!skip.has(i)) drawCell(ctx, i);
    // Row labels: the first APIC ID of the row.
    const every = layout.cell >= 11 ? 1 : layout.cell >= 7 ? 2 : 4;
    ctx.fillStyle = col.muted;
    ctx.font = `${Math.min(11, Math.max(9, layout.cell - 1))}px ui-monospace, SFMono-Regular, Menlo, monospace`;
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    for (let r = 0; r < layout.rows; r += every) ctx.fillText(String(r * layout.cols), layout.left - 4, r * layout.cell + layout.cell / 2);
  }

  function outline(ctx: CanvasRenderingContext2D, slot: number, colour: string, width: number, grow = 0) {
    if (!model || slot < 0 || slot >= model.size) return;
    ctx.strokeStyle = colour;
    ctx.lineWidth = width;
    const g = grow + width / 2;
    ctx.strokeRect(cellX(slot) - g + 0.5, cellY(slot) - g + 0.5, layout.cell - 1 + 2 * g - 1, layout.cell - 1 + 2 * g - 1);
  }

  function drawOverlay() {
    const ctx = overlay.getContext('2d')!;
    const dpr = window.devicePixelRatio || 1;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, cssW, cssH);
    if (routeNow && routeNow.path === 'fast') {
      const grow = (1 - pulseT) * 4;
      ctx.globalAlpha = 0.35 + 0.65 * pulseT;
      for (const s of routeNow.slots) outline(ctx, s, col.fast, 2, grow);
      ctx.globalAlpha = 1;
      ctx.setLineDash([3, 2]);
      for (const s of routeSources) outline(ctx, s, col.accent, 2);
      ctx.setLineDash([]);
    }
    for (const s of selected) outline(ctx, s, col.accent, 2, 1);
    for (const s of hovered) outline(ctx, s, col.fg, 2);
    if (document.activeElement === overlay) outline(ctx, cursor, col.fg, 1, 2);
  }

  function pointerSlot(e: MouseEvent): number | null {
    if (!model) return null;
    const r = overlay.getBoundingClientRect();
    return slotAt(e.clientX - r.left, e.clientY - r.top, model.size, layout);
  }

  const onMove = (e: MouseEvent) => {
    const s = pointerSlot(e);
    if (s === lastHover) return;
    lastHover = s;
    cb.onHover(s);
  };
  const onLeave = () => {
    lastHover = null;
    cb.onHover(null);
  };
  const onClick = (e: MouseEvent) => {
    const s = pointerSlot(e);
    if (s !== null) {
      cursor = s;
      cb.onSelect(s);
    }
  };
  const onKey = (e: KeyboardEvent) => {
    if (!model) return;
    const step: Record<string, number> = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -layout.cols, ArrowDown: layout.cols, Home: -cursor, End: model.size - 1 - cursor };
    if (e.key in step) {
      e.preventDefault();
      cursor = Math.max(0, Math.min(model.size - 1, cursor + step[e.key]));
      lastHover = cursor;
      cb.onHover(cursor);
      drawOverlay();
    } else if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      cb.onSelect(cursor);
    }
  };
  const onFocus = () => {
    lastHover = cursor;
    cb.onHover(cursor);
    drawOverlay();
  };
  const onBlur = () => {
    lastHover = null;
    cb.onHover(null);
    drawOverlay();
  };
  overlay.addEventListener('mousemove', onMove);
  overlay.addEventListener('mouseleave', onLeave);
  overlay.addEventListener('click', onClick);
  overlay.addEventListener('keydown', onKey);
  overlay.addEventListener('focus', onFocus);
  overlay.addEventListener('blur', onBlur);

  return {
    update(m, width, changed, zoom = 1) {
      model = m;
      col = colours();
      layout = gridLayout(m.size, width, zoom);
      cssW = layout.left + layout.cols * layout.cell + 2;
      cssH = layout.rows * layout.cell + 2;
      cursor = Math.min(cursor, m.size - 1);
      overlay.setAttribute('aria-label', `Physical slots 0 to ${m.size - 1}, ${layout.cols} per row. Arrow keys move, Enter selects the vCPU in the slot.`);
      fadeTimer?.stop();
      const fade = changed.size > 0 && !reducedMotion();
      drawBase(fade ? changed : new Set());
      sizeCanvas(overlay, cssW, cssH);
      drawOverlay();
      if (fade) {
        const ctx = base.getContext('2d')!;
        fadeTimer = animate((t) => {
          for (const s of changed) drawCell(ctx, s, t);
        });
      }
    },
    highlight(h, s) {
      hovered = h;
      selected = s;
      drawOverlay();
    },
    route(r, sources, pulse) {
      routeNow = r;
      routeSources = sources;
      pulseTimer?.stop();
      if (pulse && r && r.path === 'fast' && !reducedMotion()) {
        pulseTimer = animate((t) => {
          pulseT = t;
          drawOverlay();
        });
      } else {
        pulseT = 1;
      }
      drawOverlay();
    },
    destroy() {
      fadeTimer?.stop();
      pulseTimer?.stop();
      overlay.removeEventListener('mousemove', onMove);
      overlay.removeEventListener('mouseleave', onLeave);
      overlay.removeEventListener('click', onClick);
      overlay.removeEventListener('keydown', onKey);
      overlay.removeEventListener('focus', onFocus);
      overlay.removeEventListener('blur', onBlur);
      container.replaceChildren();
    },
  };
}
