/**
 * What a trace proves about the state it ends in: the imported scenario's `expectFinal`, each
 * claim with the trace line that proves it, and the claims it had to drop.
 *
 * A claim is the last value the trace shows for a field (a register read or written, an
 * IA32_APIC_BASE access, an x2APIC access, an EOI that found ISR empty). Anything later in the
 * trace that may change the field without showing the new value drops the claim: a write that
 * was not imported, an INIT (KVM resets the registers when it processes it), the guest running
 * again (TPR and ISR change without a trace event while it runs), a line not understood, lost
 * events. Host ioctls KVM does not trace (KVM_SET_LAPIC, KVM_SET_MSRS of APICBASE) are the one
 * gap no trace can close; the importer says so in its notes.
 */

export interface FinalClaim {
  /** Where the replay's check reports it: `final.vcpus[i].field` or `final.caps.x2apicFormat`. */
  path: string;
  value: unknown;
  /** The trace line (1-based) that proves it. */
  line: number;
  why: string;
  vcpu?: number;
}

export interface FinalLeftOut {
  path: string;
  /** The line that had proved the value. */
  line: number;
  /** Why it no longer holds at the end of the trace. */
  why: string;
  vcpu?: number;
}

export interface FinalInput {
  /** The VM's vCPU ids, in the order of `final.vcpus`. */
  vcpus: readonly number[];
  /**
   * The imported steps in order: their defining line, the first line of the access (`at`: an x2APIC
   * write's kvm_apic line comes before its kvm_msr), the lines folded into them, and whether the
   * importer inferred them.
   */
  steps: readonly { line: number; at: number; also: readonly number[]; step: Record<string, unknown>; inferred?: boolean }[];
  /** Every parsed event line. */
  events: readonly { line: number; pid: number; comm: string; event: string; body: string }[];
  vcpuOfPid: ReadonlyMap<number, number>;
  /** Lines after which nothing claimed before holds (events lost, lines not understood). */
  breaks: readonly { line: number; why: string }[];
  /** The line proving KVM_X2APIC_API_USE_32BIT_IDS, if any. */
  capLine?: number;
  /** kvm_apic register names → offsets. */
  apicNames: Readonly<Record<string, number>>;
}

type Field = 'apicBase' | 'mode' | 'swEnabled' | 'tpr' | 'ldr' | 'dfr' | 'xapicId' | 'x2apicId' | 'isr';
/** What an INIT or an untraced change may reset: every field but the IA32_APIC_BASE ones. */
const REGS: readonly Field[] = ['swEnabled', 'tpr', 'ldr', 'dfr', 'xapicId', 'x2apicId', 'isr'];
const ALL: readonly Field[] = ['apicBase', 'mode', ...REGS];
/** Fields the guest can change while it runs without any trace event. */
const SILENT: readonly Field[] = ['tpr', 'isr'];

const APIC_ID = 0x20;
const APIC_TASKPRI = 0x80;
const APIC_EOI = 0xb0;
const APIC_LDR = 0xd0;
const APIC_DFR = 0xe0;
const APIC_SPIV = 0xf0;
/** Registers whose writes change a field this module claims (APIC_ID..SPIV); others (ICR, LVT, timer) do not. */
const FIELD_OF_REG: Readonly<Record<number, Field>> = { [APIC_ID]: 'xapicId', [APIC_TASKPRI]: 'tpr', [APIC_EOI]: 'isr', [APIC_LDR]: 'ldr', [APIC_DFR]: 'dfr', [APIC_SPIV]: 'swEnabled' };
/** Hyper-V synthetic APIC MSRs that write a register: HV_X64_MSR_EOI, HV_X64_MSR_TPR. */
const HV_FIELD: Readonly<Record<number, Field>> = { 0x40000070: 'isr', 0x40000072: 'tpr' };

const hex = (v: bigint) => '0x' + v.toString(16);

interface Claim {
  value: unknown;
  line: number;
  why: string;
}

/** Infer the final-state claims; see the module comment. */
export function inferFinal(input: FinalInput): { expectFinal?: Record<string, unknown>; final: FinalClaim[]; leftOut: FinalLeftOut[] } {
  const index = new Map(input.vcpus.map((v, i) => [v, i]));
  const claims = new Map<number, Map<Field, Claim>>(input.vcpus.map((v) => [v, new Map()]));
  const dropped = new Map<string, FinalLeftOut>();
  const pathOf = (vcpu: number, f: Field) => `final.vcpus[${index.get(vcpu)}].${f}`;

  const claim = (vcpu: number | undefined, f: Field, value: unknown, line: number, why: string): void => {
    const c = vcpu === undefined ? undefined : claims.get(vcpu);
    if (!c) return;
    c.set(f, { value, line, why });
    dropped.delete(pathOf(vcpu!, f));
  };
  const drop = (vcpu: number, fields: readonly Field[], why: string): void => {
    const c = claims.get(vcpu);
    if (!c) return;
    for (const f of fields) {
      const old = c.get(f);
      if (!old) continue;
      c.delete(f);
      dropped.set(pathOf(vcpu, f), { path: pathOf(vcpu, f), line: old.line, why, vcpu });
    }
  };
  const dropAll = (fields: readonly Field[], why: string) => input.vcpus.forEach((v) => drop(v, fields, why));

  /** A register access KVM performed (kvm_lapic_reg_read/write), in x2APIC format or not. */
  const access = (vcpu: number, reg: number, write: boolean, value: bigint | undefined, x2: boolean, line: number, how: string): void => {
    if (value === undefined) return;
    const v = hex(value);
    switch (reg) {
      case APIC_ID:
        if (write && !x2) claim(vcpu, 'xapicId', Number(value >> 24n), line, `${how} writes APIC_ID = ${v}: the xAPIC ID is bits 31:24`);
        else if (!write && x2) claim(vcpu, 'x2apicId', Number(value), line, `${how} reads the x2APIC ID = ${v}`);
        // A read of 0 is xAPIC ID 0 or x2APIC ID 0 (a host KVM_GET_MSRS looks like MMIO): only a
        // traced xAPIC mode tells.
        else if (!write && (value & 0xffffffn) === 0n && (value !== 0n || claims.get(vcpu)?.get('mode')?.value === 'xapic')) {
          claim(vcpu, 'xapicId', Number(value >> 24n), line, `${how} reads APIC_ID = ${v}: the xAPIC ID is bits 31:24`);
        }
        break;
      case APIC_TASKPRI:
        claim(vcpu, 'tpr', write ? hex(value & 0xffn) : v, line, `${how} ${write ? `writes TPR = ${v} (KVM keeps bits 7:0)` : `reads TPR = ${v}`}`);
        break;
      case APIC_EOI:
        if (write) drop(vcpu, ['isr'], `the EOI on line ${line} changes ISR`);
        break;
      case APIC_LDR:
        if (!write) claim(vcpu, 'ldr', v, line, `${how} reads LDR = ${v}`);
        else if (!x2) claim(vcpu, 'ldr', hex(value & 0xff000000n), line, `${how} writes LDR = ${v} (KVM keeps bits 31:24)`);
        break;
      case APIC_DFR:
        if (!write) claim(vcpu, 'dfr', v, line, `${how} reads DFR = ${v}`);
        else if (!x2) claim(vcpu, 'dfr', hex(value | 0x0fffffffn), line, `${how} writes DFR = ${v} (KVM sets bits 27:0)`);
        break;
      case APIC_SPIV:
        claim(vcpu, 'swEnabled', (value & 0x100n) !== 0n, line, `${how} ${write ? 'writes' : 'reads'} SPIV = ${v}: bit 8 (APIC software enable) is ${value & 0x100n ? 'set' : 'clear'}`);
        break;
    }
  };
  /** A write the replay does not have: whatever it may have changed is no longer known. */
  const unseenWrite = (vcpu: number | undefined, fields: readonly Field[], why: string) => (vcpu === undefined ? dropAll(fields, why) : drop(vcpu, fields, why));
  const regFields = (reg: number | undefined): readonly Field[] => (reg === undefined || reg & 0xf ? REGS : FIELD_OF_REG[reg] ? [FIELD_OF_REG[reg]] : []);

  /** The APIC register a step accesses (MMIO offset, or x2APIC MSR 0x800 + offset >> 4). */
  const regOf = (st: Record<string, unknown>): number | undefined => {
    if (st.offset !== undefined) return parseInt(String(st.offset), 16);
    const msr = parseInt(String(st.msr), 16);
    return msr >= 0x800 && msr <= 0x8ff ? (msr - 0x800) << 4 : undefined;
  };
  /** An ICR write, MSI or PV IPI whose delivery mode (bits 10:8) is INIT. */
  const acceptTraced = input.events.some((e) => e.event === 'kvm_apic_accept_irq');
  const sendsInit = (st: Record<string, unknown>): boolean => {
    const icr = st.op === 'msi' ? st.data : st.op === 'pv_send_ipi' ? st.icr : (st.op === 'mmio_write' && regOf(st) === 0x300) || (st.op === 'wrmsr' && regOf(st) === 0x300) ? st.value : undefined;
    return icr !== undefined && ((BigInt(String(icr)) >> 8n) & 7n) === 5n;
  };
  let capClaim: Claim | undefined;
  const fromStep = (s: FinalInput['steps'][number]): void => {
    const st = s.step;
    if (st.op === 'enable_cap') {
      if (input.capLine !== undefined) capClaim = { value: true, line: input.capLine, why: `line ${input.capLine} shows an MSI destination above 0xff, which KVM prints only with KVM_X2APIC_API_USE_32BIT_IDS; the flag never turns off` };
      return;
    }
    if (sendsInit(st) && !acceptTraced) {
      dropAll(REGS, `the INIT sent on line ${s.line}, in a trace without kvm_apic_accept_irq to show which vCPUs it reached: KVM resets SPIV, TPR, LDR, DFR and ISR when it processes an INIT (kvm_lapic_reset)`);
    }
    if (typeof st.vcpu !== 'number') return;
    const vcpu = st.vcpu;
    if (s.inferred) {
      // The importer's stand-ins: a KVM_SET_LAPIC of the vCPU's own image (a map rebuild) changes no
      // register; an inferred x2APIC enable is an IA32_APIC_BASE change the trace does not show.
      if (st.op !== 'set_lapic') drop(vcpu, ALL, `the x2APIC enable inferred at line ${s.line} (an IA32_APIC_BASE change the trace does not show)`);
      return;
    }
    if (st.op === 'ack') {
      drop(vcpu, ['isr'], `KVM injects an interrupt on line ${s.line}, moving it to ISR`);
      return;
    }
    if (st.op !== 'wrmsr' && st.op !== 'rdmsr' && st.op !== 'mmio_write' && st.op !== 'mmio_read') return;
    const exp = (st.expect ?? {}) as { ok?: boolean; value?: string };
    const write = st.op === 'wrmsr' || st.op === 'mmio_write';
    const value = write ? BigInt(String(st.value)) : exp.value !== undefined ? BigInt(exp.value) : undefined;
    const apicBase = st.msr !== undefined && parseInt(String(st.msr), 16) === 0x1b;
    if (exp.ok === false) {
      // A faulting write may have changed nothing or part of the state: what it touches is unknown.
      if (write) drop(vcpu, apicBase ? ALL : regFields(regOf(st)), `the faulting write on line ${s.line}`);
      return;
    }
    if (st.op === 'mmio_write' || st.op === 'mmio_read') {
      access(vcpu, regOf(st)!, write, value, false, s.line, `line ${s.line} (${write ? 'an APIC write' : 'an APIC read'})`);
      return;
    }
    const host = st.host === true ? 'host KVM_SET_MSRS/KVM_GET_MSRS' : 'guest';
    if (apicBase) {
      if (value === undefined) return;
      if (write) drop(vcpu, ALL, `IA32_APIC_BASE is written on line ${s.line}`);
      const mode = !(value & 0x800n) ? 'disabled' : value & 0x400n ? 'x2apic' : 'xapic';
      claim(vcpu, 'apicBase', hex(value), s.line, `${host} ${write ? 'WRMSR' : 'RDMSR'} IA32_APIC_BASE = ${hex(value)} on line ${s.line}`);
      claim(vcpu, 'mode', mode, s.line, `IA32_APIC_BASE = ${hex(value)} on line ${s.line}: EN ${value & 0x800n ? 'set' : 'clear'}, EXTD ${value & 0x400n ? 'set' : 'clear'}`);
      return;
    }
    // KVM performs an x2APIC MSR access only in x2APIC mode (else #GP, or the ioctl fails).
    const base = claims.get(vcpu)?.get('apicBase');
    if (base && !(BigInt(String(base.value)) & 0x400n)) drop(vcpu, ['apicBase'], `line ${s.line} is an x2APIC access, so IA32_APIC_BASE changed after line ${base.line} without a trace`);
    claim(vcpu, 'mode', 'x2apic', s.line, `line ${s.line} is a ${host} x2APIC MSR access, which KVM performs only in x2APIC mode`);
    access(vcpu, regOf(st)!, write, value, true, s.line, `line ${s.line} (${host} ${write ? 'WRMSR' : 'RDMSR'} ${String(st.msr)})`);
  };

  const stepLines = new Set<number>();
  for (const s of input.steps) {
    stepLines.add(s.line);
    for (const l of s.also) stepLines.add(l);
  }
  let sawEntry = false;
  const fromEvent = (e: FinalInput['events'][number]): void => {
    const owner = input.vcpuOfPid.get(e.pid);
    const thread = `thread ${e.comm}-${e.pid}${owner === undefined ? ', which no vCPU is tied to,' : ''}`;
    switch (e.event) {
      case 'kvm_entry': {
        sawEntry = true;
        const m = /^vcpu (\d+)/.exec(e.body);
        const vcpu = m ? Number(m[1]) : owner;
        const why = `the guest runs again on line ${e.line} (kvm_entry): while it runs, TPR (CR8 writes, the TPR shadow) and ISR (APICv) change without a trace event`;
        unseenWrite(vcpu, SILENT, why);
        return;
      }
      case 'kvm_eoi': {
        const m = /^apicid ([0-9a-fA-F]+) vector (-?\d+)$/.exec(e.body);
        if (!m) return;
        const vcpu = parseInt(m[1], 16);
        if (m[2] === '-1') claim(vcpu, 'isr', [], e.line, `kvm_eoi on line ${e.line} reports vector -1: KVM found no vector in ISR at this EOI`);
        else drop(vcpu, ['isr'], `the EOI of vector ${m[2]} on line ${e.line} (other vectors may remain in ISR)`);
        return;
      }
      case 'kvm_pv_eoi':
      case 'kvm_inj_virq':
        unseenWrite(owner, ['isr'], `${e.event} on line ${e.line} changes ISR`);
        return;
      case 'kvm_apic_accept_irq': {
        const m = /^apicid ([0-9a-fA-F]+) vec \d+ \(INIT\|/.exec(e.body);
        if (m) drop(parseInt(m[1], 16), REGS, `INIT arrives on line ${e.line}: KVM resets SPIV, TPR, LDR, DFR and ISR when it processes it (kvm_lapic_reset)`);
        return;
      }
      case 'kvm_apic': {
        const m = /^apic_write (APIC_\w+|0x[0-9a-fA-F]+) = /.exec(e.body);
        if (!m) return;
        const reg = m[1].startsWith('0x') ? parseInt(m[1], 16) : input.apicNames[m[1]];
        const fields = regFields(reg);
        if (fields.length) unseenWrite(owner, fields, `${thread} writes ${m[1]} on line ${e.line}, which the replay does not have`);
        return;
      }
      case 'kvm_msr': {
        const m = /^msr_write ([0-9a-fA-F]+) = 0x[0-9a-fA-F]+$/.exec(e.body); // a (#GP) write changed nothing
        if (!m) return;
        const msr = parseInt(m[1], 16);
        const fields = msr === 0x1b ? ALL : msr >= 0x800 && msr <= 0x8ff ? regFields((msr - 0x800) << 4) : HV_FIELD[msr] ? [HV_FIELD[msr]] : [];
        if (fields.length) unseenWrite(owner, fields, `${thread} writes MSR ${hex(BigInt(msr))} on line ${e.line}, which the replay does not have`);
        return;
      }
    }
  };

  // One timeline by line: imported steps, the other events, and the breaks.
  type Entry = { line: number; k: number; run: () => void };
  const timeline: Entry[] = [
    ...input.steps.map((s, i): Entry => ({ line: s.at, k: i, run: () => fromStep(s) })),
    ...input.events.filter((e) => !stepLines.has(e.line)).map((e): Entry => ({ line: e.line, k: 0, run: () => fromEvent(e) })),
    ...input.breaks.map((b): Entry => ({ line: b.line, k: 0, run: () => dropAll(ALL, `line ${b.line}: ${b.why}`) })),
  ];
  timeline.sort((a, b) => a.line - b.line || a.k - b.k);
  for (const e of timeline) e.run();
  if (!sawEntry) {
    dropAll(SILENT, 'the trace has no kvm_entry events, so it cannot show that the guest did not run after this line; while it runs, TPR (CR8 writes, the TPR shadow) and ISR (APICv) change without a trace event');
  }

  const final: FinalClaim[] = [];
  const vcpus = input.vcpus.map((v) => {
    const entry: Record<string, unknown> = { vcpu: v };
    for (const f of ALL) {
      const c = claims.get(v)!.get(f);
      if (!c) continue;
      entry[f] = c.value;
      final.push({ path: pathOf(v, f), value: c.value, line: c.line, why: c.why, vcpu: v });
    }
    return entry;
  });
  const expectFinal: Record<string, unknown> = {};
  if (final.length) expectFinal.vcpus = vcpus;
  if (capClaim) {
    expectFinal.caps = { x2apicFormat: true };
    final.push({ path: 'final.caps.x2apicFormat', ...capClaim });
  }
  return { expectFinal: final.length ? expectFinal : undefined, final, leftOut: [...dropped.values()] };
}
