/**
 * The logging the emulator needs. `console` and pino loggers both fit. Messages never contain
 * a full API key or webhook secret.
 */
export interface EmulatorLogger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export const silentLogger: EmulatorLogger = {
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};
