/**
 * Runs SQL on a Presto or Trino coordinator through its HTTP client protocol (POST /v1/statement,
 * then follow nextUri until there is none): one statement at a time, with the engine's own error
 * message when it fails.
 */

export interface StatementOutcome {
  readonly sql: string;
  readonly ok: boolean;
  readonly columns: readonly string[];
  readonly rows: ReadonlyArray<readonly unknown[]>;
  /** The engine's error message (as its CLI shows it), or null. */
  readonly error: string | null;
  readonly errorName: string | null;
  readonly ms: number;
}

interface ProtocolResponse {
  nextUri?: string;
  columns?: Array<{ name: string }>;
  data?: unknown[][];
  error?: { message?: string; errorName?: string };
  stats?: { state?: string };
}

export class EngineSql {
  constructor(
    private readonly url: string,
    /** X-Presto or X-Trino. */
    private readonly headerPrefix: string,
    private readonly catalog = 'hive',
    private readonly user = 'e2e',
  ) {}

  async run(sql: string, timeoutMs = 600_000): Promise<StatementOutcome> {
    const started = Date.now();
    const deadline = started + timeoutMs;
    const h = this.headerPrefix;
    let response = await this.request(`${this.url}/v1/statement`, {
      method: 'POST',
      body: sql,
      headers: { [`${h}-User`]: this.user, [`${h}-Catalog`]: this.catalog, [`${h}-Source`]: 'hms-router-e2e' },
    }, deadline);
    let columns: string[] = [];
    const rows: unknown[][] = [];
    for (;;) {
      if (response.columns !== undefined && columns.length === 0) columns = response.columns.map((c) => c.name);
      if (response.data !== undefined) rows.push(...response.data);
      if (response.error !== undefined || response.nextUri === undefined) break;
      response = await this.request(response.nextUri, { method: 'GET' }, deadline);
    }
    const error = response.error === undefined ? null : (response.error.message ?? 'failed without a message');
    return { sql, ok: error === null, columns, rows, error, errorName: response.error?.errorName ?? null, ms: Date.now() - started };
  }

  /** One protocol request; 502/503/504 are retried as the client protocol asks. */
  private async request(url: string, init: RequestInit, deadline: number): Promise<ProtocolResponse> {
    for (let attempt = 0; ; attempt++) {
      if (Date.now() > deadline) throw new Error(`statement did not finish in time (last request ${url})`);
      const res = await fetch(url, { ...init, signal: AbortSignal.timeout(Math.max(1000, deadline - Date.now())) });
      if ([502, 503, 504].includes(res.status) && attempt < 20) {
        await new Promise((r) => setTimeout(r, 100 * (attempt + 1)));
        continue;
      }
      const text = await res.text();
      if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${url}: HTTP ${res.status}: ${text.slice(0, 300)}`);
      return JSON.parse(text) as ProtocolResponse;
    }
  }
}
