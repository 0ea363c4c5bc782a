import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, isConfigError } from '../../src/lib/errors.js';
import { SERVICE_NAMES, SETTINGS_TABLES } from '../../src/services/config.js';
import { checkSetting, defaultText, formatHelp, markdownTable, parseArgv, readSettings, redactCommandLine, secretSettings, setting, SettingsReader, shownValue } from '../../src/shared/settings.js';
import { configError, src } from '../helpers/settings.js';

describe('parseArgv', () => {
  test('--name value, --name=value, bare --flag, positionals, and --', () => {
    const { flags, positional } = parseArgv(['logging', '--port', '7001', '--host=0.0.0.0', '--verbose', '--name=a=b', 'extra', '--', 'tail', '--last']);
    assert.deepEqual(Object.fromEntries(flags), { port: '7001', host: '0.0.0.0', verbose: 'true', name: 'a=b', last: 'true' });
    assert.deepEqual(positional, ['logging', 'extra', 'tail']);
  });

  test('a value that is itself a flag is not swallowed', () => {
    const { flags } = parseArgv(['--port', '--host', 'h']);
    assert.equal(flags.get('port'), 'true');
    assert.equal(flags.get('host'), 'h');
  });

  test('an empty value after = is kept as empty', () => {
    assert.equal(parseArgv(['--port=']).flags.get('port'), '');
  });
});

describe('SettingsReader', () => {
  test('flag beats env beats default; an empty env var counts as unset', () => {
    const r = new SettingsReader(src(['--a', 'flag'], { A: 'env', B: 'env-b', C: '' }));
    assert.equal(r.string('a', 'A', 'def'), 'flag');
    assert.equal(r.string('b', 'B', 'def'), 'env-b');
    assert.equal(r.string('c', 'C', 'def'), 'def');
    assert.equal(r.string('d', 'D', 'def'), 'def');
  });

  test('int accepts the bounds and refuses outside them, fractions and words', () => {
    const read = (v: string) => new SettingsReader(src([`--n=${v}`])).int('n', 'N', 5, 1, 10);
    assert.equal(read('1'), 1);
    assert.equal(read('10'), 10);
    for (const bad of ['0', '11', '1.5', '1e1', 'abc', '', '0x5', '9007199254740993']) {
      const msg = configError(() => read(bad));
      assert.match(msg, /--n/);
      assert.match(msg, /\bN\b/);
      assert.match(msg, /1 to 10/);
    }
  });

  test('oneOf and list name what they expect', () => {
    const r = new SettingsReader(src(['--mode', 'c', '--xs', 'a:1,,b']));
    assert.match(
      configError(() => r.oneOf('mode', 'MODE', 'a', ['a', 'b'])),
      /--mode \/ MODE: expected one of a, b, got "c"/,
    );
    assert.match(
      configError(() => r.list('xs', 'XS', [], /^[a-z]+:\d+$/, 'host:port list')),
      /--xs \/ XS: expected host:port list/,
    );
  });

  test('rejectUnknown refuses a flag nobody read, and only after the reads', () => {
    const r = new SettingsReader(src(['--known', 'x', '--typo', 'y']));
    r.string('known', 'KNOWN', '');
    assert.match(
      configError(() => r.rejectUnknown()),
      /unknown option --typo/,
    );
    const ok = new SettingsReader(src(['--known', 'x']));
    ok.string('known', 'KNOWN', '');
    ok.rejectUnknown();
  });

  test('isConfigError is false for other errors', () => {
    assert.equal(isConfigError(new Error('x')), false);
    assert.equal(isConfigError(null), false);
    assert.equal(isConfigError({ isConfigError: 'yes' }), false);
    assert.equal(isConfigError(new ConfigError('x')), true);
  });
});

describe('settings tables', () => {
  // A small table of the shapes services use: a computed default reads the settings above it.
  const table = {
    port: setting.int('port', 'PORT', 7001, 0, 65535, 'port to listen on'),
    name: setting.name('name', 'INSTANCE_NAME', (got) => `svc-${String(got.port)}`, 'instance name'),
    host: setting.host('host', 'HOST', '127.0.0.1', 'address to listen on'),
    advertise: setting.host('advertise-host', 'ADVERTISE_HOST', (got) => String(got.host), 'host others call'),
    mode: setting.choice('mode', 'MODE', 'fast', ['fast', 'safe'] as const, 'how to run'),
    pretty: setting.bool('pretty', 'PRETTY', false, 'pretty logs'),
  } as const;

  test('readSettings: flag, else env, else default; a computed default uses the values read before it', () => {
    assert.deepEqual(readSettings(table, src()), { port: 7001, name: 'svc-7001', host: '127.0.0.1', advertise: '127.0.0.1', mode: 'fast', pretty: false });
    const v = readSettings(table, src(['--port', '9000', '--pretty', '--host=10.0.0.5'], { PORT: '1', MODE: 'safe', HOST: '', ADVERTISE_HOST: '' }));
    assert.equal(v.port, 9000, 'the flag wins over PORT');
    assert.equal(v.name, 'svc-9000', 'the default name follows the port actually read');
    assert.equal(v.host, '10.0.0.5');
    assert.equal(v.advertise, '10.0.0.5', 'an empty env var counts as unset, so the computed default applies');
    assert.equal(v.mode, 'safe', 'env when no flag');
    assert.equal(v.pretty, true, 'a bare flag is true');
    assert.equal(readSettings(table, src(['--name', 'given', '--port', '5'])).name, 'given', 'a given value beats the computed default');
    assert.equal(readSettings(table, src([], { PRETTY: '1' })).pretty, true);
    assert.equal(readSettings(table, src([], { PRETTY: '0' })).pretty, false);
  });

  test('readSettings refuses a flag the table does not name, naming it', () => {
    assert.equal(configError(() => readSettings(table, src(['--port', '1', '--prot', '2']))), 'unknown option --prot');
    // An unknown env var is not a flag: ignored.
    assert.equal(readSettings(table, src([], { PROT: '2' })).port, 7001);
  });

  test('readSettings: a bad value names the flag, the variable, the expected form and the value', () => {
    assert.equal(configError(() => readSettings(table, src(['--port', '70000']))), 'invalid setting --port / PORT: expected an integer from 0 to 65535, got "70000"');
    assert.equal(configError(() => readSettings(table, src([], { MODE: 'slow' }))), 'invalid setting --mode / MODE: expected one of fast, safe, got "slow"');
    assert.match(configError(() => readSettings(table, src(['--name', 'a b']))), /^invalid setting --name \/ INSTANCE_NAME: expected letters, digits, dot, dash or underscore, got "a b"$/);
  });

  test('checkSetting: an unknown name lists the known ones, sorted, once each', () => {
    const tables = SERVICE_NAMES.map((s) => SETTINGS_TABLES[s]);
    const msg = configError(() => checkSetting(tables, 'ATTEMPT_TIMEOUT', '5'));
    const m = /^unknown setting ATTEMPT_TIMEOUT; known: (.+)$/.exec(msg);
    assert.ok(m, msg);
    const known = m[1]!.split(', ');
    assert.deepEqual(known, [...new Set(known)].sort(), 'sorted, no repeats');
    for (const name of ['ATTEMPT_TIMEOUT_MS', 'PORT', 'QUEUE_NAME', 'STORE_FILE', 'INTERNAL_TOKEN']) assert.ok(known.includes(name), `${name} is listed`);
  });

  test('checkSetting: a bad value gets the message a service would give; a good one returns the setting', () => {
    const tables = SERVICE_NAMES.map((s) => SETTINGS_TABLES[s]);
    assert.equal(configError(() => checkSetting(tables, 'ATTEMPT_TIMEOUT_MS', 'soon')), 'invalid setting --attempt-timeout-ms / ATTEMPT_TIMEOUT_MS: expected an integer from 10 to 600000, got "soon"');
    assert.equal(configError(() => checkSetting(tables, 'INTERNAL_TOKEN', 'short')), 'invalid setting --internal-token / INTERNAL_TOKEN: expected at least 16 characters without spaces, got a value of 5 characters (not shown: it is secret)');
    assert.equal(checkSetting(tables, 'ATTEMPT_TIMEOUT_MS', '250').flag, 'attempt-timeout-ms');
    assert.equal(checkSetting(tables, 'QUEUE_NAME', 'orders').env, 'QUEUE_NAME');
  });

  test('formatHelp lists every flag of each service with its variable, default and range', () => {
    for (const service of SERVICE_NAMES) {
      const t = SETTINGS_TABLES[service];
      const help = formatHelp(`usage: main.js ${service} [options]`, t);
      const lines = help.split('\n');
      assert.equal(lines[0], `usage: main.js ${service} [options]`);
      for (const s of Object.values(t)) {
        const line = lines.find((l) => l.trimStart().startsWith(`--${s.flag} `));
        assert.ok(line, `${service}: --${s.flag} is listed`);
        assert.ok(line.includes(` ${s.env} `), `${service}: --${s.flag} names ${s.env}`);
        assert.ok(line.includes(`(${s.range})`), `${service}: --${s.flag} gives its range`);
        assert.ok(line.includes(s.help), `${service}: --${s.flag} says what it does`);
      }
      assert.equal(lines.filter((l) => /^\s+--/.test(l)).length, Object.keys(t).length, `${service}: one line per setting`);
    }
    const help = formatHelp('usage', SETTINGS_TABLES.messages);
    assert.match(help, /--store-file\s+STORE_FILE\s+<data-dir>\/store-<engine>-<name>\.db/, 'a computed default shows as its text');
    assert.match(help, /--internal-token\s+INTERNAL_TOKEN\s+\(none\)/);
  });
});

describe('secret settings: a value is never printed', () => {
  const tables = SERVICE_NAMES.map((n) => SETTINGS_TABLES[n]);
  const SHORT = 'sh0rtT0k';
  const SPACED = 'Sp4ced tOk3n qu1te-l0ng-v4lue';
  const VALID = 'V4lid-t0ken-0123456789abcdef';

  test("the internal token is marked secret in every service, the facade's console token too, and nothing else is", () => {
    for (const n of SERVICE_NAMES) assert.equal(SETTINGS_TABLES[n]['internalToken']?.secret, true, n);
    assert.equal(SETTINGS_TABLES.facade['consoleToken']?.secret, true);
    assert.deepEqual([...new Set(secretSettings(tables).map((s) => s.env))].sort(), ['CONSOLE_TOKEN', 'INTERNAL_TOKEN']);
  });

  for (const service of SERVICE_NAMES) {
    test(`${service}: a short or spaced token, by flag, by --flag=value or by env, is refused saying why, without its value`, () => {
      for (const bad of [SHORT, SPACED]) {
        for (const from of [src(['--internal-token', bad]), src([`--internal-token=${bad}`]), src([], { INTERNAL_TOKEN: bad })]) {
          const msg = configError(() => readSettings(SETTINGS_TABLES[service], from));
          assert.match(msg, /^invalid setting --internal-token \/ INTERNAL_TOKEN: expected at least 16 characters without spaces, got a value of \d+ characters/);
          for (const piece of bad.split(' ')) assert.ok(!msg.includes(piece), `"${piece}" is not in: ${msg}`);
        }
      }
      assert.match(configError(() => readSettings(SETTINGS_TABLES[service], src(['--internal-token', SPACED]))), /with white space \(not shown: it is secret\)$/);
      assert.equal(readSettings(SETTINGS_TABLES[service], src(['--internal-token', VALID])).internalToken, VALID);
    });
  }

  test('checkSetting (settings set, settings from the engine) says the same without the value', () => {
    for (const bad of [SHORT, SPACED]) assert.ok(!configError(() => checkSetting(tables, 'INTERNAL_TOKEN', bad)).includes(bad.split(' ')[0]!));
  });

  test('a setting not marked secret still quotes the value (it helps to see it)', () => {
    assert.match(configError(() => readSettings(SETTINGS_TABLES.logging, src(['--port', 'eighty']))), /got "eighty"$/);
  });

  test('--help and the README table show no value for a secret', () => {
    const s = SETTINGS_TABLES.facade['internalToken']!;
    assert.equal(defaultText(s), '(none)');
    const { defaultText: _shown, ...rest } = s;
    assert.equal(defaultText({ ...rest, default: 'would-be-a-secret-default' }), '(secret)');
    assert.match(formatHelp('usage', SETTINGS_TABLES.facade), /--internal-token\s+INTERNAL_TOKEN\s+\(none\)/);
    assert.match(markdownTable([{ who: 'facade', table: SETTINGS_TABLES.facade }]), /\| `--internal-token` \| `INTERNAL_TOKEN` \| \(none\) \|/);
  });

  test('settings list/get show a stored secret only as its length', () => {
    assert.equal(shownValue(tables, 'INTERNAL_TOKEN', VALID), `(secret: ${VALID.length} characters, not shown)`);
    assert.equal(shownValue(tables, 'ATTEMPT_TIMEOUT_MS', '800'), '800');
  });

  test('a command line shown by the launcher has every secret value replaced, however it was written', () => {
    const cases: Array<[string, string]> = [
      [`node main.js logging --internal-token ${VALID} --name logging-1`, 'node main.js logging --internal-token *** --name logging-1'],
      [`node main.js logging --internal-token=${VALID}`, 'node main.js logging --internal-token=***'],
      [`node main.js logging --internal-token ${SPACED} --port 1`, 'node main.js logging --internal-token *** --port 1'],
      ['node main.js logging --internal-token-file /run/token --port 1', 'node main.js logging --internal-token-file /run/token --port 1'],
    ];
    for (const [cmd, shown] of cases) assert.equal(redactCommandLine(cmd, tables), shown);
  });
});
