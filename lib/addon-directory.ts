/**
 * Where the addon is loaded from. By default the package root (node-gyp-build
 * finds build/Release or a matching prebuild there). HSMKMS_ADDON_FLAVOUR
 * names another build of the same sources, for test runs only: a name from a
 * fixed table resolved under the package root, never a path, so the variable
 * cannot make the package load code from elsewhere.
 */
import path from 'node:path';
import { KmsError } from './errors.js';

/** The known flavours and their directories below the package root. */
const FLAVOURS: Readonly<Record<string, string>> = {
  // ASan + UBSan build of scripts/build-sanitize-addon.sh (needs libasan
  // preloaded: scripts/test-sanitize.sh).
  sanitize: 'build-sanitize',
};

/** The directory node-gyp-build loads from, for `flavour` (unset or empty: the shipped build). */
export function addonDirectory(packageRoot: string, flavour: string | undefined): string {
  if (flavour === undefined || flavour === '') return packageRoot;
  const directory = Object.hasOwn(FLAVOURS, flavour) ? FLAVOURS[flavour] : undefined;
  if (directory === undefined) {
    throw new KmsError('ValidationException', `HSMKMS_ADDON_FLAVOUR must be unset or one of: ${Object.keys(FLAVOURS).join(', ')}`);
  }
  return path.join(packageRoot, directory);
}
