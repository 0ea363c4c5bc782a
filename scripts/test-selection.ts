/**
 * Which test files scripts/test.ts runs, in which parts, under which name.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { EMBEDDED_ONLY_ENV } from '../test/helpers/gate.js';

/**
 * Every .test.ts under test/ (test/ mirrors src/), in name order, with the
 * integration suites (real processes, slow) last; or only those outside
 * test/integration (`unit`), or only those inside (`integration`).
 * test/fixtures holds files the tests run, not tests.
 */
export function defaultFiles(root: string, which: 'all' | 'unit' | 'integration'): string[] {
  const found: string[] = [];
  const walk = (rel: string) => {
    for (const name of readdirSync(join(root, rel)).sort()) {
      const path = join(rel, name);
      if (statSync(join(root, path)).isDirectory()) {
        if (path !== join('test', 'fixtures')) walk(path);
      } else if (name.endsWith('.test.ts')) found.push(path);
    }
  };
  walk('test');
  const slow = (f: string) => f.startsWith(join('test', 'integration') + '/');
  const unit = found.filter((f) => !slow(f));
  const integration = found.filter(slow);
  return which === 'unit' ? unit : which === 'integration' ? integration : [...unit, ...integration];
}

export interface Phase {
  files: string[];
  /** Set for this phase's test processes. */
  env?: Record<string, string>;
}

export interface Selection {
  /** Named in the closing line: 'full suite', 'unit suite', 'unit + embedded integration', '2 given files'. */
  name: string;
  /** Runs of node's test runner, one after the other; their counts add up. */
  phases: Phase[];
  /** Ready the gated suites' prerequisites first (fetch the jars). */
  setup: boolean;
}

/**
 * What `tsx scripts/test.ts [--no-setup] [--unit | --embedded] [files…]`
 * runs, or why the arguments make no sense.
 */
export function selection(argv: readonly string[], root: string): Selection | string {
  const unit = argv.includes('--unit');
  const embedded = argv.includes('--embedded');
  const given = argv.filter((a) => a !== '--no-setup' && a !== '--unit' && a !== '--embedded');
  const unknown = given.find((a) => a.startsWith('-'));
  if (unknown) return `unknown flag ${unknown}`;
  if (unit && embedded) return '--unit and --embedded are two selections; give one';
  const embeddedOnly = { [EMBEDDED_ONLY_ENV]: '1' };
  let name: string;
  let phases: Phase[];
  if (given.length > 0) {
    name = `${given.length} given file${given.length === 1 ? '' : 's'}${embedded ? ' with --embedded' : ''}`;
    phases = [{ files: given, env: embedded ? embeddedOnly : undefined }];
  } else if (unit) {
    name = 'unit suite';
    phases = [{ files: defaultFiles(root, 'unit') }];
  } else if (embedded) {
    // The unit suite, then the integration suites, with every gated suite (Hazelcast members, Kafka brokers,
    // network namespaces) skipped as not selected: what needs Node and the machine only. Those suites run once,
    // in the full suite on the machine's Node; their JVMs do not depend on the Node version.
    name = 'unit + embedded integration';
    phases = [{ files: defaultFiles(root, 'unit'), env: embeddedOnly }, { files: defaultFiles(root, 'integration'), env: embeddedOnly }];
  } else {
    name = 'full suite';
    phases = [{ files: defaultFiles(root, 'all') }];
  }
  // The quick unit run readies nothing: its gated suites skip (or fail when required) as they are; --embedded needs nothing readied.
  return { name, phases, setup: !argv.includes('--no-setup') && !unit && !embedded };
}
