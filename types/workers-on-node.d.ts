// The Cloudflare Workers globals that shared code names in its types, for the Node build
// (tsconfig.node.json). On Node there is no KV or rate-limit binding: the self-hosted server
// passes its own TenantStore and in-memory rate limiters (src/node). Only the members used are
// declared; tsconfig.json (Workers) takes the real ones from @cloudflare/workers-types.

interface KVNamespaceListKey<Metadata, Key extends string = string> {
  name: Key;
  expiration?: number;
  metadata?: Metadata;
}

type KVNamespaceListResult<Metadata, Key extends string = string> =
  | { list_complete: false; keys: KVNamespaceListKey<Metadata, Key>[]; cursor: string }
  | { list_complete: true; keys: KVNamespaceListKey<Metadata, Key>[] };

interface KVNamespace<Key extends string = string> {
  get(key: Key): Promise<string | null>;
  put(key: Key, value: string): Promise<void>;
  delete(key: Key): Promise<void>;
  list<Metadata = unknown>(options?: {
    cursor?: string | null;
  }): Promise<KVNamespaceListResult<Metadata, Key>>;
}

interface RateLimit {
  limit(options: { key: string }): Promise<{ success: boolean }>;
}

// The Cache API (src/cache/edge-cache.ts; absent on Node, where defaultEdgeCache() is null).
interface Cache {
  match(request: Request): Promise<Response | undefined>;
  put(request: Request, response: Response): Promise<void>;
}

interface CacheStorage {
  open(name: string): Promise<Cache>;
}

// A DOM/Workers type name that @types/node does not make global.
type HeadersInit = ConstructorParameters<typeof Headers>[0];

// Workers Analytics Engine (src/obs/observers.ts; on Node there is no such binding).
interface AnalyticsEngineDataPoint {
  indexes?: ((ArrayBuffer | string) | null)[];
  doubles?: number[];
  blobs?: ((ArrayBuffer | string) | null)[];
}

interface AnalyticsEngineDataset {
  writeDataPoint(event?: AnalyticsEngineDataPoint): void;
}
