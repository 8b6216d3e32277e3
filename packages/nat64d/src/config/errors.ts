/** One problem found in a configuration file. `line` is 0 for a directive that is missing. */
export interface ConfigIssue {
  readonly file: string;
  readonly line: number;
  readonly reason: string;
}

export function formatIssue(issue: ConfigIssue): string {
  return issue.line > 0
    ? `${issue.file}:${issue.line}: ${issue.reason}`
    : `${issue.file}: ${issue.reason}`;
}

/** Thrown by the parser with every problem of the file; the message has one `file:line: reason` per line. */
export class ConfigError extends Error {
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[]) {
    super(issues.map(formatIssue).join('\n'));
    this.name = 'ConfigError';
    this.issues = issues;
  }
}
