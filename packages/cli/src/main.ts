import { Command, CommanderError } from 'commander';
import { benchCommand } from './commands/bench.js';
import { campaignCommand } from './commands/campaign.js';
import { checkCommand } from './commands/check.js';
import { checkDriverCommand } from './commands/check-driver.js';
import { compareCommand } from './commands/compare.js';
import { exploreCommand } from './commands/explore.js';
import { mergeCommand } from './commands/merge.js';
import { replayCommand } from './commands/replay.js';
import { runCommand } from './commands/run.js';
import { scenariosCommand } from './commands/scenarios.js';
import { COSTS_HELP } from './costs-option.js';
import { EXIT_OK, EXIT_USAGE } from './exit-codes.js';
import type { CliIo } from './io.js';
import { REPORT_HELP } from './report-option.js';
import { scenarioFileJsonSchema } from './scenario-file.js';
import { UsageError } from './usage-error.js';
import { variantFileSchemaJson } from './variant-file.js';
import { cliVersion, DATA_SCENARIO_STRATEGY_HELP } from './version.js';

const VARIANTS_HELP =
  'v6.2, rfc-2022, v6.3-rc1, v6.3 (default of most scenarios), v6.10, v6.11, or a variant file (.json, .yaml) or module (.mjs, .js, .ts)';

/** What the asynchronous entry point (`mainAsync`) lends `main`. */
export interface MainHooks {
  /**
   * Takes over the exit code of a command that finishes later (an exploration on worker
   * threads). Without it, such commands run on this thread.
   */
  readonly defer?: (code: Promise<number>) => void;
}

/**
 * The `mmsim` command. Returns the exit code: 0 done and nothing found, 1 a finding,
 * 2 bad usage or input.
 */
export function main(argv: readonly string[], io: CliIo, hooks: MainHooks = {}): number {
  let code = EXIT_OK;
  const program = new Command('mmsim')
    .description(
      'An executable model of Linux page migration (migrate_pages() after the 2023 batch TLB ' +
        'flushing series): run the historic scenarios, explore their schedules for deadlocks, ' +
        'replay what was found.',
    )
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout(s), writeErr: (s) => io.stderr(s) })
    .showHelpAfterError('(run mmsim --help for usage)')
    .version(cliVersion(), '-V, --version', 'print the version of mmsim');

  program
    .command('scenarios')
    .description('list the built-in scenarios, one line each')
    .option('--json', 'machine-readable output')
    .action((opts: { json?: boolean }) => {
      code = scenariosCommand(io, opts);
    });

  program
    .command('run')
    .description(
      'run a scenario once and print what happened: moves, failures, IPIs, virtual time, vmstat, findings',
    )
    .argument('<scenario>', 'a built-in scenario name or a .json/.yaml scenario file')
    .option('--variant <name>', `migrate variant: ${VARIANTS_HELP}`)
    .option('--seed <n>', 'seed of every random stream')
    .option(
      '--strategy <name>',
      `schedule: in-order, lowest-clock, random, pct[:DEPTH]; default: the scenario's own (${DATA_SCENARIO_STRATEGY_HELP})`,
    )
    .option('--max-steps <n>', 'end the run (status step-limit) after this many scheduling points')
    .option(
      '--time-budget <seconds>',
      'stop the run after this much wall-clock time (status time-budget, exit 0)',
    )
    .option('--json', 'print {scenario, variant, seed, vmstat, tlb, virtualTimeNs, finding, ...}')
    .option('--trace <file.json>', 'write a Chrome / Perfetto trace')
    .option('--ftrace <file>', 'write ftrace text')
    .option('--vmstat <file>', 'write /proc/vmstat text at the end')
    .option('--report <file.html>', REPORT_HELP)
    .option(
      '--token-file <file>',
      'write the replay token to a file; the printed command reads it (long tokens go to a temporary file on a terminal anyway)',
    )
    .option(
      '--node-vmstat <dir>',
      "write each node's vmstat at the end as <dir>/node<N>/vmstat (/sys/devices/system/node layout)",
    )
    .option('--costs <name>', COSTS_HELP)
    .action((scenario: string, opts) => {
      code = runCommand(io, scenario, opts);
    });

  program
    .command('explore')
    .description(
      'explore schedules of a scenario; print the finding (shrunk, step by step) or that none was found',
    )
    .argument('<scenario>', 'a built-in scenario name or a .json/.yaml scenario file')
    .option('--variant <name>', `migrate variant: ${VARIANTS_HELP}`)
    .option(
      '--strategy <name>',
      'random (default), pct[:DEPTH], dfs[:PREEMPTION_BOUND] or dpor[:PREEMPTION_BOUND]',
    )
    .option(
      '--schedules <n>',
      'schedules to try (default 1000; 100000 for dfs and dpor, or no limit with --time-budget)',
    )
    .option('--max-steps <n>', 'a schedule longer than this many steps is a step-limit finding')
    .option(
      '--time-budget <seconds>',
      'stop exploring after this much wall-clock time and print what was done',
    )
    .option('--seed <n>', 'seed of the search (default 1)')
    .option(
      '--workers <n>',
      "worker threads for random and pct searches (default: the machine's cores; dfs runs on one); the result is the same for any number",
    )
    .option(
      '--shard <k/n>',
      'run shard K of N: the schedule indices i with i % N == K-1 (random and pct); combine the --json results with mmsim merge',
    )
    .option(
      '--disable <check>',
      'turn off an invariant or check by name (repeatable); --disable page-lock-inversion searches for the deadlock itself',
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .option('--json', 'print {scenario, variant, strategy, schedules, found, kind, replay, ...}')
    .option('--report <file.html>', REPORT_HELP)
    .option(
      '--token-file <file>',
      'write the replay token to a file; the printed command reads it (long tokens go to a temporary file on a terminal anyway)',
    )
    .option('--costs <name>', COSTS_HELP)
    .action((scenario: string, opts) => {
      code = exploreCommand(io, scenario, opts, hooks.defer);
    });

  program
    .command('merge')
    .description(
      'combine the --json results of mmsim explore --shard 1/N … N/N into the result of the whole search (lowest-index finding, totals, guarantees)',
    )
    .argument('<file...>', 'explore --json --shard K/N outputs, one per shard')
    .option('--json', 'print the merged result as explore --json prints one')
    .option(
      '--html <file>',
      'campaign reports: also write the merged campaign as one offline HTML page to this file',
    )
    .action((files: string[], opts: { json?: boolean; html?: string }) => {
      code = mergeCommand(io, files, opts);
    });

  program
    .command('campaign')
    .description(
      'explore every built-in scenario in its fixed variant under random, pct (and dpor:2 once explore has it) with fault injection on; one report of schedules, findings, invariant violations, lost writes and leaks per cell',
    )
    .option('--schedules <n>', 'schedules in all, split evenly over the cells (default 20000)')
    .option('--time-budget <seconds>', 'wall-clock time in all, split evenly over the cells')
    .option('--seed <n>', 'seed of every search (default 1)')
    .option('--workers <n>', "worker threads (default: the machine's cores)")
    .option(
      '--shard <k/n>',
      'run shard K of N of every cell (combine the reports per cell with mmsim merge)',
    )
    .option(
      '--scenario <name>',
      'only this built-in scenario (repeatable; default all)',
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .option(
      '--strategy <name>',
      'only this strategy (repeatable; default random, pct and dpor:2 where explore has it)',
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .option(
      '--fault-probability <p>',
      'how often each registered fault site fails (default 0.02; 0: no faults)',
    )
    .option(
      '--max-steps <n>',
      'step limit of every schedule (default: 4 times the steps of a calibration run of each scenario, 10000 to 100000)',
    )
    .option('--out <dir>', 'write campaign.json, campaign.md and campaign.html to this folder')
    .option('--json', 'print the report as JSON instead of markdown')
    .action((opts) => {
      code = campaignCommand(io, opts, hooks.defer);
    });

  program
    .command('check')
    .description(
      'explore every built-in scenario under random, pct and dfs in one variant; print a matrix of scenario x result, each finding with its replay command',
    )
    .requiredOption('--variant <name>', `migrate variant: ${VARIANTS_HELP}`)
    .option('--schedules <n>', 'schedules per strategy and scenario (default 20)')
    .option('--seed <n>', 'seed of every search (default 1)')
    .option('--time-budget <seconds>', 'stop exploring after this much wall-clock time in all')
    .option('--json', 'print {variant, schedules, strategies, findings, rows: [...]}')
    .option('--markdown <file>', 'also write a markdown summary (for a pull request) to a file')
    .option(
      '--scenario <file>',
      'a scenario file (.json, .yaml) that joins the matrix, with its recorded history if it has one (repeatable)',
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .action((opts) => {
      code = checkCommand(io, opts);
    });

  program
    .command('check-driver')
    .description(
      'run the driver conformance kit on a movable-page driver module (its default export made by defineDriver): every protocol check, each finding with its replay command',
    )
    .argument('<file>', 'a .ts (under pnpm mmsim / tsx), .mjs or .js module exporting the driver')
    .option('--thorough', 'explore 25 times more schedules (for CI nights)')
    .option('--json', 'print {driver, variant, verdict, checks, findings, plans, calls, ...}')
    .option('--seed <n>', 'seed of every search (default 1)')
    .option('--variant <name>', `migrate variant: ${VARIANTS_HELP}`)
    .option('--replay <token>', 'run the schedule of a finding again (the token a finding printed)')
    .action((file: string, opts) => {
      code = checkDriverCommand(io, file, opts);
    });

  program
    .command('replay')
    .description('reproduce a run from the replay token that explore printed')
    .argument('[token]', 'an mmsim1.… replay token (or give --token-file)')
    .option('--json', 'machine-readable output')
    .option('--token-file <file>', 'read the token from a file written by run or explore')
    .option('--trace <file.json>', 'write a Chrome / Perfetto trace of the replayed run')
    .option('--ftrace <file>', 'write ftrace text of the replayed run')
    .option('--scenario <file>', 'the scenario file the token came from (for file scenarios)')
    .option('--variant <file>', "the variant file or module a custom variant's token came from")
    .option('--report <file.html>', REPORT_HELP)
    .option(
      '--costs <name>',
      'the cost profile the token was recorded with (run and explore print it)',
    )
    .action(
      (
        token: string | undefined,
        opts: {
          costs?: string;
          json?: boolean;
          trace?: string;
          ftrace?: string;
          scenario?: string;
          report?: string;
          tokenFile?: string;
          variant?: string;
        },
      ) => {
        code = replayCommand(io, token, opts);
      },
    );

  program
    .command('compare')
    .description(
      'run a scenario once per variant and put them side by side: IPIs, flushes, pages migrated per virtual second, virtual time',
    )
    .argument('<scenario>', 'a built-in scenario name or a .json/.yaml scenario file')
    .option(
      '--variants <list>',
      'two or more variants, comma-separated, e.g. v6.2,v6.3 (names or variant files)',
    )
    .option(
      '--variant <name-or-file>',
      'a variant to compare, repeatable: a built-in name, a .json/.yaml variant file or a .ts/.mjs module',
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .option('--seed <n>', 'seed of every random stream')
    .option('--strategy <name>', 'schedule: in-order, lowest-clock, random, pct[:DEPTH]')
    .option('--json', 'print the rows as JSON')
    .option(
      '--report <file.html>',
      'write the comparison as charts in one self-contained HTML file',
    )
    .action((scenario: string, opts) => {
      code = compareCommand(io, scenario, opts);
    });

  program
    .command('bench')
    .description(
      'benchmark: the pmbench-migrate headline (IPIs and throughput, v6.3 against v6.2) and time to the first deadlock of each historic scenario',
    )
    .option(
      '--only <suite>',
      'pmbench, scenarios or calibration (repeatable; default all)',
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .option('--json', 'print the figures as JSON instead of a markdown table')
    .option('--markdown <file>', 'also write the markdown table to a file')
    .option('--costs <name>', `${COSTS_HELP}; applies to the pmbench suite's v6.3-over-v6.2 runs`)
    .action((opts: { only?: string[]; json?: boolean; markdown?: string; costs?: string }) => {
      code = benchCommand(io, opts);
    });

  program
    .command('schema')
    .description('print the JSON Schema of scenario files (with --variant: of variant files)')
    .option('--variant', 'print the JSON Schema of variant files instead')
    .action((opts: { variant?: boolean }) => {
      const schema = opts.variant === true ? variantFileSchemaJson() : scenarioFileJsonSchema();
      io.stdout(`${JSON.stringify(schema, null, 2)}\n`);
    });

  try {
    program.parse([...argv], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    }
    if (error instanceof UsageError) {
      io.stderr(`mmsim: ${error.message}\n`);
      return EXIT_USAGE;
    }
    throw error;
  }
  return code;
}
