/** Public API of artifacts: the catalogue, checksum parsers, the verified cache/resolver, binary extraction. */
export {
  ArtifactError,
  COMPONENTS,
  artifactFor,
  installTargets,
  mirrorUrl,
  type ArtifactSpec,
  type ChecksumFormat,
  type Component,
  type InstallRule,
} from './catalogue.js';
export { expectedSha256, parseChecksumFile, sha256File, type ChecksumEntry } from './checksums.js';
export {
  ArtifactResolver,
  defaultCacheDir,
  resolveArtifact,
  sourceFromInventory,
  type ArtifactSource,
  type ResolvedArtifact,
  type ResolverOptions,
} from './cache.js';
export { extractBinaries, type ExtractedBinary } from './extract.js';
