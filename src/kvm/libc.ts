/**
 * The only file that touches koffi: loads libc's open/close/ioctl lazily, on first use,
 * so that importing any module of src/kvm never fails when the optional koffi package is
 * missing or cannot load its native part. Node-only.
 */

import { createRequire } from 'node:module';
import { errnoName, type Errno } from './errno';

/** The slice of koffi's API used here (declared locally so type-checking never needs koffi). */
interface KoffiFunction {
  (...args: unknown[]): unknown;
}
interface KoffiModule {
  load(path: string): { func(declaration: string): KoffiFunction };
  errno(): number;
}

/** Outcome of one libc call: `ret` is the C return value; `errno` is set when ret === -1. */
export type SysResult = { ok: true; ret: number } | { ok: false; ret: -1; errno: Errno };

export interface Libc {
  open(path: string, flags: number): SysResult;
  close(fd: number): SysResult;
  /**
   * ioctl(fd, request, 0) for _IO requests without an argument. The 0 is passed explicitly:
   * a variadic call without it leaves garbage in the third register, and e.g.
   * KVM_GET_API_VERSION fails with EINVAL when that "arg" is non-zero.
   */
  ioctl(fd: number, request: number): SysResult;
  /** ioctl(fd, request, (unsigned long)arg). */
  ioctlInt(fd: number, request: number, arg: number): SysResult;
  /** ioctl(fd, request, buf): the kernel reads and/or writes `buf` in place. */
  ioctlPtr(fd: number, request: number, buf: Uint8Array): SysResult;
}

/** Memory mapped into this process: its address (for KVM) and a view of its bytes. */
export interface Mapping {
  addr: bigint;
  bytes: Uint8Array;
  unmap(): void;
}

const PROT_READ_WRITE = 0x3;
const MAP_SHARED = 0x01;
const MAP_PRIVATE_ANONYMOUS = 0x22;
const MAP_NORESERVE = 0x4000;

/**
 * mmap(2): `fd` null for anonymous memory (guest RAM, never touched pages cost nothing), else a
 * shared mapping of the fd (a vCPU's kvm_run page). Throws on failure.
 */
export function mapMemory(length: number, fd: number | null = null): Mapping {
  const koffi = loadKoffi();
  if (koffi instanceof Error) throw koffi;
  const lib = koffi.load('libc.so.6') as unknown as KoffiLib;
  mmapFns ??= {
    mmap: lib.func('void *mmap(void *addr, size_t len, int prot, int flags, int fd, long off)'),
    munmap: lib.func('int munmap(void *addr, size_t len)'),
  };
  const flags = fd === null ? MAP_PRIVATE_ANONYMOUS | MAP_NORESERVE : MAP_SHARED;
  const ptr = mmapFns.mmap(null, length, PROT_READ_WRITE, flags, fd ?? -1, 0);
  const addr = BigInt((koffi as unknown as KoffiPointers).address(ptr));
  if (addr === 0xffffffffffffffffn) throw new Error(`mmap(${length}) failed: ${errnoName(koffi.errno())}`);
  const bytes = new Uint8Array((koffi as unknown as KoffiPointers).view(ptr, length));
  let mapped = true;
  return {
    addr,
    bytes,
    unmap: () => {
      if (mapped) mmapFns!.munmap(ptr, length);
      mapped = false;
    },
  };
}

interface KoffiLib {
  func(declaration: string): KoffiFunction;
}
interface KoffiPointers {
  address(ptr: unknown): bigint | number;
  view(ptr: unknown, len: number): ArrayBuffer;
}
let mmapFns: { mmap: KoffiFunction; munmap: KoffiFunction } | undefined;

export const O_RDWR = 0o2;
export const O_CLOEXEC = 0o2000000;

let koffiCache: KoffiModule | Error | undefined;

/** koffi, or the Error explaining why it could not be loaded (cached). */
export function loadKoffi(): KoffiModule | Error {
  if (koffiCache === undefined) {
    try {
      const require = createRequire(import.meta.url);
      koffiCache = require('koffi') as KoffiModule;
    } catch (e) {
      koffiCache = e instanceof Error ? e : new Error(String(e));
    }
  }
  return koffiCache;
}

let libcCache: Libc | undefined;

/** Binds libc through koffi; throws if koffi or libc.so.6 cannot be loaded. */
export function getLibc(): Libc {
  if (libcCache) return libcCache;
  const koffi = loadKoffi();
  if (koffi instanceof Error) throw koffi;
  const lib = koffi.load('libc.so.6');
  // open and ioctl are variadic in C; koffi's '...' passes extra arguments as (type, value) pairs.
  const cOpen = lib.func('int open(const char *path, int flags, ...)');
  const cClose = lib.func('int close(int fd)');
  const cIoctl = lib.func('int ioctl(int fd, unsigned long request, ...)');
  // koffi records errno right after each native call; read it before anything else runs.
  const wrap = (ret: unknown): SysResult => {
    const r = Number(ret);
    if (r === -1) return { ok: false, ret: -1, errno: errnoName(koffi.errno()) };
    return { ok: true, ret: r };
  };
  libcCache = {
    open: (path, flags) => wrap(cOpen(path, flags)),
    close: (fd) => wrap(cClose(fd)),
    ioctl: (fd, request) => wrap(cIoctl(fd, request, 'unsigned long', 0)),
    ioctlInt: (fd, request, arg) => wrap(cIoctl(fd, request, 'unsigned long', arg)),
    ioctlPtr: (fd, request, buf) => wrap(cIoctl(fd, request, 'void *', buf)),
  };
  return libcCache;
}
