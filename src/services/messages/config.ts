import { join, resolve } from 'node:path';
import { commonFrom, commonSettings, type CommonConfig } from '../../shared/common-config.js';
import { readSettings, setting, type Source } from '../../shared/settings.js';

/** The messages service's settings, declared once. */
export const messagesSettings = {
  ...commonSettings('messages', 5001),
  // Per engine: stores filled against one engine's queue must not show up when running on the other.
  storeFile: {
    ...setting.text('store-file', 'STORE_FILE', (got) => join(String(got.dataDir), `store-${String(got.engine)}-${String(got.name)}.db`), 'this instance\'s own SQLite store'),
    defaultText: '<data-dir>/store-<engine>-<name>.db',
  },
  pollTimeoutMs: setting.int('poll-timeout-ms', 'POLL_TIMEOUT_MS', 1000, 10, 60_000, 'longest single wait for an item; bounds how long a stop takes'),
} as const;

export interface MessagesConfig extends CommonConfig {
  service: 'messages';
  /** This instance's own SQLite file. */
  storeFile: string;
  pollTimeoutMs: number;
}

export function loadMessagesConfig(src: Source, isTty = false): MessagesConfig {
  const v = readSettings(messagesSettings, src);
  return Object.freeze({ service: 'messages', ...commonFrom(v, isTty), storeFile: v.storeFile === ':memory:' ? v.storeFile : resolve(v.storeFile), pollTimeoutMs: v.pollTimeoutMs });
}
