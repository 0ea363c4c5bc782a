import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { shortCommandLine } from '../../src/topology/port-check.js';

describe('shortCommandLine: who holds a port, in one short line', () => {
  const args = '--port 7000 --name facade-7000 --registry-dir /tmp/reg';

  test('the name of the process shows whatever the length of the paths to node and the project', () => {
    for (const prefix of ['/usr', '/home/student/projects/course-2026/hazel-lab/.cache/node/26.12.1/node']) {
      const line = shortCommandLine(`${prefix}/bin/node ${prefix}/lab/dist/main.js facade ${args}`);
      assert.match(line, /^…\/bin\/node …\/dist\/main\.js facade --port 7000 --name facade-7000 /, line);
      assert.ok(line.length <= 90, line);
    }
  });

  test('short paths and other words are kept as they are; a long line is cut with an ellipsis', () => {
    assert.equal(shortCommandLine('/bin/sleep 100'), '/bin/sleep 100');
    assert.equal(shortCommandLine('python3 -m http.server 7000'), 'python3 -m http.server 7000');
    const cut = shortCommandLine(`node x.js ${'--flag '.repeat(30)}`);
    assert.equal(cut.length, 90);
    assert.ok(cut.endsWith('…'));
  });
});
