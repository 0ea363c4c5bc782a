/**
 * Which service, and its config: a discriminated union, so the entry and the
 * factories never cast. The settings tables of all three are listed here for
 * `--help`, the README's table and `npm run settings -- set`.
 */
import { readSettings, type Source, type SettingsTable } from '../shared/settings.js';
import { facadeSettings, loadFacadeConfig, type FacadeConfig } from './facade/config.js';
import { loadLoggingConfig, loggingSettings, type LoggingConfig } from './logging/config.js';
import { loadMessagesConfig, messagesSettings, type MessagesConfig } from './messages/config.js';

export type ServiceConfig = FacadeConfig | LoggingConfig | MessagesConfig;
export type ServiceName = ServiceConfig['service'];
export const SERVICE_NAMES: readonly ServiceName[] = ['facade', 'logging', 'messages'];

export const SETTINGS_TABLES: Readonly<Record<ServiceName, SettingsTable>> = {
  facade: facadeSettings,
  logging: loggingSettings,
  messages: messagesSettings,
};

export function isServiceName(s: string | undefined): s is ServiceName {
  return (SERVICE_NAMES as readonly string[]).includes(s ?? '');
}

export function loadServiceConfig(service: ServiceName, src: Source, isTty = false): ServiceConfig {
  switch (service) {
    case 'facade':
      return loadFacadeConfig(src, isTty);
    case 'logging':
      return loadLoggingConfig(src, isTty);
    case 'messages':
      return loadMessagesConfig(src, isTty);
  }
}

/** Validates every setting of the service without building a config (used to check values stored in the engine). */
export function validateSettings(service: ServiceName, src: Source): void {
  readSettings(SETTINGS_TABLES[service], src);
}
