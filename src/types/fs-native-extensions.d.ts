// Minimal types for the parts of fs-native-extensions tbah uses (OFD locks, xattrs on fds).
declare module 'fs-native-extensions' {
  interface LockOptions { shared?: boolean }
  export function tryLock(fd: number, opts?: LockOptions): boolean;
  export function waitForLock(fd: number, opts?: LockOptions): Promise<void>;
  export function unlock(fd: number): void;
  export function getAttr(fd: number, name: string): Promise<Buffer | null>;
  export function getAttrSync(fd: number, name: string): Buffer | null;
  export function setAttr(fd: number, name: string, value: Buffer | string): Promise<void>;
  export function setAttrSync(fd: number, name: string, value: Buffer | string): void;
  export function removeAttr(fd: number, name: string): Promise<void>;
  export function removeAttrSync(fd: number, name: string): void;
  export function listAttrs(fd: number): Promise<string[]>;
  export function listAttrsSync(fd: number): string[];
  const _default: {
    tryLock: typeof tryLock; waitForLock: typeof waitForLock; unlock: typeof unlock;
    getAttr: typeof getAttr; getAttrSync: typeof getAttrSync; setAttr: typeof setAttr; setAttrSync: typeof setAttrSync;
    removeAttr: typeof removeAttr; removeAttrSync: typeof removeAttrSync; listAttrs: typeof listAttrs; listAttrsSync: typeof listAttrsSync;
  };
  export default _default;
}
