/**
 * The name of hashed queue `i` of a wait table, `prefix[i]`: made once per index and kept in
 * `names`, a module-level table shared by every machine (a queue's name is a constant of the
 * table; each machine an explorer builds made its own strings before).
 */
export function queueName(names: string[], prefix: string, i: number): string {
  let name = names[i];
  if (name === undefined) {
    name = `${prefix}[${i}]`;
    names[i] = name;
  }
  return name;
}
