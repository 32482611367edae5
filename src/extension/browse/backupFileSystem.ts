// A backup as a read-only folder: VS Code's editors, diff editor and
// binary-file handling work on it as on any file. Listing reads the backup's
// manifest only (cached); a file is read with a ranged GET of just its entry
// and checked against the manifest before a byte is shown (the engine's
// `readFile`). Nothing here writes: backups are immutable, so nothing changes
// either and `watch` has nothing to report.
import * as vscode from 'vscode';
import type { BrowseEntry } from '../../core/engine';
import { isCancelled } from '../../core/util/engineErrors';
import type { Logger } from '../../core/util/engineLogger';
import type { EngineHost } from '../host/engineHost';
import { describeError, errorText } from '../ui/errorFace';
import { BACKUP_SCHEME, parseBackupUri } from './backupUri';

export class BackupFileSystem implements vscode.FileSystemProvider {
  private readonly emitter = new vscode.EventEmitter<vscode.FileChangeEvent[]>();
  readonly onDidChangeFile = this.emitter.event;

  constructor(
    private readonly host: EngineHost,
    private readonly log: Logger,
  ) {}

  /** Registers the provider on our scheme, read-only. */
  static register(host: EngineHost, log: Logger): vscode.Disposable {
    const fs = new BackupFileSystem(host, log);
    return vscode.Disposable.from(vscode.workspace.registerFileSystemProvider(BACKUP_SCHEME, fs, { isReadonly: true, isCaseSensitive: true }), fs.emitter);
  }

  watch(): vscode.Disposable {
    return new vscode.Disposable(() => undefined);
  }

  async stat(uri: vscode.Uri): Promise<vscode.FileStat> {
    const { engine, key, path } = await this.guard(uri, () => this.resolve(uri));
    const e = await this.guard(uri, () => engine.stat(key, path));
    if (!e) throw vscode.FileSystemError.FileNotFound(uri);
    const mtime = e.mtime ? Date.parse(e.mtime) : 0;
    return { type: fileType(e), ctime: mtime, mtime, size: e.size, permissions: vscode.FilePermission.Readonly };
  }

  async readDirectory(uri: vscode.Uri): Promise<[string, vscode.FileType][]> {
    const { engine, key, path } = await this.guard(uri, () => this.resolve(uri));
    const list = await this.guard(uri, () => engine.browse(key, path));
    return list.map((e) => [e.name, fileType(e)]);
  }

  async readFile(uri: vscode.Uri): Promise<Uint8Array> {
    const { engine, key, path } = await this.guard(uri, () => this.resolve(uri));
    const e = await this.guard(uri, () => engine.stat(key, path));
    if (!e) throw vscode.FileSystemError.FileNotFound(uri);
    if (e.kind === 'folder') throw vscode.FileSystemError.FileIsADirectory(uri);
    // A link is shown as what it holds: its target.
    if (e.kind === 'link') return Buffer.from(e.target ?? '', 'utf8');
    const data = await this.guard(uri, () => engine.readFile(key, path));
    this.log.info(`read ${path} (${data.length} bytes) from ${key}`);
    return data;
  }

  createDirectory(uri: vscode.Uri): never {
    throw vscode.FileSystemError.NoPermissions(uri);
  }

  writeFile(uri: vscode.Uri): never {
    throw vscode.FileSystemError.NoPermissions(uri);
  }

  delete(uri: vscode.Uri): never {
    throw vscode.FileSystemError.NoPermissions(uri);
  }

  rename(uri: vscode.Uri): never {
    throw vscode.FileSystemError.NoPermissions(uri);
  }

  private async resolve(uri: vscode.Uri): Promise<{ engine: Awaited<ReturnType<EngineHost['getEngine']>>; key: string; path: string }> {
    const engine = await this.host.getEngine();
    const parsed = parseBackupUri(uri, engine.profile.rootPath);
    if (!parsed) throw vscode.FileSystemError.FileNotFound(uri);
    return { engine, ...parsed };
  }

  /** Engine errors as VS Code's file errors: missing is FileNotFound, the rest one plain sentence (a damaged file says so; no settings: "not configured"). */
  private async guard<T>(uri: vscode.Uri, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (e) {
      if (e instanceof vscode.FileSystemError) throw e;
      if (isCancelled(e)) throw new vscode.CancellationError();
      const face = describeError(e);
      if (face.code === 'NotFound') throw vscode.FileSystemError.FileNotFound(uri);
      this.log.warn(`${uri.path}: ${face.code}: ${e instanceof Error ? e.message : String(e)}`);
      throw vscode.FileSystemError.Unavailable(errorText(face));
    }
  }
}

function fileType(e: BrowseEntry): vscode.FileType {
  if (e.kind === 'folder') return vscode.FileType.Directory;
  return e.kind === 'link' ? vscode.FileType.File | vscode.FileType.SymbolicLink : vscode.FileType.File;
}
