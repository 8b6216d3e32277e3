/** Line-oriented logging to stderr (journald adds the time stamps). */
export interface Logger {
  info(message: string): void;
  error(message: string): void;
  debug(message: string): void;
}

export function stderrLogger(verbose = false): Logger {
  const write = (level: string, message: string) =>
    process.stderr.write(`nat64d: ${level}${message}\n`);
  return {
    info: (m) => write('', m),
    error: (m) => write('error: ', m),
    debug: (m) => {
      if (verbose) write('debug: ', m);
    },
  };
}
