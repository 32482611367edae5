// An error as it crosses between a worker thread and its caller: the fields
// the engine's error mapping looks at (message, code, syscall, path), since an
// Error itself loses its code and syscall in a structured clone.

export interface WorkerError {
  message: string;
  code?: string;
  syscall?: string;
  path?: string;
}

/** On the worker thread: what of `e` goes back to the caller. */
export function toWorkerError(e: unknown): WorkerError {
  const x = e as NodeJS.ErrnoException | undefined;
  return { message: String(x?.message), code: x?.code, syscall: x?.syscall, path: x?.path };
}

/** On the caller's thread: an Error with the same message, code, syscall and path. */
export function fromWorkerError(w: WorkerError): Error {
  return Object.assign(new Error(w.message), { code: w.code, syscall: w.syscall, path: w.path });
}
