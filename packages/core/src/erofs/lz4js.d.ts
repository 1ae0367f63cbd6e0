// lz4js ships no types; the one function the decompressor uses.
declare module 'lz4js' {
  /** Decode a raw LZ4 block src[sIndex, sIndex + sLength) into dst from dIndex; returns the end index in dst. */
  export function decompressBlock(
    src: Uint8Array,
    dst: Uint8Array,
    sIndex: number,
    sLength: number,
    dIndex: number,
  ): number;
  const lz4: { decompressBlock: typeof decompressBlock };
  export default lz4;
}
