/**
 * Whether compiled output is older than its sources: each `<src>/x.ts` has a
 * `<dist>/x.js` at least as new. Lets a command build only when something
 * changed, instead of on every call.
 */
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

/** Source files (relative to srcDir) whose output in distDir is missing or older; [] when the build is current. */
export function staleSources(srcDir: string, distDir: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) {
        const rel = relative(srcDir, p);
        const js = join(distDir, rel.replace(/\.ts$/, '.js'));
        let built: number;
        try {
          built = statSync(js).mtimeMs;
        } catch {
          out.push(rel);
          continue;
        }
        if (statSync(p).mtimeMs > built) out.push(rel);
      }
    }
  };
  walk(srcDir);
  return out.sort();
}
