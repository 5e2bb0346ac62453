// What every checker returns: pass/fail, a one-line figure for the summary, and the problems found
// (each one line, naming the operations involved), capped so a broken run still prints readably.
export interface CheckResult {
  name: string;
  pass: boolean;
  /** False when the run's levels do not promise what the checker tests (it then passes, marked n/a). */
  applicable: boolean;
  /** The figure for the summary line, e.g. "12/12 keys". */
  figure: string;
  problems: string[];
  /** Problems found beyond the ones listed. */
  more: number;
}

export const problemsListedMax = 20;

export function result(name: string, figure: string, problems: string[], applicable = true): CheckResult {
  return {
    name, pass: problems.length === 0, applicable, figure,
    problems: problems.slice(0, problemsListedMax), more: Math.max(0, problems.length - problemsListedMax),
  };
}

export function notApplicable(name: string, why: string): CheckResult {
  return { name, pass: true, applicable: false, figure: `n/a (${why})`, problems: [], more: 0 };
}
