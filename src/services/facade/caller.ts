import { Pool } from 'undici';

export interface CallRequest {
  method: 'GET' | 'POST';
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Keep the response body as text, even when it is JSON. */
  raw?: boolean;
}

export interface CallResponse {
  status: number;
  body: unknown;
  headers: Record<string, string | string[] | undefined>;
}

/** How the facade calls an instance by its base URL. Tests swap in one that routes to `inject`. */
export interface ServiceCaller {
  call(baseUrl: string, req: CallRequest): Promise<CallResponse>;
  close(): Promise<void>;
}

/** Keep-alive undici pools, one per instance origin. */
export class UndiciCaller implements ServiceCaller {
  private readonly pools = new Map<string, Pool>();

  constructor(private readonly connections = 64) {}

  /** Pools are keyed by the registry's base URL (an origin), so a call parses no URL. */
  private pool(baseUrl: string): Pool {
    let p = this.pools.get(baseUrl);
    if (!p) {
      const origin = new URL(baseUrl).origin;
      p = new Pool(origin, { connections: this.connections, pipelining: 1, keepAliveTimeout: 10_000, connect: { timeout: 2000 } });
      this.pools.set(baseUrl, p);
    }
    return p;
  }

  async call(baseUrl: string, req: CallRequest): Promise<CallResponse> {
    const headers: Record<string, string> = { accept: 'application/json', ...req.headers };
    let body: string | undefined;
    if (req.body !== undefined) {
      body = JSON.stringify(req.body);
      headers['content-type'] = 'application/json';
    }
    const res = await this.pool(baseUrl).request({
      method: req.method,
      path: req.path,
      headers,
      body,
      signal: req.signal,
    });
    const text = await res.body.text();
    let parsed: unknown = text;
    if (!req.raw && String(res.headers['content-type'] ?? '').includes('json') && text) parsed = JSON.parse(text);
    return { status: res.statusCode, body: parsed, headers: res.headers };
  }

  /** Drops the pool of an instance that left, so its sockets close. */
  forget(baseUrl: string): void {
    const p = this.pools.get(baseUrl);
    if (p) {
      this.pools.delete(baseUrl);
      void p.destroy().catch(() => {});
    }
  }

  async close(): Promise<void> {
    const all = [...this.pools.values()];
    this.pools.clear();
    await Promise.allSettled(all.map((p) => p.close()));
  }
}
