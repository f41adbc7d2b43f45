import CFileSync

/// How a daemon's memory is laid out.
public enum ProcessMemory {
    /// Buffers of `threshold` bytes or more (chunks, records) get pages of their own, returned when freed.
    ///
    /// glibc raises its mmap threshold each time such a buffer is freed, up to 32 MiB, after which chunk-sized
    /// buffers come from the per-thread heaps and stay resident once freed: a relay that seals a record per
    /// child per chunk would look as if it held several bundles. A fixed threshold keeps resident memory
    /// following what is live (the chunk cache, the frames in flight), at the cost of one mmap per chunk.
    public static func keepLargeBuffersOutOfTheHeap(threshold: Int32 = 256 << 10) {
        _ = ben_set_mmap_threshold(threshold)
    }
}
