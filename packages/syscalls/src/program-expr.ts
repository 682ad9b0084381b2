import {
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_LOCKED,
  MAP_NORESERVE,
  MAP_PRIVATE,
  MAP_SHARED,
  PAGE_SIZE,
  PROT_EXEC,
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
} from '@mmsim/rmap';
import {
  E2BIG,
  EACCES,
  EAGAIN,
  EBUSY,
  ECHILD,
  EFAULT,
  EINVAL,
  EIO,
  ENODEV,
  ENOENT,
  ENOMEM,
  ENOSPC,
  ENOSYS,
  EOPNOTSUPP,
  EPERM,
  ESRCH,
  MmsimError,
  type RandomStream,
} from '@mmsim/runtime';
import { CAP_SETUID, CAP_SYS_ADMIN, CAP_SYS_NICE, CAP_SYS_PTRACE } from './creds.js';

/**
 * The value of an expression in a program written as data: a number, or a list of numbers
 * (an array argument such as move_pages' `pages`, or an out-parameter such as `status`).
 */
export type ProgramValue = number | readonly number[];

/**
 * The names every expression may use, with the values a C test gets from the headers:
 * `PAGE_SIZE`; `PROT_*` and `MAP_*` (include/uapi/asm-generic/mman-common.h, mman.h);
 * the memory-policy modes and flags of include/uapi/linux/mempolicy.h (Linux 6.12);
 * `CAP_*` (include/uapi/linux/capability.h); errno names (include/uapi/asm-generic/errno-base.h,
 * errno.h), so that `-ENOENT` reads as a C test writes it.
 */
export const PROGRAM_CONSTANTS: Readonly<Record<string, number>> = Object.freeze({
  PAGE_SIZE,
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
  PROT_EXEC,
  MAP_SHARED,
  MAP_PRIVATE,
  MAP_FIXED,
  MAP_ANONYMOUS,
  MAP_LOCKED,
  MAP_NORESERVE,
  MAP_HUGETLB: 0x40000,
  MPOL_DEFAULT: 0,
  MPOL_PREFERRED: 1,
  MPOL_BIND: 2,
  MPOL_INTERLEAVE: 3,
  MPOL_LOCAL: 4,
  MPOL_PREFERRED_MANY: 5,
  MPOL_WEIGHTED_INTERLEAVE: 6,
  MPOL_F_STATIC_NODES: 1 << 15,
  MPOL_F_RELATIVE_NODES: 1 << 14,
  MPOL_F_NUMA_BALANCING: 1 << 13,
  MPOL_F_NODE: 1 << 0,
  MPOL_F_ADDR: 1 << 1,
  MPOL_F_MEMS_ALLOWED: 1 << 2,
  MPOL_MF_STRICT: 1 << 0,
  MPOL_MF_MOVE: 1 << 1,
  MPOL_MF_MOVE_ALL: 1 << 2,
  MPOL_MF_LAZY: 1 << 3,
  CAP_SETUID,
  CAP_SYS_PTRACE,
  CAP_SYS_ADMIN,
  CAP_SYS_NICE,
  EPERM,
  ENOENT,
  ESRCH,
  EIO,
  E2BIG,
  ECHILD,
  EAGAIN,
  ENOMEM,
  EACCES,
  EFAULT,
  EBUSY,
  ENODEV,
  EINVAL,
  ENOSPC,
  ENOSYS,
  EOPNOTSUPP,
});

/** The functions an expression may call (see `docs/programs.md`). */
export const PROGRAM_FUNCTIONS = ['seq', 'fill', 'concat', 'len', 'random', 'mask'] as const;

/** The tree of a parsed expression. */
export type ProgramExprNode =
  | { readonly t: 'num'; readonly v: number }
  | { readonly t: 'name'; readonly name: string }
  | { readonly t: 'list'; readonly items: readonly ProgramExprNode[] }
  | { readonly t: 'call'; readonly fn: string; readonly args: readonly ProgramExprNode[] }
  | { readonly t: 'index'; readonly of: ProgramExprNode; readonly at: ProgramExprNode }
  | { readonly t: 'neg'; readonly of: ProgramExprNode }
  | {
      readonly t: 'bin';
      readonly op: string;
      readonly l: ProgramExprNode;
      readonly r: ProgramExprNode;
    };

/** A parsed expression: its text, the names it reads, and its tree. */
export interface ProgramExpr {
  readonly text: string;
  /** Names read (`buf`, or the `r` of `r.status`), constants and functions excluded. */
  readonly names: readonly string[];
  readonly node: ProgramExprNode;
}

const BINARY_LEVELS: readonly (readonly string[])[] = [
  ['|'],
  ['&'],
  ['<<', '>>'],
  ['+', '-'],
  ['*', '/', '%'],
];

/**
 * Parses an expression of a program written as data: integers (decimal or 0x hex), names
 * (results of earlier steps, loop counters, the constants of `PROGRAM_CONSTANTS`; `r.status`
 * names the out-parameter `status` of the step named `r`), `[a, b]` lists, `x[i]`
 * indexing (`x[list]` picks several elements), the functions of `PROGRAM_FUNCTIONS`, unary minus and `| & << >> + - * / %`
 * with C's precedence. A syntax error throws `MmsimError('INVALID_ARGUMENT')` naming the
 * position.
 */
export function parseProgramExpr(text: string): ProgramExpr {
  if (typeof text !== 'string') {
    throw new MmsimError('INVALID_ARGUMENT', `an expression must be a string, got ${String(text)}`);
  }
  const tokens = [...text.matchAll(/\s*(0x[0-9a-fA-F]+|\d+|[A-Za-z_][\w.]*|<<|>>|\S)/g)].map(
    (m) => m[1] as string,
  );
  let i = 0;
  const names = new Set<string>();
  const fail = (what: string): never => {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `"${text}" is not an expression: ${what}${i < tokens.length ? ` at "${tokens[i]}"` : ' at its end'}`,
    );
  };
  const peek = () => tokens[i];
  const take = (tok: string) => {
    if (tokens[i] !== tok) fail(`expected "${tok}"`);
    i++;
  };
  const level = (n: number): ProgramExprNode => {
    if (n === BINARY_LEVELS.length) return unary();
    let left = level(n + 1);
    const ops = BINARY_LEVELS[n] as readonly string[];
    while (i < tokens.length && ops.includes(peek() as string)) {
      const op = tokens[i++] as string;
      left = { t: 'bin', op, l: left, r: level(n + 1) };
    }
    return left;
  };
  const unary = (): ProgramExprNode => {
    if (peek() === '-') {
      i++;
      return { t: 'neg', of: unary() };
    }
    let node = primary();
    while (peek() === '[') {
      i++;
      const at = level(0);
      take(']');
      node = { t: 'index', of: node, at };
    }
    return node;
  };
  const primary = (): ProgramExprNode => {
    const tok = peek();
    if (tok === undefined) return fail('a value is missing');
    if (/^(0x[0-9a-fA-F]+|\d+)$/.test(tok)) {
      i++;
      return { t: 'num', v: Number(tok) };
    }
    if (tok === '(') {
      i++;
      const inner = level(0);
      take(')');
      return inner;
    }
    if (tok === '[') {
      i++;
      const items: ProgramExprNode[] = [];
      while (peek() !== ']') {
        items.push(level(0));
        if (peek() !== ']') take(',');
      }
      i++;
      return { t: 'list', items };
    }
    if (/^[A-Za-z_]/.test(tok)) {
      i++;
      if (peek() === '(') {
        if (!(PROGRAM_FUNCTIONS as readonly string[]).includes(tok)) {
          i--;
          fail(`unknown function (known: ${PROGRAM_FUNCTIONS.join(', ')})`);
        }
        i++;
        const args: ProgramExprNode[] = [];
        while (peek() !== ')') {
          args.push(level(0));
          if (peek() !== ')') take(',');
        }
        i++;
        return { t: 'call', fn: tok, args };
      }
      const root = tok.split('.')[0] as string;
      if (!(tok in PROGRAM_CONSTANTS)) names.add(root);
      return { t: 'name', name: tok };
    }
    return fail('unexpected token');
  };
  const node = level(0);
  if (i < tokens.length) fail('unexpected token');
  return { text, names: [...names], node };
}

/** What an expression is evaluated against: the thread's names and its random stream. */
export interface ProgramEnv {
  /** Values by name; an out-parameter is stored as `name.field`. */
  readonly vars: ReadonlyMap<string, ProgramValue>;
  /** The run's workload stream (`random(n)`). */
  readonly random: RandomStream;
}

function broadcast(
  op: string,
  a: ProgramValue,
  b: ProgramValue,
  f: (x: number, y: number) => number,
): ProgramValue {
  if (typeof a === 'number' && typeof b === 'number') return f(a, b);
  const n = typeof a === 'number' ? (b as readonly number[]).length : a.length;
  if (typeof a !== 'number' && typeof b !== 'number' && a.length !== b.length) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `"${op}" of lists of different lengths (${a.length} and ${b.length})`,
    );
  }
  const out: number[] = new Array(n);
  for (let k = 0; k < n; k++) {
    out[k] = f(
      typeof a === 'number' ? a : (a[k] as number),
      typeof b === 'number' ? b : (b[k] as number),
    );
  }
  return out;
}

const OPS: Readonly<Record<string, (x: number, y: number) => number>> = {
  '|': (x, y) => Number(BigInt(x) | BigInt(y)),
  '&': (x, y) => Number(BigInt(x) & BigInt(y)),
  '<<': (x, y) => x * 2 ** y,
  '>>': (x, y) => Math.floor(x / 2 ** y),
  '+': (x, y) => x + y,
  '-': (x, y) => x - y,
  '*': (x, y) => x * y,
  '/': (x, y) => {
    if (y === 0) throw new MmsimError('INVALID_ARGUMENT', 'division by zero');
    return Math.trunc(x / y);
  },
  '%': (x, y) => {
    if (y === 0) throw new MmsimError('INVALID_ARGUMENT', 'modulo by zero');
    return x % y;
  },
};

function scalar(v: ProgramValue, what: string): number {
  if (typeof v !== 'number') throw new MmsimError('INVALID_ARGUMENT', `${what} must be a number`);
  return v;
}

function evalNode(node: ProgramExprNode, env: ProgramEnv): ProgramValue {
  switch (node.t) {
    case 'num':
      return node.v;
    case 'name': {
      const v = env.vars.get(node.name) ?? PROGRAM_CONSTANTS[node.name];
      if (v === undefined) {
        throw new MmsimError('INVALID_ARGUMENT', `"${node.name}" names nothing defined here`);
      }
      return v;
    }
    case 'neg':
      return broadcast('-', 0, evalNode(node.of, env), (x, y) => x - y);
    case 'bin':
      return broadcast(
        node.op,
        evalNode(node.l, env),
        evalNode(node.r, env),
        OPS[node.op] as (x: number, y: number) => number,
      );
    case 'index': {
      // x[i] is one element; x[list] the elements at those indexes, in that order
      const list = evalNode(node.of, env);
      const at = evalNode(node.at, env);
      const one = (i: number) => {
        if (typeof list === 'number' || !Number.isInteger(i) || i < 0 || i >= list.length) {
          throw new MmsimError('INVALID_ARGUMENT', `index ${i} is outside the list`);
        }
        return list[i] as number;
      };
      return typeof at === 'number' ? one(at) : at.map(one);
    }
    case 'list':
      return node.items.map((it) => scalar(evalNode(it, env), 'a list item'));
    case 'call':
      return callFunction(
        node.fn,
        node.args.map((a) => evalNode(a, env)),
        env,
      );
  }
}

function callFunction(fn: string, args: readonly ProgramValue[], env: ProgramEnv): ProgramValue {
  const int = (k: number, what: string) => {
    const v = scalar(args[k] ?? Number.NaN, `${fn}'s ${what}`);
    if (!Number.isInteger(v)) {
      throw new MmsimError('INVALID_ARGUMENT', `${fn}'s ${what} must be an integer`);
    }
    return v;
  };
  switch (fn) {
    case 'seq': {
      // seq(n) = [0 .. n-1]; seq(a, b) = [a .. b-1]
      const [from, to] =
        args.length === 1 ? [0, int(0, 'count')] : [int(0, 'start'), int(1, 'end')];
      if (to - from > 1 << 22) throw new MmsimError('INVALID_ARGUMENT', 'seq: too long a list');
      const out: number[] = [];
      for (let v = from; v < to; v++) out.push(v);
      return out;
    }
    case 'fill': {
      // fill(n, v) = n copies of v
      const n = int(0, 'count');
      if (n < 0 || n > 1 << 22) throw new MmsimError('INVALID_ARGUMENT', 'fill: bad count');
      return new Array<number>(n).fill(int(1, 'value'));
    }
    case 'concat':
      return args.flatMap((a) => (typeof a === 'number' ? [a] : [...a]));
    case 'len': {
      const a = args[0];
      if (a === undefined || typeof a === 'number') {
        throw new MmsimError('INVALID_ARGUMENT', 'len takes a list');
      }
      return a.length;
    }
    case 'random': {
      // random(n): uniform in [0, n-1], from the run's workload stream
      const n = int(0, 'bound');
      if (n < 1) throw new MmsimError('INVALID_ARGUMENT', 'random: the bound must be >= 1');
      return env.random.int(0, n - 1);
    }
    case 'mask': {
      // mask(list) = the bitmask with those bits set (a nodemask word)
      const list = args.flatMap((a) => (typeof a === 'number' ? [a] : [...a]));
      return list.reduce((m, bit) => m + (Number.isInteger(bit) && bit >= 0 ? 2 ** bit : 0), 0);
    }
    default:
      throw new MmsimError('INVALID_ARGUMENT', `unknown function ${fn}`);
  }
}

/** Evaluates a parsed expression; a bad value (an unknown name, an index outside a list) throws INVALID_ARGUMENT. */
export function evalProgramExpr(expr: ProgramExpr, env: ProgramEnv): ProgramValue {
  try {
    return evalNode(expr.node, env);
  } catch (error) {
    if (error instanceof MmsimError) {
      throw new MmsimError('INVALID_ARGUMENT', `"${expr.text}": ${error.message}`);
    }
    throw error;
  }
}
