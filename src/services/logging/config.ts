import { commonFrom, commonSettings, type CommonConfig } from '../../shared/common-config.js';
import { readSettings, type Source } from '../../shared/settings.js';

/** The logging service's settings: the common ones only. */
export const loggingSettings = commonSettings('logging', 7001);

export interface LoggingConfig extends CommonConfig {
  service: 'logging';
}

export function loadLoggingConfig(src: Source, isTty = false): LoggingConfig {
  return Object.freeze({ service: 'logging', ...commonFrom(readSettings(loggingSettings, src), isTty) });
}
