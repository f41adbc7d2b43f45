#define _GNU_SOURCE
#include <malloc.h>
#include <unistd.h>
#include "filesync.h"

int ben_syncfs(int fd) { return syncfs(fd); }

int ben_set_mmap_threshold(int bytes) { return mallopt(M_MMAP_THRESHOLD, bytes); }
int ben_set_trim_threshold(int bytes) { return mallopt(M_TRIM_THRESHOLD, bytes); }
