import type { Dispatcher } from 'undici';
import { INTERNAL_TOKEN_HEADER } from '../../contracts/http.js';
// Only the Pool module: undici's index also loads fetch, WebSocket, caches and
// mocks, about 8 MB of resident memory a facade never uses (measured: a bare
// process holding one Pool is 50.6 MB RSS this way, 59.0 MB through the index).
import Pool, { type PoolModule } from 'undici/lib/dispatcher/pool.js';

export interface CallRequest {
  method: 'GET' | 'POST';
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Keep the response body as text (true) or bytes ('buffer'), even when it is JSON. */
  raw?: boolean | 'buffer';
}

export interface CallResponse {
  status: number;
  body: unknown;
  headers: Record<string, string | string[] | undefined>;
}

/** How the facade calls an instance by its base URL. Tests swap in one that routes to `inject`. */
export interface ServiceCaller {
  call(baseUrl: string, req: CallRequest): Promise<CallResponse>;
  /** The instance left: drop what is kept for it (a connection pool). */
  forget?(baseUrl: string): void;
  close(): Promise<void>;
}

/** Keep-alive undici pools, one per instance origin. */
export class UndiciCaller implements ServiceCaller {
  private readonly pools = new Map<string, PoolModule>();

  /**
   * @param connections most connections per instance
   * @param internalToken sent on every call (x-internal-token): instances listening beyond loopback demand it
   */
  constructor(
    private readonly connections = 64,
    private readonly internalToken?: string,
  ) {}

  /** Pools are keyed by the registry's base URL (an origin), so a call parses no URL. */
  private pool(baseUrl: string): PoolModule {
    let p = this.pools.get(baseUrl);
    if (!p) {
      const origin = new URL(baseUrl).origin;
      p = new Pool(origin, { connections: this.connections, pipelining: 1, keepAliveTimeout: 10_000, connect: { timeout: 2000 } });
      this.pools.set(baseUrl, p);
    }
    return p;
  }

  /**
   * One request through undici's dispatch API: the answer's chunks are
   * collected as they come, without the Readable stream that `request()`
   * builds for every response (a measurable share of a busy facade's CPU).
   * An abort settles the call at once, even while it waits for a connection.
   */
  call(baseUrl: string, req: CallRequest): Promise<CallResponse> {
    const headers: Record<string, string> = { accept: 'application/json', ...req.headers };
    if (this.internalToken) headers[INTERNAL_TOKEN_HEADER] = this.internalToken;
    let body: string | undefined;
    if (req.body !== undefined) {
      body = JSON.stringify(req.body);
      headers['content-type'] = 'application/json';
    }
    const signal = req.signal;
    return new Promise<CallResponse>((resolve, reject) => {
      const reasonOf = () => (signal?.reason instanceof Error ? signal.reason : new Error('request aborted'));
      if (signal?.aborted) return reject(reasonOf());
      let controller: Dispatcher.DispatchController | undefined;
      let settled = false;
      let status = 0;
      let resHeaders: Record<string, string | string[] | undefined> = {};
      const chunks: Buffer[] = [];
      const settle = (err: unknown, res?: CallResponse) => {
        if (settled) return;
        settled = true;
        signal?.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve(res!);
      };
      const onAbort = () => {
        controller?.abort(reasonOf());
        settle(reasonOf());
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const raw = req.raw ?? false;
      this.pool(baseUrl).dispatch(
        { method: req.method, path: req.path, headers, body },
        {
          onRequestStart(c) {
            controller = c;
            if (settled) c.abort(reasonOf());
          },
          onResponseStart(_c, statusCode, h) {
            status = statusCode;
            resHeaders = h;
          },
          onResponseData(_c, chunk) {
            chunks.push(chunk);
          },
          onResponseEnd() {
            const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
            if (raw === 'buffer') return settle(undefined, { status, body: bytes, headers: resHeaders });
            const text = bytes.toString('utf8');
            let parsed: unknown = text;
            try {
              if (!raw && String(resHeaders['content-type'] ?? '').includes('json') && text) parsed = JSON.parse(text);
            } catch (err) {
              return settle(err);
            }
            settle(undefined, { status, body: parsed, headers: resHeaders });
          },
          onResponseError(_c, err) {
            settle(err);
          },
        },
      );
    });
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
