/**
 * A host thread for one vCPU, named like QEMU's (`CPU <id>/KVM`): every ioctl on the vCPU's fd is
 * made on it, as a VMM does, so that the kernel's KVM trace lines name that thread. Calls stay
 * synchronous for the caller: the main thread hands the call over in shared memory and waits
 * (Atomics.wait) until the thread has made it. Node only.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { errnoName } from './errno';
import type { Libc, SysResult } from './libc';

const IDLE = 0;
const REQUEST = 1;
const DONE = 2;
const OP_IOCTL_INT = 1;
const OP_IOCTL_PTR = 2;
const OP_CLOSE = 3;
const DATA_BYTES = 256 * 1024;

// The thread's code (plain JS, so that it runs the same from the sources, the bundled CLI and tests).
const WORKER_SOURCE = `
const { workerData } = require('worker_threads');
const koffi = require(workerData.koffiPath);
const lib = koffi.load('libc.so.6');
const ioctl = lib.func('int ioctl(int fd, unsigned long request, ...)');
const close = lib.func('int close(int fd)');
lib.func('int prctl(int option, ...)')(15, 'const char *', workerData.name); // PR_SET_NAME
const ctrl = new Int32Array(workerData.ctrl);
const data = new Uint8Array(workerData.data);
for (;;) {
  Atomics.wait(ctrl, 0, ${IDLE});
  if (Atomics.load(ctrl, 0) !== ${REQUEST}) continue;
  const [op, fd, request, arg, len] = [ctrl[1], ctrl[2], ctrl[3] >>> 0, ctrl[4], ctrl[5]];
  let ret;
  if (op === ${OP_IOCTL_INT}) ret = ioctl(fd, request, 'unsigned long', arg);
  else if (op === ${OP_CLOSE}) ret = close(fd);
  else {
    const buf = Buffer.from(data.subarray(0, len));
    ret = ioctl(fd, request, 'void *', buf);
    data.set(buf);
  }
  ctrl[7] = ret === -1 ? koffi.errno() : 0;
  ctrl[6] = ret;
  Atomics.store(ctrl, 0, ${DONE});
  Atomics.notify(ctrl, 0);
}
`;

/** A call that did not return in time: the vCPU is blocked in the kernel (e.g. KVM_RUN waiting). */
export class VcpuThreadTimeout extends Error {}

export class VcpuThread implements Libc {
  private readonly ctrl = new Int32Array(new SharedArrayBuffer(32));
  private readonly data = new Uint8Array(new SharedArrayBuffer(DATA_BYTES));
  private readonly worker: Worker;

  constructor(readonly name: string) {
    const koffiPath = createRequire(import.meta.url).resolve('koffi');
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { koffiPath, name, ctrl: this.ctrl.buffer, data: this.data.buffer },
      resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 4 },
    });
    this.worker.unref();
  }

  private call(op: number, fd: number, request: number, arg: number, buf: Uint8Array | null, timeoutMs: number): SysResult {
    if (buf && buf.byteLength > DATA_BYTES) throw new RangeError(`ioctl argument of ${buf.byteLength} bytes is too big for the vCPU thread`);
    const c = this.ctrl;
    c[1] = op;
    c[2] = fd;
    c[3] = request | 0;
    c[4] = arg;
    c[5] = buf?.byteLength ?? 0;
    if (buf) this.data.set(buf);
    Atomics.store(c, 0, REQUEST);
    Atomics.notify(c, 0);
    if (Atomics.wait(c, 0, REQUEST, timeoutMs) === 'timed-out' && Atomics.load(c, 0) === REQUEST) {
      throw new VcpuThreadTimeout(`${this.name}: the ioctl did not return within ${timeoutMs} ms`);
    }
    if (buf) buf.set(this.data.subarray(0, buf.byteLength));
    const ret = c[6];
    const errno = c[7];
    Atomics.store(c, 0, IDLE);
    return ret === -1 ? { ok: false, ret: -1, errno: errnoName(errno) } : { ok: true, ret };
  }

  open(): SysResult {
    throw new Error('a vCPU thread only makes vCPU ioctls');
  }
  close(fd: number): SysResult {
    const r = this.call(OP_CLOSE, fd, 0, 0, null, 10_000);
    void this.worker.terminate();
    return r;
  }
  ioctl(fd: number, request: number): SysResult {
    return this.call(OP_IOCTL_INT, fd, request, 0, null, 10_000);
  }
  ioctlInt(fd: number, request: number, arg: number): SysResult {
    return this.call(OP_IOCTL_INT, fd, request, arg, null, 10_000);
  }
  ioctlPtr(fd: number, request: number, buf: Uint8Array): SysResult {
    return this.call(OP_IOCTL_PTR, fd, request, 0, buf, 10_000);
  }
  /** An ioctl that may block (KVM_RUN): throws VcpuThreadTimeout after `timeoutMs`. */
  ioctlWithTimeout(fd: number, request: number, timeoutMs: number): SysResult {
    return this.call(OP_IOCTL_INT, fd, request, 0, null, timeoutMs);
  }
}
