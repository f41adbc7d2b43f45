import CFileSync

/// How a daemon's memory is laid out.
public enum ProcessMemory {
    /// Chunk-sized buffers (a received record, a sealed record per child, a chunk read from the store) come from
    /// the heap and are reused once freed, instead of each getting fresh pages of its own.
    ///
    /// With glibc's defaults, or a low fixed mmap threshold, every 1 MiB buffer was an mmap: the kernel zeroes
    /// and faults in 256 new pages and unmaps them when the buffer is freed, which cost more than the cipher
    /// (issue 12's profile of a relay: page faults, page clearing and unmapping were the largest entries after
    /// the copy into the page cache). Buffers up to `mmapThreshold` (4 MiB: a chunk of the default size, or a
    /// record of the largest frame a fleet allows by default) now stay in the heap. Free memory at the top of a
    /// heap beyond `trimThreshold` still goes back to the kernel, so resident memory follows what is live plus
    /// that much. Measured on a chain ledger -> relay -> leaf, 256 MiB (Benchmarks/profile_relay.py): the relay
    /// 10.5–11.6 -> 7.2–7.7 CPU-s per GiB relayed, the ledger 5.7–6.2 -> 2.5–2.8, peak RSS +7 MiB and +40 MiB.
    public static func reuseChunkBuffers(mmapThreshold: Int32 = 4 << 20, trimThreshold: Int32 = 16 << 20) {
        _ = ben_set_mmap_threshold(mmapThreshold)
        _ = ben_set_trim_threshold(trimThreshold)
    }
}
