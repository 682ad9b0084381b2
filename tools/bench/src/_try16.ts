import { measureMachine } from './memory.js';
const r = measureMachine(Number(process.argv[2]), process.argv[3] === 'm');
const per: Record<string, string> = {};
for (const [k, v] of Object.entries(r.parts)) per[k] = (v / r.pages).toFixed(2);
console.log(JSON.stringify({ total: (r.total / r.pages).toFixed(2), per, peak: r.peak, seconds: r.seconds, migrated: r.migrated, rss: process.resourceUsage().maxRSS }));
