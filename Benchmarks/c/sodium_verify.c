/* The baseline for BenCrypto's verification rate: a direct libsodium call loop, one core, same message shape. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 3.0;
    if (sodium_init() < 0) return 1;
    unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES], sig[crypto_sign_BYTES];
    unsigned char msg[64];
    for (int i = 0; i < 64; i++) msg[i] = 0x5A;
    crypto_sign_keypair(pk, sk);
    crypto_sign_detached(sig, NULL, msg, sizeof msg, sk);
    long count = 0;
    int ok = 1;
    double start = now();
    while (now() - start < seconds) {
        for (int i = 0; i < 256; i++) ok &= crypto_sign_verify_detached(sig, msg, sizeof msg, pk) == 0;
        count += 256;
    }
    double elapsed = now() - start;
    if (!ok) return 2;
    printf("{\"verifications_per_second\": %ld}\n", (long)(count / elapsed));
    return 0;
}
