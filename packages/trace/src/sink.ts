/**
 * Where a sink writes: a function that takes the next chunk of text. Sinks stream, so a
 * long run never sits whole in memory: pass `(s) => stream.write(s)` for a file.
 */
export type TextWriter = (chunk: string) => void;

/** A sink attached to a runtime; `close()` detaches it and writes any trailer. */
export interface TraceSink {
  close(): void;
}
