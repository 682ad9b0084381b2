const { runScenario, splitLockDeadlock } = await import('./src/index.ts');
let first = -1, dl = 0, inv = 0; const steps: number[] = [];
for (let seed = 1; seed <= 200; seed++) {
  const run = runScenario(splitLockDeadlock(), { variant: 'v6.10', strategy: { kind: 'pct', depth: 3, steps: 200 }, seed } as never);
  if (run.result?.status === 'deadlock') { dl++; if (first < 0) first = seed; }
  else if (run.inversions.length > 0) inv++;
  steps.push(run.result?.steps ?? -1);
}
console.log('first', first, 'deadlocks', dl, 'inversions', inv, '/200', 'avg steps', steps.reduce((a,b)=>a+b,0)/steps.length);
