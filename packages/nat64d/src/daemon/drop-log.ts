/**
 * `-d`: one log line per drop reason, sampled from the counters so that the packet path does
 * no work for it. The first drop of a reason is logged at the next poll (every second), then
 * at most one line per reason every `intervalMs` with the number dropped since its last line.
 */
import { COUNTER_NAMES, type CounterName, type Counters } from '../core/counters.js';
import { COUNTER_HELP } from './counter-help.js';
import { snakeCase } from './metrics.js';

export const DROP_LOG_INTERVAL_MS = 10_000;

const DROP_COUNTERS = COUNTER_NAMES.filter((n) => n.startsWith('drop'));

export class DropLog {
  private readonly logged = new Map<CounterName, number>();
  private readonly loggedAt = new Map<CounterName, number>();

  constructor(
    private readonly counters: Counters,
    private readonly write: (line: string) => void,
    private readonly intervalMs = DROP_LOG_INTERVAL_MS,
    private readonly clock: () => number = () => Date.now(),
  ) {}

  /** Called every second: writes the lines that are due. */
  poll(): void {
    const now = this.clock();
    for (const name of DROP_COUNTERS) {
      const value = this.counters[name];
      const before = this.logged.get(name);
      if (value === (before ?? 0)) continue;
      const at = this.loggedAt.get(name);
      if (at !== undefined && now - at < this.intervalMs) continue;
      const n = value - (before ?? 0);
      const packets = `${n} packet${n === 1 ? '' : 's'}`;
      const what = COUNTER_HELP[name].replace(/^Packets dropped: /, '').replace(/\.$/, '');
      this.write(
        before === undefined
          ? `${snakeCase(name)}: ${packets} dropped (first of this reason): ${what}`
          : `${snakeCase(name)}: ${packets} dropped in the last ${Math.round((now - at!) / 1000)} s`,
      );
      this.logged.set(name, value);
      this.loggedAt.set(name, now);
    }
  }
}
