import { createServer } from 'node:net';

/** True when host:port cannot be bound now (someone listens there). */
export function portInUse(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(true));
    srv.listen({ host, port, exclusive: true }, () => srv.close(() => resolve(false)));
  });
}

/**
 * First port p at or after `from`, stepping by `count`, such that for every
 * offset in `offsets` the ports p+offset..p+offset+count-1 are free on host.
 * Lets tests pick ports that do not clash with clusters others run. Free now
 * does not mean free at bind time: the starter must still report a clash.
 */
export async function findFreePorts(count: number, from: number, offsets: readonly number[] = [0], host = '127.0.0.1'): Promise<number> {
  const top = Math.max(...offsets) + count - 1;
  for (let base = from; base + top <= 65535; base += count) {
    let free = true;
    for (const off of offsets) for (let p = base + off; p < base + off + count && free; p++) free = !(await portInUse(host, p));
    if (free) return base;
  }
  throw new Error(`no ${count} free ports at offsets ${offsets.join(',')} on ${host} from ${from}`);
}
