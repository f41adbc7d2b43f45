#ifndef BEN_FILESYNC_H
#define BEN_FILESYNC_H

/// syncfs(2): flushes the file system that holds `fd` to stable storage. Glibc declares it only under
/// _GNU_SOURCE, which Swift's Glibc module does not set; this is the one door to it.
int ben_syncfs(int fd);

#endif
