export declare function leafHash(input: Uint8Array): Buffer;
export declare function merkleRoot(leaves: readonly Uint8Array[]): Buffer;
