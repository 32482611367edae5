import * as vscode from 'vscode';
import { isCancelled } from '../../core/util/engineErrors';
import { compareNewestFirst, type BackupRef } from '../../core/format/backupKeys';
import type { Logger } from '../../core/util/engineLogger';
import type { EngineHost } from '../host/engineHost';
import { describeError, errorText } from '../ui/errorFace';
import type { BrowseEntry } from '../../core/format/manifestIndex';
import { exposureDetail, exposureTitle, publicWarning } from '../ui/exposureText';
import type { ExposureMemory } from '../host/exposureMemory';
import { BackupFileNode, BackupFolderNode, BackupLinkNode, BackupNode, LoadMoreNode, MachineNode, MessageNode, MoreEntriesNode, type BackupEntryNode, type BackupsNode, type EntryParent } from './nodes';

export const VIEW_ID = 's3Backup.backups';
/** The activity-bar container of the view (package.json `viewsContainers`). */
export const VIEW_CONTAINER_ID = 's3Backup';
/** Context keys driving `viewsWelcome` and menus. */
const CONFIGURED_KEY = 's3Backup.configured';
const EMPTY_KEY = 's3Backup.empty';
/** Manifest headers read at once for the rows' marks (summariseSoon). */
const SUMMARY_READS = 3;

type Engine = Awaited<ReturnType<EngineHost['getEngine']>>;

type State =
  | { kind: 'idle' }
  | { kind: 'unconfigured' }
  | { kind: 'loading' }
  | { kind: 'loaded'; machines: MachineNode[] }
  | { kind: 'error'; error: unknown };

/**
 * The backups in the bucket, grouped by machine (this one first), newest
 * first, a page at a time. The whole listing is fetched once per refresh
 * (S3 lists oldest first, so "newest first" needs all keys); paging only
 * limits how many nodes are built.
 */
function entryNode(parent: EntryParent, e: BrowseEntry): BackupEntryNode {
  if (e.kind === 'folder') return new BackupFolderNode(parent.ref, e, parent);
  return e.kind === 'link' ? new BackupLinkNode(parent.ref, e, parent) : new BackupFileNode(parent.ref, e, parent);
}

export class BackupsProvider implements vscode.TreeDataProvider<BackupsNode>, vscode.Disposable {
  static readonly PAGE_SIZE = 50;
  /** Entries of one folder inside a backup shown at a time: a flat folder of 70,000 files must not become 70,000 rows at once. */
  static readonly ENTRY_PAGE_SIZE = 500;

  private readonly emitter = new vscode.EventEmitter<BackupsNode | BackupsNode[] | undefined | void>();
  readonly onDidChangeTreeData = this.emitter.event;
  private state: State = { kind: 'idle' };
  private generation = 0;
  private pending: Promise<void> = Promise.resolve();
  private abort: AbortController | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private readonly shown = new Map<string, number>();
  /** Per backup or folder node id: how many of its entries are shown, and the node (for "Load More…"). */
  private readonly entriesShown = new Map<string, number>();
  private readonly entryParents = new Map<string, EntryParent>();
  private readonly fileCounts = new Map<string, number>();
  /** Keys whose manifest header is being read for their row (summariseSoon). */
  private readonly summarising = new Set<string>();
  /** One node per key for the loaded listing: `TreeView.reveal` finds elements by identity. */
  private nodes = new Map<string, BackupNode>();
  /** Every context key this provider set, with its last value (tests read it; VS Code offers no getter). */
  readonly contextKeys = new Map<string, unknown>();
  private readonly subs: vscode.Disposable[] = [];
  /** The private-bucket warning above the backups, when the last check found the bucket public. */
  private exposureNode: MessageNode | undefined;
  private exposure: Pick<ExposureMemory, 'get' | 'onDidChange'> | undefined;
  /** Renews the rows' ages ("5 minutes ago") while a listing is shown. */
  private readonly ages = setInterval(() => this.updateAges(), 60_000);

  constructor(
    private readonly host: EngineHost,
    private readonly log: Logger,
  ) {
    this.subs.push(host.onDidChange(() => this.settingsChanged()));
  }

  /** Shows the private-bucket check's warning for the configured bucket and root path at the top of the tree. */
  showExposure(memory: Pick<ExposureMemory, 'get' | 'onDidChange'>): void {
    this.exposure = memory;
    this.subs.push(memory.onDidChange(() => void this.updateExposure()));
  }

  /** The warning node now shown, if any (tests read it). */
  get exposureWarning(): MessageNode | undefined {
    return this.exposureNode;
  }

  private async updateExposure(): Promise<void> {
    if (!this.exposure) return;
    let node: MessageNode | undefined;
    try {
      const p = await this.host.profile();
      const w = publicWarning(this.exposure.get(p)?.found ?? '', p.endpoint);
      node = w
        ? new MessageNode('warning', exposureTitle(), {
            id: 'message:publicBucket',
            tooltip: exposureDetail(w),
            command: { command: 's3Backup.openSettings', title: vscode.l10n.t('Open Settings') },
          })
        : undefined;
    } catch {
      node = undefined; // not configured: nothing to warn about
    }
    if (node?.tooltip === this.exposureNode?.tooltip) return;
    this.exposureNode = node;
    this.emitter.fire();
  }

  getTreeItem(node: BackupsNode): vscode.TreeItem {
    return node;
  }

  /**
   * On hover, a format-2 backup's tooltip gets its totals from the first
   * bytes of its manifest (one small ranged GET). A failure leaves the
   * tooltip as it was: hovering is no place for an error.
   */
  async resolveTreeItem(item: vscode.TreeItem, node: BackupsNode, token: vscode.CancellationToken): Promise<vscode.TreeItem> {
    if (!(node instanceof BackupNode) || node.ref.format !== 2 || node.summarised) return item;
    const abort = new AbortController();
    const sub = token.onCancellationRequested(() => abort.abort());
    try {
      await this.summariseRow(await this.host.getEngine(), node, abort.signal);
    } catch (e) {
      this.log.debug(`No summary for ${node.ref.key}: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      sub.dispose();
    }
    return node;
  }

  /** Reads a backup row's manifest header into it; whether it did. A failure is logged, never shown: a row is no place for an error. */
  private async summariseRow(engine: Engine, node: BackupNode, signal?: AbortSignal): Promise<boolean> {
    try {
      const header = await engine.summary(node.ref, { signal });
      if (!header) return false;
      node.summarise(header);
      return true;
    } catch (e) {
      if (!isCancelled(e)) this.log.debug(`No summary for ${node.ref.key}: ${e instanceof Error ? e.message : String(e)}`);
      return false;
    }
  }

  /**
   * The rows shown whose manifest header was not read yet: read in the
   * background, a few at a time (one small ranged GET each, cached by the
   * engine), so every row says whether it is encrypted, and its tooltip has
   * the totals, without a hover. A refresh stops what is left.
   */
  private summariseSoon(rows: readonly BackupNode[]): void {
    const todo = rows.filter((n) => n.ref.format === 2 && !n.summarised && !this.summarising.has(n.ref.key));
    if (todo.length === 0) return;
    const gen = this.generation;
    const signal = this.abort?.signal;
    for (const n of todo) this.summarising.add(n.ref.key);
    const live = (): boolean => gen === this.generation && !signal?.aborted;
    void (async () => {
      try {
        const engine = await this.host.getEngine();
        let next = 0;
        const one = async (): Promise<void> => {
          while (next < todo.length && live()) {
            const n = todo[next++];
            if ((await this.summariseRow(engine, n, signal)) && live()) this.emitter.fire(n);
          }
        };
        await Promise.all(Array.from({ length: SUMMARY_READS }, one));
      } catch (e) {
        this.log.debug(`No summaries: ${e instanceof Error ? e.message : String(e)}`);
      } finally {
        for (const n of todo) this.summarising.delete(n.ref.key);
      }
    })();
  }

  /** The top and machines answer at once; a backup's and a folder's entries come from its manifest. */
  getChildren(node?: MachineNode): BackupsNode[];
  getChildren(node?: BackupsNode): BackupsNode[] | Promise<BackupsNode[]>;
  getChildren(node?: BackupsNode): BackupsNode[] | Promise<BackupsNode[]> {
    if (!node) return this.rootChildren();
    if (node instanceof BackupNode || node instanceof BackupFolderNode) return this.entriesOf(node);
    if (node instanceof MachineNode) {
      const shown = this.shown.get(node.host) ?? BackupsProvider.PAGE_SIZE;
      const rows = node.refs.slice(0, shown).map((r) => this.nodeFor(r, node));
      this.summariseSoon(rows);
      return node.refs.length > shown ? [...rows, new LoadMoreNode(node, shown)] : rows;
    }
    return [];
  }

  getParent(node: BackupsNode): BackupsNode | undefined {
    return node instanceof BackupNode || node instanceof LoadMoreNode || node instanceof MoreEntriesNode || node instanceof BackupFolderNode || node instanceof BackupFileNode || node instanceof BackupLinkNode
      ? node.parent
      : undefined;
  }

  /**
   * A backup's (or a folder's) children, from its manifest alone: a backup
   * shows its workspace folders (and app data) at the top. A failure becomes
   * one error line under the node.
   */
  private async entriesOf(node: EntryParent): Promise<BackupsNode[]> {
    const key = node.ref.key;
    try {
      const engine = await this.host.getEngine();
      let entries: BrowseEntry[];
      if (node instanceof BackupNode) {
        const top = await engine.browse(key, '');
        entries = [];
        for (const e of top) entries.push(...(e.path === 'workspace' && e.kind === 'folder' ? await engine.browse(key, 'workspace') : [e]));
      } else {
        entries = await engine.browse(key, node.entry.path);
      }
      const id = node.id ?? key;
      this.entryParents.set(id, node);
      const shown = this.entriesShown.get(id) ?? BackupsProvider.ENTRY_PAGE_SIZE;
      const children: BackupsNode[] = entries.slice(0, shown).map((e) => entryNode(node, e));
      if (entries.length > shown) children.push(new MoreEntriesNode(node, shown, entries.length));
      return children;
    } catch (e) {
      const face = describeError(e);
      this.log.warn(`could not list ${key}: ${face.code}: ${e instanceof Error ? e.message : String(e)}`);
      return [new MessageNode('error', face.message, { tooltip: errorText(face), id: `message:error:${node.id ?? key}` })];
    }
  }

  /**
   * Lists the bucket again. Resolves once the tree has settled (also when a
   * later refresh superseded this one); never rejects: errors become the
   * error state.
   */
  refresh(): Promise<void> {
    clearTimeout(this.debounce);
    const gen = ++this.generation;
    this.abort?.abort();
    const abort = (this.abort = new AbortController());
    this.setState({ kind: 'loading' });
    const run = this.load(gen, abort.signal);
    this.pending = run;
    void vscode.window.withProgress({ location: { viewId: VIEW_ID } }, () => run);
    return this.settled();
  }

  /** Updates `s3Backup.configured` without listing (activation, and while the view was never shown). */
  async updateConfigured(): Promise<boolean> {
    const configured = await this.host.isConfigured();
    await this.setContext(CONFIGURED_KEY, configured);
    if (!configured) await this.setContext(EMPTY_KEY, false);
    return configured;
  }

  /** All backups, newest first, this machine's first; loads the list when the tree has not. Throws the listing error. */
  async backups(): Promise<BackupRef[]> {
    if (this.state.kind !== 'loaded') {
      if (this.state.kind === 'loading') await this.settled();
      else await this.refresh();
    }
    const s = this.state as State;
    if (s.kind === 'error') throw s.error;
    if (s.kind !== 'loaded') {
      await this.host.profile(); // throws the "not configured" error
      return [];
    }
    return s.machines.flatMap((m) => [...m.refs]);
  }

  /** The node of a backup, paging in as far as needed. */
  findBackupNode(key: string): BackupNode | undefined {
    if (this.state.kind !== 'loaded') return undefined;
    for (const m of this.state.machines) {
      const i = m.refs.findIndex((r) => r.key === key);
      if (i < 0) continue;
      if (i >= (this.shown.get(m.host) ?? BackupsProvider.PAGE_SIZE)) {
        this.shown.set(m.host, Math.ceil((i + 1) / BackupsProvider.PAGE_SIZE) * BackupsProvider.PAGE_SIZE);
        this.emitter.fire(m);
      }
      return this.nodeFor(m.refs[i], m);
    }
    return undefined;
  }

  private nodeFor(ref: BackupRef, machine: MachineNode): BackupNode {
    let n = this.nodes.get(ref.key);
    if (!n || n.parent !== machine) {
      n = new BackupNode(ref, machine, this.fileCounts.get(ref.key));
      this.nodes.set(ref.key, n);
    }
    return n;
  }

  /** Shows the next page of one machine's backups. */
  loadMore(host: string): void {
    if (this.state.kind !== 'loaded') return;
    const machine = this.state.machines.find((m) => m.host === host);
    if (!machine) return;
    this.shown.set(host, (this.shown.get(host) ?? BackupsProvider.PAGE_SIZE) + BackupsProvider.PAGE_SIZE);
    this.emitter.fire(machine);
  }

  /** Shows the next page of a big folder inside a backup (its "Load More…" node). */
  loadMoreEntries(id: string): void {
    const node = this.entryParents.get(id);
    if (!node) return;
    this.entriesShown.set(id, (this.entriesShown.get(id) ?? BackupsProvider.ENTRY_PAGE_SIZE) + BackupsProvider.ENTRY_PAGE_SIZE);
    this.emitter.fire(node);
  }

  /** Remembers a backup's file count for its tooltip (known after a backup, details or restore). */
  noteFiles(key: string, files: number): void {
    if (this.fileCounts.get(key) === files) return;
    this.fileCounts.set(key, files);
    const old = this.nodes.get(key);
    if (old) {
      this.nodes.set(key, new BackupNode(old.ref, old.parent, files));
      this.emitter.fire(old.parent);
    }
  }

  /** The minute tick (public for tests: `now` moves the clock). */
  updateAges(now = Date.now()): void {
    if (this.state.kind !== 'loaded' || this.nodes.size === 0) return;
    // Only the rows that now read differently, each refreshed in place. A refresh of the whole
    // tree makes VS Code fetch every row anew, and a context-menu command picked in that moment
    // can find its row gone (it then asks which backup instead of restoring the one clicked).
    const changed = [...this.nodes.values()].filter((n) => n.updateAge(now));
    if (changed.length > 0) this.emitter.fire(changed);
  }

  dispose(): void {
    clearInterval(this.ages);
    clearTimeout(this.debounce);
    this.abort?.abort();
    for (const s of this.subs) s.dispose();
    this.emitter.dispose();
  }

  private rootChildren(): BackupsNode[] {
    switch (this.state.kind) {
      case 'idle':
        void this.refresh();
        return [this.loadingNode()];
      case 'loading':
        return [this.loadingNode()];
      case 'unconfigured':
        return []; // viewsWelcome: "Configure S3 Storage"
      case 'error': {
        const face = describeError(this.state.error);
        return [
          ...(this.exposureNode ? [this.exposureNode] : []),
          new MessageNode('error', face.message, { tooltip: errorText(face) }),
          new MessageNode('action', vscode.l10n.t('Open Settings'), {
            id: 'message:openSettings',
            icon: 'gear',
            command: { command: 's3Backup.openSettings', title: vscode.l10n.t('Open Settings') },
          }),
          new MessageNode('action', vscode.l10n.t('Show Log'), {
            id: 'message:showLog',
            icon: 'output',
            command: { command: 's3Backup.showLog', title: vscode.l10n.t('Show Log') },
          }),
        ];
      }
      case 'loaded':
        // None (and no warning): viewsWelcome "Back Up Workspace".
        return this.exposureNode ? [this.exposureNode, ...this.state.machines] : this.state.machines;
    }
  }

  private loadingNode(): MessageNode {
    return new MessageNode('loading', vscode.l10n.t('Loading backups…'));
  }

  private async load(gen: number, signal: AbortSignal): Promise<void> {
    const current = (): boolean => gen === this.generation;
    try {
      const configured = await this.updateConfigured();
      if (!current()) return;
      if (!configured) {
        this.setState({ kind: 'unconfigured' });
        return;
      }
      const started = Date.now();
      await this.updateExposure();
      const engine = await this.host.getEngine();
      const refs = await engine.listAll({ signal });
      if (!current()) return;
      this.log.info(`listed ${refs.length} backups in ${Date.now() - started} ms`);
      this.setState({ kind: 'loaded', machines: this.group(refs) });
      await this.setContext(EMPTY_KEY, refs.length === 0);
    } catch (e) {
      if (!current()) return;
      if (isCancelled(e) && signal.aborted) return;
      const face = describeError(e);
      this.log.warn(`listing failed: ${face.code}: ${e instanceof Error ? e.message : String(e)}`);
      this.setState({ kind: 'error', error: e });
      await this.setContext(EMPTY_KEY, false);
    }
  }

  private group(refs: BackupRef[]): MachineNode[] {
    const byHost = new Map<string, BackupRef[]>();
    for (const r of refs) {
      const list = byHost.get(r.host);
      if (list) list.push(r);
      else byHost.set(r.host, [r]);
    }
    const machines = [...byHost].map(([host, list]) => new MachineNode(host, list.sort(compareNewestFirst), this.host.isThisMachine(host)));
    return machines.sort((a, b) => {
      if (a.thisMachine !== b.thisMachine) return a.thisMachine ? -1 : 1;
      return compareNewestFirst(a.refs[0], b.refs[0]);
    });
  }

  private settingsChanged(): void {
    if (this.state.kind === 'idle') {
      void this.updateConfigured();
      return;
    }
    // Saving the settings page changes several settings and two secrets at once: list once.
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => void this.refresh(), 150);
  }

  private async settled(): Promise<void> {
    let p: Promise<void>;
    do {
      p = this.pending;
      await p;
    } while (p !== this.pending);
  }

  private setState(s: State): void {
    this.state = s;
    this.nodes = new Map();
    this.entryParents.clear();
    this.emitter.fire();
  }

  private async setContext(key: string, value: unknown): Promise<void> {
    this.contextKeys.set(key, value);
    await vscode.commands.executeCommand('setContext', key, value);
  }
}
