/**
 * Capabilities the model checks (include/uapi/linux/capability.h): the numbers are the
 * kernel's, so a test can name them as a C test does.
 */
export const CAP_SETUID = 7;
export const CAP_SYS_PTRACE = 19;
export const CAP_SYS_ADMIN = 21;
export const CAP_SYS_NICE = 23;
/** `CAP_LAST_CAP` as of Linux 6.3 (CAP_CHECKPOINT_RESTORE). */
export const CAP_LAST_CAP = 40;

/** Every capability, the set a root process starts with. */
function fullSet(): Set<number> {
  const caps = new Set<number>();
  for (let cap = 0; cap <= CAP_LAST_CAP; cap++) caps.add(cap);
  return caps;
}

/**
 * A task's credentials (`struct cred`, include/linux/cred.h, 6.3): real, effective, saved and
 * filesystem ids and the permitted and effective capability sets. User namespaces, the
 * inheritable and bounding sets and securebits are not modelled: every process is in the
 * initial namespace with SECURE_KEEP_CAPS clear.
 */
export class Cred {
  uid: number;
  euid: number;
  suid: number;
  fsuid: number;
  gid: number;
  egid: number;
  sgid: number;
  fsgid: number;
  readonly permitted: Set<number>;
  readonly effective: Set<number>;

  constructor(uid: number, gid: number, caps: Iterable<number>) {
    this.uid = this.euid = this.suid = this.fsuid = uid;
    this.gid = this.egid = this.sgid = this.fsgid = gid;
    this.permitted = new Set(caps);
    this.effective = new Set(caps);
  }

  /** A copy, as `prepare_creds` makes for fork (copy_creds). */
  clone(): Cred {
    const c = new Cred(this.uid, this.gid, this.permitted);
    c.euid = this.euid;
    c.suid = this.suid;
    c.fsuid = this.fsuid;
    c.egid = this.egid;
    c.sgid = this.sgid;
    c.fsgid = this.fsgid;
    c.effective.clear();
    for (const cap of this.effective) c.effective.add(cap);
    return c;
  }
}

/**
 * Credentials of a new process: uid 0 gets every capability (as a root shell has), any other
 * uid none, unless `caps` says which it has.
 */
export function makeCred(uid: number, gid: number, caps?: Iterable<number>): Cred {
  return new Cred(uid, gid, caps ?? (uid === 0 ? fullSet() : []));
}

/**
 * `cap_emulate_setxuid` (security/commoncap.c, 6.3): what a uid change does to the
 * capability sets when SECURE_KEEP_CAPS is clear. Leaving uid 0 in all of real, effective
 * and saved uid drops the permitted and effective sets; an effective uid going from 0 to
 * non-zero drops the effective set; coming back to euid 0 restores effective from permitted.
 */
export function capEmulateSetxuid(
  cred: Cred,
  old: { readonly uid: number; readonly euid: number; readonly suid: number },
): void {
  const wasRoot = old.uid === 0 || old.euid === 0 || old.suid === 0;
  const noneRoot = cred.uid !== 0 && cred.euid !== 0 && cred.suid !== 0;
  if (wasRoot && noneRoot) {
    cred.permitted.clear();
    cred.effective.clear();
  }
  if (old.euid === 0 && cred.euid !== 0) cred.effective.clear();
  if (old.euid !== 0 && cred.euid === 0) {
    for (const cap of cred.permitted) cred.effective.add(cap);
  }
}
