import { createKernel } from '@mmsim/kernel';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '@mmsim/rmap';
import { EINVAL, MmsimError } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import {
  dataProgram,
  evalProgramExpr,
  formatExpectationFailure,
  type ProgramStep,
  parseProgramExpr,
  program,
  programLedger,
  programStepSchema,
  programStepsProblem,
  runProgram,
} from '../src/index.js';

const RW = PROT_READ | PROT_WRITE;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;
const TWO_NODES = { nodes: [{ pages: 512 }, { pages: 512 }] };

describe('programs written in TypeScript', () => {
  it('a failed vitest expect inside a thread body fails the test with its own message, not a crash report', () => {
    let thrown: unknown;
    try {
      runProgram(TWO_NODES, {
        processes: [
          {
            name: 'assert',
            threads: [
              function* (sys) {
                const buf = yield* sys.mmap(0, 4096, RW, ANON);
                yield* sys.write(buf, 7);
                expect(yield* sys.read(buf)).toBe(8);
              },
            ],
          },
        ],
      });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(Error);
    expect(thrown).not.toBeInstanceOf(MmsimError);
    expect((thrown as Error).message).toMatch(/expected 7 to be 8/);
  });

  it('threads and forked children of a program run, and runProgram returns the machine', () => {
    const seen: number[] = [];
    const run = runProgram(TWO_NODES, {
      processes: [
        {
          name: 'parent',
          threads: [
            function* (sys) {
              const buf = yield* sys.mmap(0, 8192, RW, ANON);
              yield* sys.write(buf, 1);
              const pid = yield* sys.fork(function* (child) {
                seen.push(yield* child.read(buf));
                return 5;
              }, 1);
              seen.push(yield* sys.waitpid(pid));
              return 0;
            },
            {
              cpu: 2,
              body: function* (sys) {
                seen.push(sys.getpid());
              },
            },
          ],
        },
      ],
    });
    expect(run.result.deadlock).toBeNull();
    const pid = run.program.processes[0]?.pid;
    expect(seen.sort()).toEqual([1, 5, pid].sort());
  });

  it('under exploration (mode record) an assertion ends only its thread and is recorded with its message', () => {
    const kernel = createKernel(TWO_NODES);
    const p = program(kernel, {
      processes: [
        {
          name: 'rec',
          threads: [
            function* () {
              expect(1).toBe(2);
            },
          ],
        },
      ],
    });
    p.ledger.mode = 'record';
    kernel.spawn(p.actor);
    const r = kernel.run();
    expect(r.status).toBe('completed');
    expect(p.processes[0]?.exitCode).toBe(1);
    expect(p.ledger.failures.map((f) => [f.field, f.message])).toEqual([
      ['assertion', 'expected 1 to be 2 // Object.is equality'],
    ]);
  });

  it('memory a process unmapped or left at exit is no lost write for the end check', () => {
    const run = runProgram(TWO_NODES, {
      processes: [
        {
          name: 'leaves',
          threads: [
            function* (sys) {
              const a = yield* sys.mmap(0, 2 * 4096, RW, ANON);
              yield* sys.write(a, 1);
              yield* sys.write(a + 4096, 2);
              expect(yield* sys.munmap(a, 4096)).toBe(0);
              const b = yield* sys.mmap(0, 4096, RW, ANON);
              yield* sys.write(b, 3);
            },
          ],
        },
      ],
    });
    expect(run.program.processes[0]?.hasExited).toBe(true);
    expect(run.kernel.shadow.verifyAll()).toEqual([]);
  });

  it('a kernel bug the model catches stays an MmsimError (misuse of the API too)', () => {
    expect(() =>
      runProgram(TWO_NODES, {
        processes: [
          {
            name: 'bad',
            threads: [
              function* (sys) {
                yield* sys.write('x' as unknown as number, 1);
              },
            ],
          },
        ],
      }),
    ).toThrow(MmsimError);
    expect(() => program(createKernel(TWO_NODES), { processes: [] })).toThrow(MmsimError);
    expect(() =>
      program(createKernel(TWO_NODES), {
        processes: [{ name: 'x', threads: [{ cpu: 9, body: function* () {} }] }],
      }),
    ).toThrow(/CPU 9/);
  });
});

describe('expressions of programs written as data', () => {
  const env = (vars: Record<string, number | number[]> = {}) => ({
    vars: new Map(Object.entries(vars)),
    random: createKernel(TWO_NODES).rt.random.workload,
  });

  it('follow C precedence, broadcast over lists and know the headers constants', () => {
    const ev = (t: string, v = {}) => evalProgramExpr(parseProgramExpr(t), env(v));
    expect(ev('buf + 2*PAGE_SIZE', { buf: 0x1000 })).toBe(0x3000);
    expect(ev('MPOL_MF_MOVE | MPOL_MF_STRICT')).toBe(3);
    expect(ev('buf + PAGE_SIZE*seq(3)', { buf: 0 })).toEqual([0, 4096, 8192]);
    expect(ev('seq(4) % 2')).toEqual([0, 1, 0, 1]);
    expect(ev('concat(seq(0, 2), seq(3, 5))')).toEqual([0, 1, 3, 4]);
    expect(ev('fill(2, -ENOENT)')).toEqual([-2, -2]);
    expect(ev('r.status[1]', { 'r.status': [0, 1] })).toBe(1);
    expect(ev('mask([0, 2])')).toBe(5);
    expect(ev('len(seq(7))')).toBe(7);
  });

  it('name what they read and reject bad syntax, unknown names and unknown functions', () => {
    expect(parseProgramExpr('buf + r.status[i] + PAGE_SIZE').names).toEqual(['buf', 'r', 'i']);
    expect(() => parseProgramExpr('buf +')).toThrow(/at its end/);
    expect(() => parseProgramExpr('nope(1)')).toThrow(/unknown function/);
    expect(() => evalProgramExpr(parseProgramExpr('ghost'), env())).toThrow(/names nothing/);
    expect(() => evalProgramExpr(parseProgramExpr('seq(2) + seq(3)'), env())).toThrow(
      /different lengths/,
    );
  });
});

describe('programs written as data', () => {
  const steps = (list: unknown[]) => list.map((s) => programStepSchema().parse(s)) as ProgramStep[];

  it('run their calls through the system-call table and record a failed expectation with expected and actual', () => {
    const kernel = createKernel(TWO_NODES);
    const p = dataProgram(kernel, {
      processes: [
        {
          name: 'data',
          threads: [
            {
              steps: steps([
                { call: 'mmap', args: { length: 8192 }, as: 'buf' },
                { write: 'buf + PAGE_SIZE*seq(2)', value: [5, 6] },
                { read: 'buf + PAGE_SIZE', expect: { value: 6 } },
                { read: 'buf', expect: { value: 9 } },
                {
                  call: 'munmap',
                  args: { addr: 'buf + 1', length: 4096 },
                  expect: { ret: -1, errno: 'EINVAL' },
                },
                {
                  call: 'munmap',
                  args: { addr: 'buf', length: 4096 },
                  expect: { ret: -1, errno: 'EINVAL' },
                },
                { call: 'getpid', expect: { ret: { min: 1 }, errno: { oneOf: [0, 'EIO'] } } },
                { call: 'getpid', expect: { ret: { oneOf: [2, 3] } } },
                { call: 'getpid', expect: { ret: { max: 0 } } },
                { call: 'getpid', as: 'me' },
                { check: '[me, me + 1, 7][[2, 0]]', expect: { value: '[7, me]' } },
                { check: 'me', expect: { value: 'me + 1' } },
              ]),
            },
          ],
        },
      ],
    });
    kernel.spawn(p.actor);
    kernel.run();
    const failures = p.ledger.failures;
    expect(failures.map((f) => [f.step, f.call, f.field, f.expected, f.actual])).toEqual([
      ['steps[3]', 'read', 'value', 9, 5],
      ['steps[5]', 'munmap', 'ret', -1, 0],
      ['steps[5]', 'munmap', 'errno', 'EINVAL', 0],
      ['steps[7]', 'getpid', 'ret', 'one of 2, 3', 1],
      ['steps[8]', 'getpid', 'ret', '<= 0', 1],
      ['steps[11]', 'check', 'value', 2, 1],
    ]);
    expect(failures[0]?.thread).toBe('processes[0].threads[0]');
    expect(formatExpectationFailure(failures[0]!)).toMatch(/expected: 9\n {2}actual: {3}5/);
    expect(EINVAL).toBe(22);
  });

  it('fork, wait, threads, join, loops and exit', () => {
    const kernel = createKernel(TWO_NODES);
    const p = dataProgram(kernel, {
      processes: [
        {
          name: 'ctl',
          threads: [
            {
              steps: steps([
                { call: 'mmap', args: { length: 4 * 4096 }, as: 'buf' },
                { repeat: 4, as: 'i', steps: [{ write: 'buf + i*PAGE_SIZE', value: 'i + 10' }] },
                {
                  fork: { cpu: 2, steps: [{ read: 'buf + 3*PAGE_SIZE', as: 'v' }, { exit: 'v' }] },
                  as: 'child',
                },
                { wait: 'child', expect: { ret: 13 } },
                { thread: { steps: [{ write: 'buf', value: 99 }] }, as: 't' },
                { join: 't' },
                { read: 'buf', expect: { value: 99 } },
                { exit: 3 },
                { write: 'buf', value: 1 },
              ]),
            },
          ],
        },
      ],
    });
    kernel.spawn(p.actor);
    const r = kernel.run();
    expect(r.deadlock).toBeNull();
    expect(p.ledger.failures).toEqual([]);
    expect(p.processes[0]?.exitCode).toBe(3);
    expect(programLedger(kernel)).toBe(p.ledger);
  });

  it('step schemas name the field of a bad step', () => {
    const issue = (v: unknown) => {
      const r = programStepSchema().safeParse(v);
      if (r.success) return 'ok';
      const i = r.error.issues[0]!;
      return `${i.path.join('.')}: ${i.message}`;
    };
    expect(issue({ call: 'mmap', args: { length: 'buf + 1' } })).toBe('ok');
    expect(issue({ call: 'mmap', args: { length: true } })).toBe(
      'args.length: must be a number or an expression',
    );
    expect(issue({ call: 'mmap', args: {} })).toBe('args.length: Required');
    expect(issue({ call: 'mmap', args: { length: 1, lenght: 1 } })).toMatch(
      /^args: Unrecognized key.*lenght/,
    );
    expect(issue({ call: 'nosuch' })).toMatch(/^call: must be a system call of the table/);
    expect(issue({ write: 1 })).toMatch(/^value: Required/);
    expect(issue({ write: 1, read: 2, value: 1 })).toMatch(/has write and read/);
    expect(issue(7)).toMatch(/must be a step/);
  });

  it('a name read before a step defines it is refused before the run, with its path', () => {
    expect(
      programStepsProblem([
        {
          steps: [
            { write: 'buf', value: 1 },
            { call: 'mmap', args: { length: 4096 }, as: 'buf' },
          ],
        },
      ]),
    ).toEqual([
      '[0].steps[0].write',
      expect.stringMatching(/reads buf, which no earlier step names/),
    ]);
    expect(
      programStepsProblem([
        {
          steps: [
            { call: 'mmap', args: { length: 4096 }, as: 'r' },
            { repeat: 2, as: 'i', steps: [{ write: 'r + i', value: 'i' }] },
            { fork: { steps: [{ read: 'r' }] } },
            { join: 'nobody' },
          ],
        },
      ]),
    ).toEqual(['[0].steps[3].join', expect.stringMatching(/names no earlier thread step/)]);
    expect(programStepsProblem([{ steps: [{ read: 'buf +' }] }])).toEqual([
      '[0].steps[0].read',
      expect.stringMatching(/not an expression/),
    ]);
  });
});
