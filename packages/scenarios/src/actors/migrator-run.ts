import type { KernelGen } from '@mmsim/runtime';

const ENDED: IteratorReturnResult<void> = { done: true, value: undefined };

/**
 * A migrator's task as the runtime steps it (`migrator` in migrator.ts): the body
 * generator (`migratorBody`), and the migrate core's generator while a `migrate_pages()`
 * or `putback_movable_pages()` call of the body sleeps, stepped here directly. With `yield*` every scheduling point inside the
 * migrate core resumed the body's frame first and suspended it again; here the body hands
 * the call's generator over (`handOver`) at the call's first scheduling point and is
 * resumed once, in the step the call returns in. The steps are the same: the body runs the
 * call's first part itself, the following `next()` calls step the call, and the one in
 * which it returns goes on with the body at once, as `yield*` would.
 */
export class MigratorRun implements KernelGen {
  body: KernelGen | null = null;
  /** The call the body handed over, stepped by `next()`; null while the body runs. */
  #inner: KernelGen<unknown> | null = null;
  /** What the handed-over call returned, read by the body when it goes on. */
  returned: unknown;

  /**
   * Hands over `gen`, a call of the body whose first `next()` (made by the body) did not
   * return: the body `yield`s at once after this, in place of the call's own scheduling
   * point, and finds the call's return value in `returned` when it is resumed.
   */
  handOver(gen: KernelGen<unknown>): void {
    this.#inner = gen;
  }

  next(): IteratorResult<void, void> {
    const inner = this.#inner;
    if (inner !== null) {
      const r = inner.next();
      if (r.done !== true) return r;
      this.#inner = null;
      this.returned = r.value;
    }
    return this.body?.next() ?? ENDED;
  }

  /** As `yield*`: a call in progress is returned first. */
  return(value?: undefined): IteratorResult<void, void> {
    const inner = this.#inner;
    this.#inner = null;
    inner?.return(undefined);
    return this.body?.return(value) ?? ENDED;
  }

  /** As `yield*`: a call in progress gets the error first, and what it throws goes on to the body. */
  throw(error: unknown): IteratorResult<void, void> {
    const body = this.body;
    if (body === null) throw error;
    const inner = this.#inner;
    if (inner === null) return body.throw(error);
    let r: IteratorResult<void, unknown>;
    try {
      r = inner.throw(error);
    } catch (thrown) {
      this.#inner = null;
      return body.throw(thrown);
    }
    if (r.done !== true) return r;
    this.#inner = null;
    this.returned = r.value;
    return body.next();
  }

  [Symbol.iterator](): this {
    return this;
  }
}
