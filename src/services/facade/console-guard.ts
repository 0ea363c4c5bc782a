/**
 * Who may press the console's controls. A request is accepted only when:
 * - it comes from a loopback peer, and its Host names loopback with the
 *   facade's port (a DNS-rebound name is refused); or, on a facade listening
 *   beyond loopback, it carries the console token (compared in constant time);
 * - its Origin is the page's own (or, without Origin, Sec-Fetch-Site says
 *   same-origin), and Sec-Fetch-Site, when sent, is not cross-site;
 * - it carries the custom header `x-lab-console: 1`, which a cross-site form
 *   cannot send and a cross-site fetch cannot send without a preflight that
 *   the facade never answers.
 * The token is never printed: not in answers, not in logs.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { CONSOLE_HEADER, CONSOLE_TOKEN_HEADER } from '../../contracts/console.js';

export interface GuardRequest {
  /** The peer's address (req.socket.remoteAddress). */
  remoteAddress: string | undefined;
  headers: Record<string, string | string[] | undefined>;
}

export interface ConsoleGuardOptions {
  /** The address the facade listens on. */
  host: string;
  /** The port it listens on (known once it listens). */
  port: () => number;
  /** --console-token; needed for controls when host is not loopback. */
  token?: string | undefined;
}

const LOOPBACK_PEER = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1|::ffff:127\.\d{1,3}\.\d{1,3}\.\d{1,3})$/;
const LOOPBACK_BIND = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1|localhost)$/;
const LOOPBACK_HOSTS = ['127.0.0.1', 'localhost', '[::1]'];

export const isLoopbackBind = (host: string) => LOOPBACK_BIND.test(host);

const digest = (s: string) => createHash('sha256').update(s).digest();

export class ConsoleGuard {
  private readonly tokenDigest: Buffer | undefined;
  readonly loopback: boolean;

  constructor(private readonly opts: ConsoleGuardOptions) {
    this.loopback = isLoopbackBind(opts.host);
    this.tokenDigest = opts.token ? digest(opts.token) : undefined;
  }

  /** Whether controls can be offered at all, and why not. */
  get offered(): { ok: boolean; reason: string; tokenRequired: boolean } {
    if (this.loopback) return { ok: true, reason: 'same-origin requests from this machine', tokenRequired: false };
    if (this.tokenDigest) return { ok: true, reason: `listening on ${this.opts.host}: actions need the console token`, tokenRequired: true };
    return { ok: false, reason: `listening on ${this.opts.host}, beyond loopback, without --console-token: no controls`, tokenRequired: false };
  }

  /** Undefined when the request may act; else why it may not (never quoting the token). */
  check(req: GuardRequest): string | undefined {
    const offered = this.offered;
    if (!offered.ok) return offered.reason;
    const header = (name: string) => {
      const v = req.headers[name];
      return Array.isArray(v) ? v[0] : v;
    };
    const host = header('host');
    if (!host) return 'no Host header';
    if (this.tokenDigest) {
      const given = header(CONSOLE_TOKEN_HEADER);
      // Equal-length digests: the comparison takes the same time whatever was sent.
      if (typeof given !== 'string' || !timingSafeEqual(digest(given), this.tokenDigest)) {
        return `${given === undefined ? 'missing' : 'wrong'} console token (${CONSOLE_TOKEN_HEADER})`;
      }
    } else {
      if (!LOOPBACK_PEER.test(req.remoteAddress ?? '')) return 'the console answers only requests from this machine';
      const port = this.opts.port();
      if (!LOOPBACK_HOSTS.some((h) => host.toLowerCase() === `${h}:${port}`)) {
        return `Host must name this machine (127.0.0.1:${port}, localhost:${port} or [::1]:${port})`;
      }
    }
    const site = header('sec-fetch-site');
    if (site !== undefined && site !== 'same-origin') return `a ${site} request may not act (Sec-Fetch-Site)`;
    const origin = header('origin');
    if (origin !== undefined) {
      if (origin.toLowerCase() !== `http://${host.toLowerCase()}`) return 'Origin is not this page';
    } else if (site !== 'same-origin') return 'a same-origin Origin (or Sec-Fetch-Site: same-origin) is required';
    if (header(CONSOLE_HEADER) !== '1') return `the ${CONSOLE_HEADER}: 1 header is required`;
    return undefined;
  }
}
