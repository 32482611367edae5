// Files that make a tool run a program without the user asking for that
// program: when a folder opens in VS Code (or another IDE), when VS Code's Git
// support commits or checks out, when a shell enters the folder, or when a
// package manager or runtime starts and reads its configuration. A restore
// marks them in the plan and writes them only on a second, explicit yes.
//
// Not in the list, on purpose:
// - source files, tests, package.json scripts, Makefiles, build scripts and
//   linter or formatter configs: they run only when the user starts a build,
//   an install or a test, and they are the project's own code, reviewed like
//   any source file. Listing them would put the question in front of nearly
//   every restore and teach people to answer it without reading.
// - `.gitattributes` (its filters run only when .git/config defines them),
//   `.gitmodules` (git refuses the command form of `update` from it since
//   2.24.1), `.editorconfig`, and version pins (`.nvmrc`, `.node-version`,
//   `.python-version`, `.tool-versions`), which name an official release.
import ignore, { type Ignore } from 'ignore';

/** One pattern (gitignore syntax, any depth, any case) and why a file matching it can run code. */
export interface CodeFileRule {
  pattern: string;
  why: string;
}

export const CODE_FILE_RULES: readonly CodeFileRule[] = [
  // Editors: read when the folder opens.
  { pattern: '.vscode/', why: 'VS Code folder settings: tasks that run when the folder opens (tasks.json), debug runs (launch.json), settings that name the programs VS Code starts (settings.json), MCP servers (mcp.json)' },
  { pattern: '*.code-workspace', why: 'a VS Code workspace file carries settings, tasks and launch configurations' },
  { pattern: '.devcontainer/', why: 'Dev Containers run its initializeCommand on this computer and its other commands in the container' },
  { pattern: '.devcontainer.json', why: 'Dev Containers run its commands (see .devcontainer/)' },
  { pattern: '.idea/', why: 'JetBrains IDEs run its run configurations and startup tasks' },
  // Git: VS Code's Git support runs hooks on commit and checkout by itself.
  { pattern: '.git', why: "git's repository internals: a config entry such as core.fsmonitor runs a command on the next git status, hooks run on commit" },
  { pattern: '.husky/', why: 'husky git hooks run on commit and push' },
  { pattern: '.githooks/', why: 'the usual core.hooksPath folder: git hooks run on commit and checkout' },
  { pattern: '.pre-commit-config.yaml', why: 'pre-commit runs the hooks it names on every commit' },
  { pattern: '*lefthook*.yml', why: 'lefthook runs the commands it names on commit and push' },
  { pattern: '*lefthook*.yaml', why: 'lefthook runs the commands it names on commit and push' },
  { pattern: '.lintstagedrc*', why: 'lint-staged runs the commands it names from the commit hook' },
  { pattern: 'lint-staged.config.*', why: 'lint-staged runs the commands it names from the commit hook' },
  // Shells and environments.
  { pattern: '.envrc', why: 'direnv runs it when a shell enters the folder' },
  { pattern: '.env', why: 'VS Code (python.envFile) and docker compose load it into terminals and runs; NODE_OPTIONS, LD_PRELOAD or PYTHONSTARTUP there run code' },
  // Package managers and runtimes: their configuration chooses the program that runs.
  { pattern: '.npmrc', why: 'npm reads script-shell, node-options and the registry from it' },
  { pattern: '.yarnrc', why: 'yarn reads the registry and the yarn binary to run from it' },
  { pattern: '.yarnrc.yml', why: 'yarn runs the file its yarnPath names on every command' },
  { pattern: '.yarn/releases/', why: 'yarn runs these on every command' },
  { pattern: '.yarn/plugins/', why: 'yarn loads these on every command' },
  { pattern: '.yarn/sdks/', why: "editor SDKs that VS Code's TypeScript and ESLint support load" },
  { pattern: '.pnp.cjs', why: 'loaded into every Node process of a Plug\'n\'Play project' },
  { pattern: '.pnp.loader.mjs', why: "loaded into every Node process of a Plug'n'Play project" },
  { pattern: '.pnpmfile.cjs', why: 'pnpm runs its hooks on install' },
  { pattern: 'bunfig.toml', why: 'bun loads the preload scripts it names' },
  { pattern: '.venv/', why: 'the Python extension finds this environment and runs its interpreter when the folder opens' },
  { pattern: 'venv/', why: 'the Python extension finds this environment and runs its interpreter when the folder opens' },
  { pattern: '**/gradle/wrapper/', why: 'the Gradle wrapper downloads and runs the Gradle its properties name; Java support imports the project when it opens' },
  { pattern: '.mvn/', why: 'the Maven wrapper and extensions: downloads and runs the Maven and extensions it names' },
];

// Made on the first question, not when the engine bundle loads: building it
// there was ~7 ms of the engine's first use, which a listing never needs.
let matcher: Ignore | undefined;

/**
 * A piece of literal text of each rule: a path that matches a rule holds its
 * piece (any case), so a path holding none is answered without the matcher
 * (100,000 files: ~0.2 s of the restore's plan). Tested against every rule.
 */
export const CODE_FILE_HINTS: readonly string[] = [
  '.vscode', 'code-workspace', '.devcontainer', '.idea', '.git', '.husky', '.pre-commit', 'lefthook', 'lintstaged', 'lint-staged',
  '.env', '.npmrc', '.yarn', '.pnp', 'bunfig', 'venv', 'gradle', '.mvn',
];

/** Whether a file at `relPath` (POSIX, relative to the restored folder) can make a tool run code on its own. */
export function runsCode(relPath: string): boolean {
  const lower = relPath.toLowerCase();
  return CODE_FILE_HINTS.some((h) => lower.includes(h)) && (matcher ??= ignore().add(CODE_FILE_RULES.map((r) => r.pattern))).ignores(relPath);
}
