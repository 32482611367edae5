// Which items of a restore plan write a file that runs code (marked by
// planRestore from the list in codeFiles.ts). Light, for the VS Code face too.

/** The items of a plan that would write a code-running file (created or overwritten); `unchanged` ones write nothing. */
export function codeFilesToWrite<T extends { runsCode?: boolean; action: string }>(items: readonly T[]): T[] {
  return items.filter((i) => i.runsCode === true && (i.action === 'create' || i.action === 'overwrite'));
}
