// The logger every module receives; cli/ decides its format (text on a TTY, plain lines, or JSON).
export interface Logger {
  error(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  debug(msg: string, fields?: Record<string, unknown>): void;
}

export const silentLogger: Logger = { error() {}, warn() {}, info() {}, debug() {} };
