/**
 * @mmsim/report: a finding people can look at. `renderReport(data)` makes one
 * self-contained HTML file (the wait-for cycle laid out by elkjs, the schedule as per-CPU
 * lanes with clickable steps, Chart.js charts); the helpers build its data from what the
 * runtime and the explorer record.
 */

export type { CampaignPageCell, CampaignPageData } from './campaign-data.js';
export { cycleGraph } from './cycle-graph.js';
export {
  campaignCellName,
  campaignGuarantees,
  renderCampaignReport,
} from './render-campaign.js';
export { renderReport } from './render-report.js';
export type {
  CompareRow,
  CycleEdge,
  CycleGraph,
  CycleTask,
  ReportData,
  ReportEvent,
  ReportStep,
  ReportSummary,
  RunMetrics,
  RunSeries,
} from './report-data.js';
export {
  type RunReportInput,
  reportOfComparison,
  reportOfFinding,
  reportOfRun,
} from './report-of.js';
export { type EventFormatter, reportSteps } from './report-steps.js';
export {
  DEFAULT_REPORT_STEPS,
  type RunCounters,
  RunRecorder,
  type RunRecorderOptions,
} from './run-recorder.js';
