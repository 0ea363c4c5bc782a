import { join } from 'node:path';
import { readCommon, type CommonConfig } from '../../shared/common-config.js';
import { SettingsReader, type Source } from '../../shared/settings.js';

export interface MessagesConfig extends CommonConfig {
  /** This instance's own SQLite file. */
  storeFile: string;
  pollTimeoutMs: number;
}

export function loadMessagesConfig(src: Source): MessagesConfig {
  const r = new SettingsReader(src);
  const c = readCommon(r, 'messages', 5001);
  // Per engine: stores filled against one engine's queue must not show up when running on the other.
  const storeFile = r.string('store-file', 'STORE_FILE', join(c.engine.dataDir, `store-${c.engine.kind}-${c.name}.db`));
  const pollTimeoutMs = r.int('poll-timeout-ms', 'POLL_TIMEOUT_MS', 1000, 10, 60_000);
  r.rejectUnknown();
  return Object.freeze({ ...c, storeFile, pollTimeoutMs });
}
