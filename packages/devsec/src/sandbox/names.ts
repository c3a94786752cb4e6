/**
 * A Compose project or resource name from anything (Nx names may hold `@`, `/`, upper case):
 * lower-case letters, digits, `-` and `_`, starting with a letter or digit.
 */
export function composeSafeName(name: string): string {
  const safe = name
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '-')
    .replace(/^[-_]+|[-_]+$/g, '')
    .replace(/-{2,}/g, '-');
  return safe === '' ? 'project' : safe;
}

/** Docker network names: what dockerd accepts, kept to a DNS-friendly subset. */
export const NETWORK_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/;

/**
 * An image reference as Docker parses it: [registry[:port]/]path[:tag][@digest], no spaces.
 * Kept permissive on the path, strict on the characters.
 */
export const IMAGE_REFERENCE =
  /^(?:[a-zA-Z0-9.-]+(?::[0-9]+)?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/;

/** A Debian package name (policy §5.6.1). */
export const APT_PACKAGE = /^[a-z0-9][a-z0-9+.-]+$/;
