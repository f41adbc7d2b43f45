#define _GNU_SOURCE
#include <unistd.h>
#include "filesync.h"

int ben_syncfs(int fd) { return syncfs(fd); }
