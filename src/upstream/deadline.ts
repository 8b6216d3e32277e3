/**
 * One timer for the questions of one query that share a deadline (a DNS64 query asks A and
 * AAAA at the same moment, RFC 6147 §5.1.8): each question watches it and stops watching when
 * it is settled; the timer is cleared when no question waits any more.
 */
export class Deadline {
  private readonly end: number;
  private readonly waiting = new Set<() => void>();
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    ms: number,
    private readonly now: () => number = Date.now,
  ) {
    this.end = now() + ms;
  }

  /** Calls `onExpiry` when the deadline passes; the function returned stops watching. */
  watch(onExpiry: () => void): () => void {
    this.waiting.add(onExpiry);
    this.timer ??= setTimeout(() => this.expire(), Math.max(0, this.end - this.now()));
    return () => {
      this.waiting.delete(onExpiry);
      if (this.waiting.size === 0 && this.timer !== null) {
        clearTimeout(this.timer);
        this.timer = null;
      }
    };
  }

  private expire(): void {
    this.timer = null;
    const due = [...this.waiting];
    this.waiting.clear();
    for (const f of due) f();
  }
}
