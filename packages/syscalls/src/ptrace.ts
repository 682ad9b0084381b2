import { CAP_SYS_PTRACE } from './creds.js';
import { type Process, SUID_DUMP_USER } from './process.js';

/** `PTRACE_MODE_READ` (include/linux/ptrace.h, 6.3). */
export const PTRACE_MODE_READ = 0x01;
/** `PTRACE_MODE_ATTACH`. */
export const PTRACE_MODE_ATTACH = 0x02;
/** `PTRACE_MODE_NOAUDIT`. */
export const PTRACE_MODE_NOAUDIT = 0x04;
/** `PTRACE_MODE_FSCREDS`: compare the caller's fsuid / fsgid. */
export const PTRACE_MODE_FSCREDS = 0x08;
/** `PTRACE_MODE_REALCREDS`: compare the caller's real uid / gid. */
export const PTRACE_MODE_REALCREDS = 0x10;
/** `PTRACE_MODE_READ_REALCREDS`: what move_pages(2) and migrate_pages(2) ask for. */
export const PTRACE_MODE_READ_REALCREDS = PTRACE_MODE_READ | PTRACE_MODE_REALCREDS;
/** `PTRACE_MODE_READ_FSCREDS`. */
export const PTRACE_MODE_READ_FSCREDS = PTRACE_MODE_READ | PTRACE_MODE_FSCREDS;

/**
 * `ptrace_may_access(task, mode)` (`__ptrace_may_access`, kernel/ptrace.c, 6.3): may
 * `caller` inspect `target`? The same thread group always may. Otherwise the caller's real
 * (REALCREDS) or filesystem (FSCREDS) uid must equal the target's real, effective and saved
 * uid, and its gid the target's three gids — or the caller has CAP_SYS_PTRACE. Then a target
 * whose mm is not dumpable (SUID_DUMP_USER) still needs CAP_SYS_PTRACE. Exactly one of
 * FSCREDS and REALCREDS must be given (the kernel warns and denies otherwise). No LSM (Yama)
 * is modelled, and every process is in the initial user namespace.
 */
export function ptraceMayAccess(caller: Process, target: Process, mode: number): boolean {
  const fs = (mode & PTRACE_MODE_FSCREDS) !== 0;
  if (fs === ((mode & PTRACE_MODE_REALCREDS) !== 0)) return false;
  if (caller === target) return true;
  const c = caller.cred;
  const t = target.cred;
  const uid = fs ? c.fsuid : c.uid;
  const gid = fs ? c.fsgid : c.gid;
  const hasCap = c.effective.has(CAP_SYS_PTRACE);
  const idsMatch =
    uid === t.euid &&
    uid === t.suid &&
    uid === t.uid &&
    gid === t.egid &&
    gid === t.sgid &&
    gid === t.gid;
  if (!idsMatch && !hasCap) return false;
  if (target.mm !== null && target.dumpable !== SUID_DUMP_USER && !hasCap) return false;
  return true;
}
