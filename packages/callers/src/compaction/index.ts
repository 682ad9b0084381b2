export * from './actors.js';
export * from './compact-zone.js';
export * from './control.js';
export * from './free-scanner.js';
export * from './migrate-scanner.js';
export * from './tracepoints.js';
