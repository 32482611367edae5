/*
 * Shared pieces for tests that need a real VS Code (code-server, in the version
 * named by S3B_VSCODE_VERSION, see codeServer.ts) and a real
 * browser (headless Debian Chromium through playwright-core):
 *
 *   codeServer.ts      installCodeServer, startCodeServer, installExtension, makeSandbox, writeUserSettings
 *   browser.ts         launchBrowser, openWorkbench, runCommand (F1), pickQuickPickItem, answerInput,
 *                      waitForNotification, clickNotificationButton, clickDialogButton, openViewContainer,
 *                      treeItem, contextMenu, webviewFrame, screenshot (.test-artifacts/<group>/<name>.png)
 *   extensionTests.ts  runExtensionTests: a mocha entry inside code-server's extension host
 *   env.ts             loadRgwEnv: S3_TEST_* from .cache/rgw/env when not already set
 *
 * Set S3B_KEEP_TMP=1 to keep temp folders, S3B_CODE_SERVER_LOG=1 to see server output.
 */
export * from './paths';
export * from './codeServer';
export * from './browser';
export * from './extensionTests';
export * from './env';
