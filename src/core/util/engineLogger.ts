/** The engine's logging seam: the extension passes its LogOutputChannel, the CLI stderr, tests nothing. */
export interface Logger {
  trace(message: string): void;
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

const noop = (): void => undefined;
export const nullLogger: Logger = { trace: noop, debug: noop, info: noop, warn: noop, error: noop };

/** Returns a logger that prefixes every line with `[component]`. */
export function prefixed(logger: Logger, component: string): Logger {
  const p = `[${component}] `;
  return {
    trace: (m) => logger.trace(p + m),
    debug: (m) => logger.debug(p + m),
    info: (m) => logger.info(p + m),
    warn: (m) => logger.warn(p + m),
    error: (m) => logger.error(p + m),
  };
}
