import { MmsimError } from './errors.js';
import { MAX_SEED } from './random.js';

const PREFIX = 'mmsim1';

/** A log's buffer before its first pair, and after `finish`. */
const NO_BUFFER = new Float64Array(0);

/**
 * The buffer of the last finished log, taken by the next log that needs one: an explorer
 * runs a schedule after another, and a schedule of a few thousand decisions grew an array
 * of its own one push at a time (some 40 bytes of garbage a step) to keep its pairs.
 */
let spareBuffer: Float64Array | null = null;

/**
 * The scheduling decisions of a run, kept run-length encoded as it goes: a decision is
 * the id of the task chosen where more than one could run. Runs of the same choice
 * (a task that keeps running) cost one pair, so a long run stays small.
 *
 * The pairs are kept in a buffer handed from one finished log to the next (doubled when
 * full; a Float64Array holds any count a step limit allows), and `finish` copies them out
 * into an array of their own: no array grown a push at a time while the run goes.
 */
export class DecisionLog {
  /** Flat pairs: task id, repeat count; `#used` of them so far. */
  #buffer: Float64Array = NO_BUFFER;
  #used = 0;
  #finished = false;
  #last = -1;
  #count = 0;
  #total = 0;

  record(taskId: number): void {
    if (this.#finished) {
      throw new MmsimError('INVALID_STATE', 'this decision log is finished');
    }
    this.#total++;
    if (taskId === this.#last) {
      this.#count++;
      return;
    }
    this.#flush();
    this.#last = taskId;
    this.#count = 1;
  }

  get length(): number {
    return this.#total;
  }

  /**
   * Ends the log: the pairs, the run in progress included, in an array of their own. Its
   * buffer goes to the next log; recording afterwards throws INVALID_STATE.
   */
  finish(): DecisionPairs {
    if (this.#finished) {
      throw new MmsimError('INVALID_STATE', 'this decision log is finished');
    }
    this.#flush();
    this.#finished = true;
    const buffer = this.#buffer;
    const pairs = copyPairs(buffer, this.#used);
    if (buffer !== NO_BUFFER && (spareBuffer === null || spareBuffer.length < buffer.length)) {
      spareBuffer = buffer;
    }
    this.#buffer = NO_BUFFER;
    this.#used = 0;
    return pairs;
  }

  #flush(): void {
    if (this.#count === 0) return;
    let buffer = this.#buffer;
    const n = this.#used;
    if (n + 2 > buffer.length) buffer = this.#grow();
    buffer[n] = this.#last;
    buffer[n + 1] = this.#count;
    this.#used = n + 2;
    this.#count = 0;
  }

  /** A buffer with room for more pairs: the spare one if it has, else twice the size. */
  #grow(): Float64Array {
    const old = this.#buffer;
    const spare = spareBuffer;
    let buffer: Float64Array;
    if (spare !== null && spare.length >= old.length + 2) {
      spareBuffer = null;
      buffer = spare;
    } else {
      buffer = new Float64Array(Math.max(256, old.length * 2));
    }
    // A log's first pair finds nothing to copy: no view made (a typed array object) for it.
    if (this.#used > 0) buffer.set(old.subarray(0, this.#used));
    this.#buffer = buffer;
    return buffer;
  }
}

/** A finished log's pairs (`DecisionLog.finish`): flat, task id then count. */
export type DecisionPairs = readonly number[] | Float64Array;

/**
 * Up to this many numbers (256 pairs) `copyPairs` copies into a plain array; more go to a
 * Float64Array. A typed array of more than 64 bytes gets a backing store outside the
 * collected heap, allocated, registered and later freed by the collector: some 1.7 us
 * even for a few pairs (an rfc-lock-order schedule has some 20: 1.2 % of its profile, more
 * than the rest of the log's work), where a plain array costs a few ns a number (0.1 us
 * for 40 numbers; 29 us for 8,000, against 14 us for a typed slice).
 */
const PLAIN_COPY_MAX = 512;

/** The first `used` numbers of `buffer`, in an array of their own (see `PLAIN_COPY_MAX`). */
function copyPairs(buffer: Float64Array, used: number): DecisionPairs {
  if (used > PLAIN_COPY_MAX) return buffer.slice(0, used);
  // Sized first, then filled: a push at a time is several times slower here.
  const pairs = new Array<number>(used);
  for (let i = 0; i < used; i++) pairs[i] = buffer[i] as number;
  return pairs;
}

export interface ReplayData {
  readonly seed: number;
  /** Free text that names what was run (scenario, variant), chosen by the caller. */
  readonly meta: string;
  /** Run-length pairs: task id, count. */
  readonly pairs: readonly number[];
}

/**
 * A replay token is a string: `mmsim1.<seed>.<meta>.<decisions>`, where meta and the
 * decisions are base64url, the decisions as LEB128 varint pairs (task id, run length).
 * It holds everything the runtime needs to choose the same task at every decision; the
 * rest of the run (workload and fault streams) follows from the seed.
 */
export function encodeReplayToken(data: ReplayData): string {
  const bytes: number[] = [];
  for (const value of data.pairs) writeVarint(bytes, value);
  const meta = Buffer.from(data.meta, 'utf8').toString('base64url');
  const body = Buffer.from(bytes).toString('base64url');
  return `${PREFIX}.${data.seed.toString(36)}.${meta}.${body}`;
}

export function decodeReplayToken(token: string): ReplayData {
  const parts = typeof token === 'string' ? token.split('.') : [];
  if (parts.length !== 4 || parts[0] !== PREFIX) {
    throw new MmsimError(
      'INVALID_REPLAY_TOKEN',
      `a replay token has the form ${PREFIX}.<seed>.<meta>.<decisions>; got ${JSON.stringify(token)}`,
    );
  }
  const [, seedText, metaText, body] = parts as [string, string, string, string];
  const seed = Number.parseInt(seedText, 36);
  if (!/^[0-9a-z]+$/.test(seedText) || !Number.isSafeInteger(seed) || seed > MAX_SEED) {
    throw new MmsimError('INVALID_REPLAY_TOKEN', `the token's seed ${seedText} is not valid`);
  }
  if (!/^[A-Za-z0-9_-]*$/.test(metaText) || !/^[A-Za-z0-9_-]*$/.test(body)) {
    throw new MmsimError('INVALID_REPLAY_TOKEN', 'the token contains characters outside base64url');
  }
  const pairs = readVarints(Buffer.from(body, 'base64url'));
  if (pairs.length % 2 !== 0 || pairs.some((v, i) => i % 2 === 1 && v === 0)) {
    throw new MmsimError('INVALID_REPLAY_TOKEN', 'the token has a truncated decision list');
  }
  return { seed, meta: Buffer.from(metaText, 'base64url').toString('utf8'), pairs };
}

function writeVarint(out: number[], value: number): void {
  let v = value;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
}

function readVarints(bytes: Uint8Array): number[] {
  const values: number[] = [];
  let value = 0;
  let scale = 1;
  let pending = false;
  for (const byte of bytes) {
    value += (byte & 0x7f) * scale;
    pending = true;
    if (byte & 0x80) {
      scale *= 0x80;
      if (scale > 2 ** 49) {
        throw new MmsimError('INVALID_REPLAY_TOKEN', 'the token has an oversized number');
      }
    } else {
      values.push(value);
      value = 0;
      scale = 1;
      pending = false;
    }
  }
  if (pending) throw new MmsimError('INVALID_REPLAY_TOKEN', 'the token ends inside a number');
  return values;
}
