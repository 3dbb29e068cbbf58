/**
 * The shape of one tar entry as tbah sees it, shared by the writer, the reader
 * and the safe applier. Times are whole seconds: layers carry no sub-second
 * times so that the same tree always gives the same bytes.
 */
/** Largest uid/gid a file can have: ids are 32 bits and 4294967295 is (uid_t)-1, "leave unchanged" to chown(2). */
export const MAX_ID = 4294967294;

export type TarEntryType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo';

export interface TarHeader {
  /** Relative path inside the archive, '/'-separated, no leading '/' or './', no trailing '/'. */
  name: string;
  type: TarEntryType;
  /** Permission bits including setuid/setgid/sticky (mask 0o7777). */
  mode: number;
  uid: number;
  gid: number;
  /** Bytes of content; 0 for everything but 'file'. */
  size: number;
  /** Modification time, whole seconds since the epoch (may be negative or beyond 2038). */
  mtime: number;
  /** Target of a symlink, or the archive path of a hardlink's first occurrence. */
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  /** Extended attributes, values are raw bytes (e.g. security.capability). */
  xattrs?: Map<string, Buffer>;
}
