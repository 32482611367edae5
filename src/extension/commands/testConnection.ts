import * as vscode from 'vscode';
import type { ConnectionReport, ConnectionStep } from '../../core/engine';
import type { Services } from './services';
import { withEngineProgress } from '../ui/engineProgress';
import { showError } from './registerCommand';
import { exposureFound } from '../host/exposureMemory';
import { isCleartextEndpoint } from '../../core/storage/profile';
import { cleartextWarning, publicWarning } from '../ui/exposureText';

/** Checks the bucket, then writes, reads back and deletes a probe object; says which step failed. */
export async function testConnection(s: Services): Promise<ConnectionReport> {
  const engine = await s.engineHost.getEngine();
  const report = await withEngineProgress(vscode.l10n.t('Testing the connection to bucket {0}', engine.profile.bucket), [], (call) =>
    engine.testConnection({ signal: call.signal }),
  );
  const log = s.log.for('test');
  for (const st of report.steps) log.info(`${st.step}: ${st.ok ? 'ok' : `failed (${st.error?.code ?? 'unknown'})`}`);
  if (report.access) await s.exposure.record(engine.profile, report.access);
  warnExposure(s, report, engine.profile.endpoint);
  const failed = report.steps.find((st) => !st.ok);
  if (report.ok || !failed) {
    void s.prompts.showInformationMessage(
      vscode.l10n.t('The connection works: the bucket {0} is reachable, and a test object was written, read back and deleted.', engine.profile.bucket),
      {},
    );
  } else {
    showError(s, failed.error, 'testConnection', vscode.l10n.t('Connection test failed at the step "{0}".', stepLabel(failed.step)));
  }
  return report;
}

/** The private-bucket and cleartext warnings of a test, as notifications; "How to Fix" opens the settings page, which says more. */
function warnExposure(s: Services, report: ConnectionReport, endpoint: string): void {
  const howToFix = vscode.l10n.t('How to Fix');
  const open = (choice: string | undefined): void => {
    if (choice === howToFix) void vscode.commands.executeCommand('s3Backup.openSettings');
  };
  const w = report.access ? publicWarning(exposureFound(report.access), endpoint) : undefined;
  if (w) void s.prompts.showWarningMessage(`${w.title} ${w.meaning}`, {}, howToFix).then(open);
  if (report.cleartext || isCleartextEndpoint(endpoint)) {
    const c = cleartextWarning();
    void s.prompts.showWarningMessage(`${c.title}: ${c.text}`, {}).then(open);
  }
}

/** The name of a connection test step, as the settings page also shows it. */
function stepLabel(step: ConnectionStep['step']): string {
  switch (step) {
    case 'bucket':
      return vscode.l10n.t('Reach the bucket');
    case 'write':
      return vscode.l10n.t('Write a test object');
    case 'read':
      return vscode.l10n.t('Read it back');
    case 'delete':
      return vscode.l10n.t('Delete it');
  }
}
