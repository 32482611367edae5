// The permission bits a restored file gets. The backup's mode is a request,
// not an order: a backup (perhaps planted) must not make a file writable by
// everyone where the user's umask forbids it, nor lock the owner out.

/**
 * The backup's permission bits (`mode & 0o777`: never setuid, setgid or
 * sticky) without what the umask takes away, so world-writable only when the
 * umask allows it, and always readable and writable by the owner.
 */
export function restoredMode(mode: number, umask: number): number {
  return (mode & 0o777 & ~umask) | 0o600;
}
