import { pathToFileURL } from 'node:url';

/** True when the module at `moduleUrl` is the script node started (not an import). */
export function isMain(moduleUrl: string): boolean {
  return process.argv[1] !== undefined && pathToFileURL(process.argv[1]).href === moduleUrl;
}
