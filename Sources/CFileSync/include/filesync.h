#ifndef BEN_FILESYNC_H
#define BEN_FILESYNC_H

/// syncfs(2): flushes the file system that holds `fd` to stable storage. Glibc declares it only under
/// _GNU_SOURCE, which Swift's Glibc module does not set; this is the one door to it.
int ben_syncfs(int fd);

/// mallopt(M_MMAP_THRESHOLD, bytes): allocations of at least `bytes` get pages of their own, and the threshold
/// stops moving. <malloc.h> is not in Swift's Glibc module either.
int ben_set_mmap_threshold(int bytes);
/// glibc's M_TRIM_THRESHOLD: free memory at the top of a heap beyond this is given back to the kernel.
int ben_set_trim_threshold(int bytes);

#endif
