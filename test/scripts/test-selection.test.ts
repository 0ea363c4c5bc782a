import assert from 'node:assert/strict';
import { dirname, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { selection, type Selection } from '../../scripts/test-selection.js';
import { EMBEDDED_ONLY_ENV } from '../helpers/gate.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const integration = (f: string) => f.startsWith('test/integration/');

function sel(...argv: string[]): Selection {
  const s = selection(argv, root);
  assert.ok(typeof s !== 'string', `${argv.join(' ')}: ${String(s)}`);
  return s;
}

describe('scripts/test.ts: what a run covers', () => {
  test('no flag: the full suite in one part, integration files last, the prerequisites readied first', () => {
    const s = sel();
    assert.equal(s.name, 'full suite');
    assert.equal(s.phases.length, 1);
    const files = s.phases[0]!.files;
    assert.ok(files.includes('test/scripts/test-selection.test.ts') && files.includes('test/integration/launcher.test.ts'));
    const firstIntegration = files.findIndex(integration);
    assert.ok(firstIntegration > 0 && files.slice(firstIntegration).every(integration), 'integration files come last');
    assert.ok(!files.some((f) => f.startsWith('test/fixtures/')), 'fixtures are not tests');
    assert.equal(s.setup, true);
  });

  test('--unit: the files outside test/integration, nothing readied', () => {
    const s = sel('--unit');
    assert.equal(s.name, 'unit suite');
    assert.deepEqual(s.phases[0]!.files, sel().phases[0]!.files.filter((f) => !integration(f)));
    assert.equal(s.setup, false);
  });

  test('--embedded: the unit suite, then the integration files, with the gated suites not selected', () => {
    const s = sel('--embedded');
    assert.equal(s.name, 'unit + embedded integration');
    assert.equal(s.phases.length, 2);
    const [unit, rest] = s.phases as [Selection['phases'][0], Selection['phases'][0]];
    assert.deepEqual(unit.files, sel('--unit').phases[0]!.files);
    assert.deepEqual(unit.env, { [EMBEDDED_ONLY_ENV]: '1' }, 'the unit suite skips its Hazelcast and Kafka tests');
    assert.ok(rest.files.length > 0 && rest.files.every(integration));
    assert.deepEqual(rest.env, { [EMBEDDED_ONLY_ENV]: '1' });
    assert.equal(s.setup, false, 'nothing to ready: no jar is used');
  });

  test('given files run as given, in one part; --embedded applies to them; --no-setup readies nothing', () => {
    assert.deepEqual(sel('--no-setup', 'test/a.test.ts'), { name: '1 given file', phases: [{ files: ['test/a.test.ts'], env: undefined }], setup: false });
    const s = sel('--embedded', 'test/a.test.ts', 'test/b.test.ts');
    assert.equal(s.name, '2 given files with --embedded');
    assert.deepEqual(s.phases, [{ files: ['test/a.test.ts', 'test/b.test.ts'], env: { [EMBEDDED_ONLY_ENV]: '1' } }]);
  });

  test('an unknown flag, or two selections at once, is refused with the reason', () => {
    assert.equal(selection(['--fast'], root), 'unknown flag --fast');
    assert.match(String(selection(['--unit', '--embedded'], root)), /two selections/);
  });
});
