import { readCommon, type CommonConfig } from '../../shared/common-config.js';
import { SettingsReader, type Source } from '../../shared/settings.js';

export type LoggingConfig = CommonConfig;

export function loadLoggingConfig(src: Source): LoggingConfig {
  const r = new SettingsReader(src);
  const c = readCommon(r, 'logging', 7001);
  r.rejectUnknown();
  return Object.freeze(c);
}
