import {
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_PRIVATE,
  MAP_SHARED,
  PROT_READ,
  PROT_WRITE,
} from '@mmsim/rmap';
import { ECHILD, EINVAL, EPERM, ESRCH, MmsimError } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import {
  CAP_SYS_NICE,
  CAP_SYS_PTRACE,
  MAP_FAILED,
  PR_GET_DUMPABLE,
  PR_SET_DUMPABLE,
  PTRACE_MODE_READ,
  PTRACE_MODE_READ_FSCREDS,
  PTRACE_MODE_READ_REALCREDS,
  ptraceMayAccess,
  SUID_DUMP_DISABLE,
  SUID_DUMP_USER,
  SYSCALLS,
} from '../src/index.js';
import { machine } from './support.js';

const RW = PROT_READ | PROT_WRITE;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;
const NOBODY = 65534;

describe('processes and credentials', () => {
  it('root starts with every capability, another uid with none', () => {
    const { user } = machine();
    const root = user.createProcess({ name: 'root' });
    const nobody = user.createProcess({ name: 'nobody', uid: NOBODY });
    expect(root.cred.effective.has(CAP_SYS_NICE)).toBe(true);
    expect(nobody.cred.effective.size).toBe(0);
    expect(root.pid).not.toBe(nobody.pid);
    expect(user.findTaskByVpid(nobody.pid)).toBe(nobody);
    expect(user.findTaskByVpid(9999)).toBeNull();
  });

  it('seteuid(nobody) drops the effective capabilities and the dumpable flag; seteuid(0) restores them', () => {
    const { kernel, user } = machine();
    const p = user.createProcess({ name: 't' });
    const seen: unknown[] = [];
    user.spawnThread(p, 0, function* (sys) {
      expect(sys.seteuid(NOBODY)).toBe(0);
      seen.push(sys.capable(CAP_SYS_NICE), sys.prctl(PR_GET_DUMPABLE), sys.getuid(), sys.geteuid());
      expect(sys.seteuid(0)).toBe(0); // the saved uid is still 0
      seen.push(sys.capable(CAP_SYS_NICE));
      yield;
    });
    kernel.run();
    expect(seen).toEqual([false, SUID_DUMP_DISABLE, 0, NOBODY, true]);
  });

  it('setuid(nobody) as root drops every capability for good; setuid(0) then fails with EPERM', () => {
    const { kernel, user } = machine();
    const p = user.createProcess({ name: 't' });
    const seen: unknown[] = [];
    user.spawnThread(p, 0, function* (sys) {
      expect(sys.setuid(NOBODY)).toBe(0);
      seen.push(sys.capable(CAP_SYS_NICE), sys.setuid(0), sys.errno, sys.seteuid(0), sys.errno);
      seen.push(sys.prctl(PR_SET_DUMPABLE, SUID_DUMP_USER), sys.prctl(PR_GET_DUMPABLE));
      seen.push(sys.prctl(PR_SET_DUMPABLE, 2), sys.errno);
      yield;
    });
    kernel.run();
    expect(seen).toEqual([false, -1, EPERM, -1, EPERM, 0, SUID_DUMP_USER, -1, EINVAL]);
  });

  it('ptrace read access: same ids and dumpable pass, another uid or a non-dumpable target needs CAP_SYS_PTRACE', () => {
    const { user } = machine();
    const a = user.createProcess({ name: 'a', uid: 1000 });
    const b = user.createProcess({ name: 'b', uid: 1000 });
    const c = user.createProcess({ name: 'c', uid: 1001 });
    const root = user.createProcess({ name: 'root' });
    const tracer = user.createProcess({ name: 'tracer', uid: 1001, caps: [CAP_SYS_PTRACE] });
    expect(ptraceMayAccess(a, b, PTRACE_MODE_READ_REALCREDS)).toBe(true);
    expect(ptraceMayAccess(c, a, PTRACE_MODE_READ_REALCREDS)).toBe(false);
    expect(ptraceMayAccess(a, root, PTRACE_MODE_READ_REALCREDS)).toBe(false);
    expect(ptraceMayAccess(root, a, PTRACE_MODE_READ_REALCREDS)).toBe(true);
    expect(ptraceMayAccess(tracer, a, PTRACE_MODE_READ_REALCREDS)).toBe(true);
    b.dumpable = SUID_DUMP_DISABLE;
    expect(ptraceMayAccess(a, b, PTRACE_MODE_READ_REALCREDS)).toBe(false);
    expect(ptraceMayAccess(root, b, PTRACE_MODE_READ_REALCREDS)).toBe(true);
    // exactly one of FSCREDS and REALCREDS
    expect(ptraceMayAccess(a, a, PTRACE_MODE_READ)).toBe(false);
    // FSCREDS compares the fs uid: a uid-1000 caller whose fsuid is 1001 reaches c
    a.cred.fsuid = 1001;
    a.cred.fsgid = 1001;
    expect(ptraceMayAccess(a, c, PTRACE_MODE_READ_FSCREDS)).toBe(true);
    expect(ptraceMayAccess(a, c, PTRACE_MODE_READ_REALCREDS)).toBe(false);
  });

  it('a kernel thread has no mm and passes the ptrace check', () => {
    const { user } = machine();
    const k = user.kernelThread('kworker');
    const p = user.createProcess({ name: 'p', uid: 1000 });
    expect(k.mm).toBeNull();
    expect(k.isKernelThread).toBe(true);
    expect(
      ptraceMayAccess(user.createProcess({ name: 'root' }), k, PTRACE_MODE_READ_REALCREDS),
    ).toBe(true);
    expect(ptraceMayAccess(p, k, PTRACE_MODE_READ_REALCREDS)).toBe(false);
  });
});

describe('memory, fork and wait', () => {
  it('mmap, write, fork: the child sees the parent value and its own write stays private', () => {
    const { kernel, user } = machine();
    const p = user.createProcess({ name: 'fork' });
    const seen: number[] = [];
    user.spawnThread(p, 0, function* (sys) {
      const buf = yield* sys.mmap(0, 2 * 4096, RW, ANON);
      expect(buf).toBeGreaterThan(0);
      yield* sys.write(buf, 7);
      const pid = yield* sys.fork(function* (child) {
        seen.push(yield* child.read(buf));
        yield* child.write(buf, 8);
        seen.push(yield* child.read(buf));
        return 3;
      }, 2);
      const status = yield* sys.waitpid(pid);
      seen.push(status, yield* sys.read(buf));
      seen.push(yield* sys.waitpid(pid), sys.errno);
      seen.push(sys.killCheck(pid), sys.errno);
    });
    const result = kernel.run();
    expect(result.deadlock).toBeNull();
    expect(seen).toEqual([7, 8, 3, 7, -1, ECHILD, -1, ESRCH]);
  });

  it('a shared anonymous mapping is shared with the child', () => {
    const { kernel, user } = machine();
    const p = user.createProcess({ name: 'shm' });
    const seen: number[] = [];
    user.spawnThread(p, 0, function* (sys) {
      const buf = yield* sys.mmap(0, 4096, RW, MAP_SHARED | MAP_ANONYMOUS);
      yield* sys.write(buf, 1);
      const pid = yield* sys.fork(function* (child) {
        yield* child.write(buf, 2);
      });
      yield* sys.waitpid(pid);
      seen.push(yield* sys.read(buf));
    });
    kernel.run();
    expect(seen).toEqual([2]);
  });

  it('mmap errors are errno values and leave the address space unchanged', () => {
    const { kernel, user } = machine();
    const p = user.createProcess({ name: 'bad' });
    const seen: number[] = [];
    user.spawnThread(p, 0, function* (sys) {
      seen.push(yield* sys.mmap(0, 0, RW, ANON), sys.errno);
      seen.push(yield* sys.mmap(0x1001, 4096, RW, ANON | MAP_FIXED), sys.errno);
      seen.push(yield* sys.mmap(0, 4096, RW, MAP_ANONYMOUS), sys.errno); // neither shared nor private
      seen.push(yield* sys.munmap(0x1001, 4096), sys.errno);
    });
    kernel.run();
    expect(seen).toEqual([MAP_FAILED, EINVAL, MAP_FAILED, EINVAL, MAP_FAILED, EINVAL, -1, EINVAL]);
    expect(p.mm?.vmas.length).toBe(0);
  });

  it('checkpoints order two processes the way LTP tests do', () => {
    const { kernel, user } = machine();
    const p = user.createProcess({ name: 'cp' });
    const order: string[] = [];
    user.spawnThread(p, 0, function* (sys) {
      const pid = yield* sys.fork(function* (child) {
        yield* child.checkpointWait(0);
        order.push('child');
        child.checkpointWake(1);
      }, 2);
      for (let i = 0; i < 5; i++) yield;
      order.push('parent');
      sys.checkpointWake(0);
      yield* sys.checkpointWait(1);
      order.push('parent again');
      yield* sys.waitpid(pid);
    });
    kernel.run();
    expect(order).toEqual(['parent', 'child', 'parent again']);
  });

  it('the process exits when its last thread ends, tearing its address space down', () => {
    const { kernel, user } = machine();
    const p = user.createProcess({ name: 'threads' });
    user.spawnThread(p, 0, function* (sys) {
      const buf = yield* sys.mmap(0, 4096, RW, ANON);
      sys.spawnThread(function* (t) {
        yield* t.write(buf, 5);
      }, 1);
      return 4;
    });
    kernel.run();
    expect(p.exitCode).toBe(4);
    expect(p.mm?.alive).toBe(false);
  });

  it('misuse of the TypeScript API is an MmsimError', () => {
    const { kernel, user } = machine();
    const p = user.createProcess({ name: 'misuse' });
    expect(() => user.createProcess({ name: 'x', uid: -1 })).toThrow(MmsimError);
    expect(() => user.createCpuset('c', { mems: [5] })).toThrow(/not in the parent/);
    expect(() => user.checkpoint(-1)).toThrow(MmsimError);
    user.spawnThread(p, 0, function* (sys) {
      yield* sys.write('0x1000' as unknown as number, 1);
    });
    expect(() => kernel.run()).toThrow(/write addr must be a finite number/);
  });
});

describe('the system-call table', () => {
  it('validates arguments by name and runs the call', () => {
    const { kernel, user } = machine();
    const p = user.createProcess({ name: 'table' });
    const mmap = SYSCALLS.mmap;
    expect(mmap).toBeDefined();
    expect(mmap?.args.safeParse({ length: 'x' }).success).toBe(false);
    expect(mmap?.args.safeParse({ length: 4096, bogus: 1 }).success).toBe(false);
    const out: number[] = [];
    user.spawnThread(p, 0, function* (sys) {
      const args = mmap?.args.parse({ length: 4096 });
      const r = yield* (mmap as NonNullable<typeof mmap>).run(sys, args);
      out.push(r.ret);
      const un = SYSCALLS.munmap as NonNullable<typeof mmap>;
      out.push(
        (yield* un.run(sys, un.args.parse({ addr: r.ret + 1, length: 4096 }))).ret,
        sys.errno,
      );
    });
    kernel.run();
    expect(out[0]).toBeGreaterThan(0);
    expect(out.slice(1)).toEqual([-1, EINVAL]);
  });
});
