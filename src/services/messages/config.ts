import { join } from 'node:path';
import { readCommon, type CommonConfig } from '../../shared/common-config.js';
import { SettingsReader, type Source } from '../../shared/settings.js';

export interface MessagesConfig extends CommonConfig {
  /** This instance's own SQLite file. */
  storeFile: string;
  pollTimeoutMs: number;
  /** How often the delivery ledger is scanned for lost items. */
  ledgerScanMs: number;
  /** How old an unacknowledged item must be before it is offered again. */
  redeliverAfterMs: number;
}

export function loadMessagesConfig(src: Source): MessagesConfig {
  const r = new SettingsReader(src);
  const c = readCommon(r, 'messages', 5001);
  // Per engine: stores filled against one engine's queue must not show up when running on the other.
  const storeFile = r.string('store-file', 'STORE_FILE', join(c.engine.dataDir, `store-${c.engine.kind}-${c.name}.db`));
  const pollTimeoutMs = r.int('poll-timeout-ms', 'POLL_TIMEOUT_MS', 1000, 10, 60_000);
  const ledgerScanMs = r.int('ledger-scan-ms', 'LEDGER_SCAN_MS', 2000, 50, 600_000);
  const redeliverAfterMs = r.int('redeliver-after-ms', 'REDELIVER_AFTER_MS', 20_000, 100, 3_600_000);
  r.rejectUnknown();
  return Object.freeze({ ...c, storeFile, pollTimeoutMs, ledgerScanMs, redeliverAfterMs });
}
