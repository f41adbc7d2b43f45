/* This machine's floor for CPU per delivered byte (issue 12, item 4): what one node must at least spend on each
 * byte it receives: one copy in (socket buffer -> user memory), BLAKE2b-256 of every 1 MiB chunk (libsodium's
 * crypto_generichash, the hash that names a chunk) and one copy out (user memory -> the store or a child's socket).
 *
 * Usage: hash_copy_floor [MiB]   (default 1024: 1 GiB)
 * The source and destination rings are 256 MiB each, so the copies stream through memory rather than stay in the
 * cache, as they do in an agent. Prints JSON: CPU-seconds (user + sys, getrusage) per GiB for the whole loop and for
 * the hash alone, and the wall time.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define CHUNK (1u << 20)
#define RING_CHUNKS 256u

static double cpu_seconds(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static double wall_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    unsigned long mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 1024;
    if (mib == 0 || sodium_init() < 0) return 1;
    unsigned char *source = malloc((size_t)RING_CHUNKS * CHUNK), *dest = malloc((size_t)RING_CHUNKS * CHUNK);
    unsigned char *buffer = malloc(CHUNK);
    if (!source || !dest || !buffer) return 1;
    randombytes_buf(source, (size_t)RING_CHUNKS * CHUNK);
    memset(dest, 0, (size_t)RING_CHUNKS * CHUNK); /* fault the pages in before the clock starts */
    memset(buffer, 0, CHUNK);
    unsigned char digest[32], fold[32] = {0}, fold_hash[32] = {0}; /* keep the hashes live */

    /* The whole path: copy in, hash, copy out. */
    double cpu0 = cpu_seconds(), wall0 = wall_seconds();
    for (unsigned long i = 0; i < mib; i++) {
        size_t slot = (size_t)(i % RING_CHUNKS) * CHUNK;
        memcpy(buffer, source + slot, CHUNK);
        crypto_generichash(digest, sizeof digest, buffer, CHUNK, NULL, 0);
        memcpy(dest + slot, buffer, CHUNK);
        for (int j = 0; j < 32; j++) fold[j] += digest[j];
    }
    double cpu_all = cpu_seconds() - cpu0, wall_all = wall_seconds() - wall0;

    /* The hash alone, over the same bytes in place. */
    cpu0 = cpu_seconds();
    for (unsigned long i = 0; i < mib; i++) {
        crypto_generichash(digest, sizeof digest, source + (size_t)(i % RING_CHUNKS) * CHUNK, CHUNK, NULL, 0);
        for (int j = 0; j < 32; j++) fold_hash[j] += digest[j];
    }
    double cpu_hash = cpu_seconds() - cpu0;

    double gib = mib / 1024.0;
    printf("{\"mib\": %lu, \"cpu_seconds_per_gib\": %.4f, \"hash_cpu_seconds_per_gib\": %.4f, "
           "\"copy_cpu_seconds_per_gib\": %.4f, \"wall_seconds\": %.4f, \"fold\": \"%02x%02x\"}\n",
           mib, cpu_all / gib, cpu_hash / gib, (cpu_all - cpu_hash) / gib, wall_all, fold[0] ^ fold_hash[1], fold[1] ^ fold_hash[0]);
    free(source);
    free(dest);
    free(buffer);
    return 0;
}
