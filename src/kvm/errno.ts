/**
 * Linux (x86-64 / asm-generic) errno numbers and their names. Pure code: no FFI.
 * An errno is carried through this layer as its name, e.g. 'EINVAL'.
 */

/** An errno name such as 'EINVAL'; unknown numbers come out as 'E#<n>'. */
export type Errno = `E${string}`;

const NAMES: Readonly<Record<number, Errno>> = {
  1: 'EPERM', 2: 'ENOENT', 3: 'ESRCH', 4: 'EINTR', 5: 'EIO', 6: 'ENXIO', 7: 'E2BIG', 8: 'ENOEXEC',
  9: 'EBADF', 10: 'ECHILD', 11: 'EAGAIN', 12: 'ENOMEM', 13: 'EACCES', 14: 'EFAULT', 15: 'ENOTBLK',
  16: 'EBUSY', 17: 'EEXIST', 18: 'EXDEV', 19: 'ENODEV', 20: 'ENOTDIR', 21: 'EISDIR', 22: 'EINVAL',
  23: 'ENFILE', 24: 'EMFILE', 25: 'ENOTTY', 26: 'ETXTBSY', 27: 'EFBIG', 28: 'ENOSPC', 29: 'ESPIPE',
  30: 'EROFS', 31: 'EMLINK', 32: 'EPIPE', 33: 'EDOM', 34: 'ERANGE', 35: 'EDEADLK', 36: 'ENAMETOOLONG',
  37: 'ENOLCK', 38: 'ENOSYS', 39: 'ENOTEMPTY', 40: 'ELOOP', 61: 'ENODATA', 75: 'EOVERFLOW',
  95: 'EOPNOTSUPP', 105: 'ENOBUFS', 110: 'ETIMEDOUT', 125: 'ECANCELED',
  // kernel-internal codes that occasionally leak out of ioctls
  512: 'ERESTARTSYS', 524: 'ENOTSUPP',
};

export function errnoName(n: number): Errno {
  return NAMES[n] ?? `E#${n}`;
}

export function errnoNumber(name: Errno): number | undefined {
  for (const [k, v] of Object.entries(NAMES)) if (v === name) return Number(k);
  return undefined;
}

export function isErrno(x: unknown): x is Errno {
  return typeof x === 'string' && x.startsWith('E');
}
