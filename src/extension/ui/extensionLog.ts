import * as vscode from 'vscode';
import { scrubSecrets } from '../../core/util/engineErrors';
import { type Logger, prefixed } from '../../core/util/engineLogger';

type Level = 'trace' | 'debug' | 'info' | 'warn' | 'error';

/**
 * The extension's log: one LogOutputChannel "S3 Backup" that the engine and the
 * face write to with `[component]` prefixes. Every line is scrubbed of the
 * secrets it has been told about, as a last line of defence: the engine never
 * puts a secret into a message, but an SDK error text might.
 */
export class Log implements Logger, vscode.Disposable {
  readonly channel: vscode.LogOutputChannel;
  private readonly secrets = new Set<string>();
  /** In ExtensionMode.Test only: every line written, so tests can check what reached the log. */
  readonly captured: string[] | undefined;

  constructor(o: { capture?: boolean } = {}) {
    this.channel = vscode.window.createOutputChannel('S3 Backup', { log: true });
    this.captured = o.capture ? [] : undefined;
  }

  /** Remembers secrets to scrub from every later line (the stored one, and any typed into the settings page). */
  addSecrets(...secrets: Array<string | undefined>): void {
    for (const s of secrets) if (s) this.secrets.add(s);
  }

  /** A logger for one component: every line starts with `[component]`. */
  for(component: string): Logger {
    return prefixed(this, component);
  }

  trace(message: string): void {
    this.write('trace', message);
  }
  debug(message: string): void {
    this.write('debug', message);
  }
  info(message: string): void {
    this.write('info', message);
  }
  warn(message: string): void {
    this.write('warn', message);
  }
  error(message: string): void {
    this.write('error', message);
  }

  show(): void {
    this.channel.show(true);
  }

  dispose(): void {
    this.channel.dispose();
  }

  private write(level: Level, message: string): void {
    const clean = scrubSecrets(message, [...this.secrets]);
    this.captured?.push(`${level} ${clean}`);
    this.channel[level](clean);
  }
}
