import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SETTINGS_TABLES } from '../../src/services/config.js';
import { loadFacadeConfig } from '../../src/services/facade/config.js';
import { loadLoggingConfig } from '../../src/services/logging/config.js';
import { loadMessagesConfig } from '../../src/services/messages/config.js';
import { formatHelp, markdownTable, profilesOf } from '../../src/shared/settings.js';
import { configError, src } from '../helpers/settings.js';

describe('--profile lan: the defaults for services on several hosts', () => {
  test('sets the facade attempt timeout, deadline and registry TTL; other settings keep their defaults', () => {
    const c = loadFacadeConfig(src(['--profile', 'lan']));
    assert.equal(c.profile, 'lan');
    assert.equal(c.attemptTimeoutMs, 10_000);
    assert.equal(c.requestDeadlineMs, 15_000);
    assert.equal(c.registryTtlMs, 20_000);
    assert.equal(c.breakerThreshold, 3);
    assert.equal(c.port, 8000);
    const plain = loadFacadeConfig(src());
    assert.equal(plain.profile, 'local');
    assert.deepEqual([plain.attemptTimeoutMs, plain.requestDeadlineMs, plain.registryTtlMs], [1000, 5000, 3000]);
  });

  test('logging and messages take the registry TTL of the profile', () => {
    assert.equal(loadLoggingConfig(src(['--profile=lan'])).registryTtlMs, 20_000);
    assert.equal(loadMessagesConfig(src([], { PROFILE: 'lan' })).registryTtlMs, 20_000);
  });

  test('through the environment: PROFILE=lan', () => {
    const c = loadFacadeConfig(src([], { PROFILE: 'lan' }));
    assert.equal(c.attemptTimeoutMs, 10_000);
    assert.equal(c.requestDeadlineMs, 15_000);
  });

  test('an explicit flag or variable beats the profile', () => {
    const c = loadFacadeConfig(src(['--profile', 'lan', '--attempt-timeout-ms', '3000'], { REGISTRY_TTL_MS: '9000' }));
    assert.equal(c.attemptTimeoutMs, 3000, 'the flag wins');
    assert.equal(c.registryTtlMs, 9000, 'the variable wins');
    assert.equal(c.requestDeadlineMs, 15_000, 'what was not given comes from the profile');
    // The flag --profile beats PROFILE, like any setting.
    assert.equal(loadFacadeConfig(src(['--profile', 'local'], { PROFILE: 'lan' })).attemptTimeoutMs, 1000);
  });

  test('an unknown profile is refused with one line naming the setting and the known profiles', () => {
    const msg = configError(() => loadFacadeConfig(src(['--profile', 'wan'])));
    assert.equal(msg, 'invalid setting --profile / PROFILE: expected one of local, lan, got "wan"');
    assert.match(configError(() => loadLoggingConfig(src([], { PROFILE: 'LAN' }))), /--profile \/ PROFILE: expected one of local, lan/);
  });

  test('the profile values are within each setting\'s range', () => {
    for (const [service, table] of Object.entries(SETTINGS_TABLES)) {
      for (const [name, set] of profilesOf(table)) {
        const argv = set.flatMap(([flag, v]) => [`--${flag}`, v]);
        // Reading them as explicit flags runs the same checks a user's values get.
        assert.doesNotThrow(() => (service === 'facade' ? loadFacadeConfig : service === 'logging' ? loadLoggingConfig : loadMessagesConfig)(src(argv)), `${service} ${name}`);
      }
    }
  });

  test('--help and the README table say what the profile sets', () => {
    const help = formatHelp('usage: x', SETTINGS_TABLES.facade);
    assert.match(help, /--profile\s+PROFILE\s+local/);
    assert.match(help, /^ {2}lan: .*--attempt-timeout-ms 10000.*--request-deadline-ms 15000/m);
    assert.match(help, /--registry-ttl-ms 20000/);
    const md = markdownTable([{ who: 'facade', table: SETTINGS_TABLES.facade }]);
    assert.match(md, /`--attempt-timeout-ms` \| `ATTEMPT_TIMEOUT_MS` \| 1000 \(lan: 10000\) \|/);
  });
});
