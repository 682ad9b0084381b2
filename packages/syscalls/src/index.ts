/**
 * @mmsim/syscalls: the user-space side of an mmsim machine. Processes with pids, credentials
 * and cpusets (`createUserland`), threads that make system calls the way a C program does
 * through a `Sys` (-1 and `errno` on failure; loads and stores that fault), and the table of
 * system calls that programs written as data use.
 */
export * from './cpuset.js';
export * from './cpuset-memory.js';
export * from './creds.js';
export * from './do-pages-move.js';
export * from './mempolicy-calls.js';
export * from './mempolicy-constants.js';
export * from './mempolicy-syscalls.js';
export * from './migrate-pages.js';
export * from './mman-constants.js';
export * from './move-pages.js';
export * from './nodemask-arg.js';
export * from './numa-maps.js';
export * from './process.js';
export * from './program.js';
export * from './program-expr.js';
export * from './program-steps.js';
export * from './ptrace.js';
export * from './sys.js';
export * from './syscall-table.js';
export * from './user-pointer.js';
export * from './userland.js';
