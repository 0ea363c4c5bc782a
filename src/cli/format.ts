/** Turns a service's JSON log line into one readable line prefixed with its instance name. */
const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const COLORS = [36, 33, 35, 32, 34, 91, 92, 93, 94, 95, 96];
const colorOf = new Map<string, number>();

export function formatLine(name: string, line: string, color: boolean, raw = false): string {
  let c = colorOf.get(name);
  if (c === undefined) colorOf.set(name, (c = COLORS[colorOf.size % COLORS.length]!));
  const tag = color ? `\x1b[${c}m[${name}]\x1b[0m` : `[${name}]`;
  if (raw || !line.startsWith('{')) return `${tag} ${line}`;
  try {
    const o = JSON.parse(line) as Record<string, unknown>;
    const { level, time, msg, instance: _i, pid: _p, hostname: _h, ...rest } = o;
    const t = typeof time === 'string' ? time.slice(11, 23) : '';
    const lv = LEVELS[Number(level)] ?? String(level);
    const extras = Object.entries(rest)
      .map(([k, v]) => `${k}=${typeof v === 'string' ? (/[\s"]/.test(v) ? JSON.stringify(v) : v) : JSON.stringify(v)}`)
      .join(' ');
    return `${tag} ${t} ${lv.padEnd(5)} ${String(msg ?? '')}${extras ? ` ${extras}` : ''}`;
  } catch {
    return `${tag} ${line}`;
  }
}
