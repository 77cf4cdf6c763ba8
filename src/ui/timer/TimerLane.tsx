/**
 * The timer lane of the register page: the selected vCPU's APIC timer (mode, counts, divide,
 * period, next expiry on the guest clock, a pending expiry) in plain words first and kernel names
 * second, with the controls that move guest time (advance by an amount or to the next expiry), run
 * the vCPU, raise its local interrupt sources and tick the NMI watchdog. Every control is one
 * apic-scenario/1 step through the store; every value is the core's (the snapshot's `timer`, the
 * store's nextTimerExpiryNs and guestTsc); every word comes from src/explain.
 */
import { useState } from 'react';
import { APIC_LVT_MASKED, APIC_LVTT } from '../../core/apicdef';
import type { Decision, EventDecision } from '../../core/decisions';
import { MIN_TIMER_PERIOD_NS } from '../../core/timer';
import { explain } from '../../explain/explain';
import { count, guestTime, timerWords as w } from '../../explain/panels';
import { field, type FinalVcpu } from '../../scenario/result';
import { LOCAL_SOURCES } from '../../scenario/schema';
import { labStore, useLab } from '../../store/labStore';
import { KvmSource } from '../KvmSource';
import { Expandable, Tip, WithTip } from '../Panel';
import { parseAdvance } from './advanceInput';
import './timer.css';

/** The quick amounts of guest time (ns). */
const QUICK_NS = [1_000, 100_000, 1_000_000];

/** The decisions of timer and local-source events, which the lane echoes for the step just taken. */
const LANE_EVENTS: ReadonlySet<EventDecision['code']> = new Set(['TIMER_EXPIRED', 'TIMER_INJECTED', 'LOCAL_DELIVERED', 'LOCAL_MASKED', 'LVTPC_SELF_MASKED', 'NMI_WATCHDOG_IDLE']);
const MAX_ECHO = 3;

/** One fact: plain label, the value, the kernel name (with its detail on hover / focus / tap). */
function Fact({ label, value, kernel, tip, testId }: { label: string; value: string; kernel?: string; tip: string; testId: string }) {
  return (
    <span className="tl-fact" data-testid={testId}>
      {kernel ? (
        <span className="muted">{label}</span>
      ) : (
        <Tip className="muted tl-label" tip={tip}>
          {label}
        </Tip>
      )}{' '}
      <b className="mono">{value}</b>
      {kernel && (
        <>
          {' '}
          <Tip className="mono tl-kernel" tip={tip}>
            {kernel}
          </Tip>
        </>
      )}
    </span>
  );
}

export function TimerLane({ vcpu, nrLvt }: { vcpu: FinalVcpu; nrLvt: number }) {
  const id = vcpu.vcpu;
  const t = vcpu.timer;
  const lvtt = useLab((s) => s.regs.get(id)?.[APIC_LVTT >> 2] ?? 0);
  const clockNs = useLab((s) => s.snapshot.clockNs);
  const nextAny = useLab((s) => s.nextTimerExpiryNs);
  const guestTsc = useLab((s) => s.guestTsc);
  const current = useLab((s) => s.log[s.cursor - 1]);
  const [open, setOpen] = useState(true);
  const [amount, setAmount] = useState('');
  const store = labStore.getState();

  const masked = (lvtt & APIC_LVT_MASKED) !== 0;
  const vector = lvtt & 0xff;
  const tsc = t.mode === 'tsc-deadline';
  const armed = t.nextExpiryNs !== null;
  const left = armed ? Math.max(0, t.nextExpiryNs! - clockNs) : 0;

  // What the step just taken did to timers and local sources, in words (its event decisions).
  const echo: Decision[] = (current ? (field(current.result, 'events') ?? []) : []).filter(
    (d) => LANE_EVENTS.has(d.code) && (d.vcpus.length === 0 || d.vcpus.includes(id)),
  );

  const customAdvance = () => {
    const r = parseAdvance(amount);
    if ('error' in r) labStore.setState({ error: r.error });
    else store.advance(r.ns);
  };

  return (
    <section className="timer-lane" aria-labelledby={`timer-lane-${id}`} data-testid="timer-lane">
      <div className="tl-head">
        <h3 id={`timer-lane-${id}`} className="tl-title">
          <button className="linkish" aria-expanded={open} onClick={() => setOpen(!open)}>
            <span aria-hidden="true">{open ? '▾' : '▸'}</span> {w.heading}
          </button>
        </h3>
        <Tip className="tl-mode" tip={w.modeHelp} testId="timer-mode">
          {w.modeName[t.mode]}
        </Tip>
        {masked && <span className="tl-badge">{w.maskedBadge}</span>}
        {/* Folded, the head still says whether an expiry waits. */}
        {!open && t.pending && (
          <span className="tl-badge tl-badge-pending" data-testid="timer-pending-badge">
            {w.pending}
          </span>
        )}
        {!open && (
          <Tip className="tl-clock mono" tip={w.clockHelp(clockNs)}>
            {w.clock(clockNs)}
          </Tip>
        )}
      </div>
      {open && (
        <>
          <Expandable className="tl-what" testId="timer-what">
            {w.what(t.mode, MIN_TIMER_PERIOD_NS)}
          </Expandable>
          <div className="tl-facts">
            {tsc ? (
              <Fact label={w.deadline} value={t.tscDeadline} kernel="MSR 0x6E0" tip={w.deadlineHelp(guestTsc)} testId="timer-deadline" />
            ) : (
              <>
                <Fact label={w.currentCount} value={count(t.tmcct)} kernel="TMCCT" tip={w.currentCountHelp} testId="timer-tmcct" />
                <Fact label={w.initialCount} value={count(t.tmict)} kernel="TMICT" tip={w.initialCountHelp} testId="timer-tmict" />
                <Fact label={w.divide} value={String(t.divide)} kernel="TDCR" tip={w.divideHelp} testId="timer-divide" />
                <Fact label={w.period} value={t.periodNs ? guestTime(t.periodNs) : w.none} tip={w.periodHelp(MIN_TIMER_PERIOD_NS)} testId="timer-period" />
              </>
            )}
            <Fact label={w.nextExpiry} value={armed ? w.nextExpiryAt(t.nextExpiryNs!, clockNs) : w.none} tip={w.nextExpiryHelp} testId="timer-next" />
            <Fact label={w.pending} value={t.pending ? w.yes : w.no} tip={w.pendingHelp} testId="timer-pending" />
            <Fact label={w.vector(vector)} value={w.vectorWhere(vcpu.irr.includes(vector), vcpu.isr.includes(vector))} kernel="LVTT" tip={w.vectorHelp} testId="timer-vector" />
          </div>
          {armed && !tsc && t.periodNs > 0 && (
            <meter className="tl-meter" min={0} max={t.periodNs} value={Math.min(left, t.periodNs)} aria-label={w.timeLeft} />
          )}
          <p className={`tl-state${t.pending ? ' tl-state-pending' : ''}`} data-testid="timer-state">
            {t.pending ? w.pendingNow(vector, id, masked) : [armed ? null : w.stopped(t.mode), masked ? w.masked : null].filter(Boolean).join('. ')}
          </p>
          <div className="tl-controls" role="group" aria-label={w.advanceLegend}>
            <Tip className="tl-clock-now" tip={w.clockHelp(clockNs)} testId="timer-clock">
              {w.clock(clockNs)}
            </Tip>
            {QUICK_NS.map((ns) => (
              <WithTip key={ns} tip={w.advanceByHelp(ns)}>
                <button className="mini" onClick={() => store.advance(ns)}>
                  {w.advanceBy(ns)}
                </button>
              </WithTip>
            ))}
            <form
              className="tl-custom"
              onSubmit={(e) => {
                e.preventDefault();
                customAdvance();
              }}
            >
              <WithTip tip={w.customHelp}>
                <input
                  className="mono"
                  aria-label={w.customLabel}
                  placeholder={w.customPlaceholder}
                  inputMode="numeric"
                  value={amount}
                  onChange={(e) => setAmount(e.target.value)}
                />
              </WithTip>
              <button className="mini" type="submit" disabled={amount.trim() === ''}>
                {w.customButton}
              </button>
            </form>
            <WithTip tip={w.toNextHelp(nextAny)}>
              <button className="mini" disabled={nextAny === null} onClick={() => store.advance('next-timer-expiry')}>
                {w.toNext}
              </button>
            </WithTip>
            <WithTip tip={w.runHelp(id)}>
              <button className="mini" onClick={() => store.runVcpu(id)}>
                {w.run(id)}
              </button>
            </WithTip>
          </div>
          <div className="tl-controls" role="group" aria-label={w.localLegend(id)}>
            <span className="muted">{w.localLegend(id)}:</span>
            {LOCAL_SOURCES.map((lvt) => {
              const absent = lvt === 'CMCI' && nrLvt < 7;
              return (
                <WithTip key={lvt} tip={absent ? w.noCmci : w.localHelp[lvt]}>
                  <button className="mini mono" disabled={absent} onClick={() => store.raiseLocal(id, lvt)}>
                    {lvt}
                  </button>
                </WithTip>
              );
            })}
            <WithTip tip={w.watchdogHelp}>
              <button className="mini" onClick={() => store.nmiWatchdog()}>
                {w.watchdog}
              </button>
            </WithTip>
          </div>
          {echo.length > 0 && (
            // One line (what the step did, in short words); opened in place: each decision with its KVM source.
            <div className="tl-echo" data-testid="timer-echo" aria-label={w.lastStep} role="group">
              <Expandable
                full={
                  <ul>
                    {echo.map((d, k) => (
                      <li key={k}>
                        {explain(d, 'long')} <KvmSource fn={d.kvm} />
                      </li>
                    ))}
                  </ul>
                }
              >
                {w.lastStepShort(echo.slice(0, MAX_ECHO).map((d) => explain(d, 'short')), echo.length - MAX_ECHO)}
              </Expandable>
            </div>
          )}
        </>
      )}
    </section>
  );
}
