import { type RecordBackend, memoryBackend } from '../tenant/store';

/** A change made through the admin API in one process, to be applied in the others. */
export interface TenantChange {
  readonly id: string;
  /** The record's JSON, or null when it was deleted. */
  readonly json: string | null;
}

/**
 * The in-memory tenant records of one process (memoryBackend), telling `publish` about every
 * change made here, and taking changes made elsewhere with `apply` (WORKERS > 1: the primary
 * relays them). Nothing is written to disk.
 */
export class SharedRecords {
  private readonly inner: RecordBackend;
  readonly backend: RecordBackend;

  constructor(initial: Record<string, unknown>, publish: (change: TenantChange) => void) {
    const inner = memoryBackend(initial);
    this.inner = inner;
    this.backend = {
      read: (id) => inner.read(id),
      ids: () => inner.ids(),
      write: async (id, json) => {
        await inner.write(id, json);
        publish({ id, json });
      },
      remove: async (id) => {
        await inner.remove(id);
        publish({ id, json: null });
      },
    };
  }

  /** A change from another process (visible here within the store's memo time). */
  async apply(change: TenantChange): Promise<void> {
    if (change.json === null) await this.inner.remove(change.id);
    else await this.inner.write(change.id, change.json);
  }

  /**
   * Makes the records exactly `records` (a reloaded TENANTS_FILE): new and changed ones written,
   * those no longer there removed. Not published: every process reloads on its own.
   */
  async replace(records: Readonly<Record<string, unknown>>): Promise<void> {
    for (const [id, record] of Object.entries(records)) {
      await this.inner.write(id, JSON.stringify(record));
    }
    for (const id of await this.inner.ids()) {
      if (!(id in records)) await this.inner.remove(id);
    }
  }

  /** Every record as parsed JSON, to seed a new process. */
  async snapshot(): Promise<Record<string, unknown>> {
    const out: Record<string, unknown> = {};
    for (const id of await this.inner.ids()) {
      const json = await this.inner.read(id);
      if (json !== null) out[id] = JSON.parse(json) as unknown;
    }
    return out;
  }
}
