/* The baseline for BenNATS's request/reply round trip: libnats called directly, same shape as
 * `ben-bench nats-rtt` (a replier and a requester connection, one request at a time, the replier answers
 * from its subscription callback). Usage: nats_rtt URL SEND_ASAP(0|1) COUNT WARMUP PAYLOAD_BYTES */
#include <nats/nats.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void answer(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure) {
    (void)sub;
    (void)closure;
    natsConnection_Publish(nc, natsMsg_GetReply(msg), natsMsg_GetData(msg), natsMsg_GetDataLength(msg));
    natsMsg_Destroy(msg);
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void check(natsStatus s, const char *what) {
    if (s != NATS_OK) {
        fprintf(stderr, "%s: %s\n", what, natsStatus_GetText(s));
        exit(1);
    }
}

int main(int argc, char **argv) {
    if (argc < 6) {
        fprintf(stderr, "usage: %s URL SEND_ASAP COUNT WARMUP PAYLOAD_BYTES\n", argv[0]);
        return 2;
    }
    const char *url = argv[1];
    int send_asap = atoi(argv[2]), count = atoi(argv[3]), warmup = atoi(argv[4]), bytes = atoi(argv[5]);
    natsOptions *opts;
    natsConnection *replier, *requester;
    natsSubscription *sub;
    check(natsOptions_Create(&opts), "options");
    check(natsOptions_SetURL(opts, url), "url");
    check(natsOptions_SetSendAsap(opts, send_asap), "send asap");
    check(natsConnection_Connect(&replier, opts), "connect replier");
    check(natsConnection_Connect(&requester, opts), "connect requester");
    check(natsConnection_Subscribe(&sub, replier, "ben.bench.api.rtt", answer, NULL), "subscribe");
    check(natsConnection_Flush(replier), "flush");

    char *payload = calloc(bytes > 0 ? bytes : 1, 1);
    memset(payload, 0x42, bytes);
    double *samples = malloc(sizeof(double) * count);
    for (int i = 0; i < warmup + count; i++) {
        natsMsg *reply = NULL;
        double start = now_us();
        check(natsConnection_Request(&reply, requester, "ben.bench.api.rtt", payload, bytes, 5000), "request");
        double elapsed = now_us() - start;
        natsMsg_Destroy(reply);
        if (i >= warmup) samples[i - warmup] = elapsed;
    }
    qsort(samples, count, sizeof(double), by_value);
    double mean = 0;
    for (int i = 0; i < count; i++) mean += samples[i] / count;
    printf("{\"p50_us\": %.1f, \"p99_us\": %.1f, \"mean_us\": %.1f}\n", samples[count / 2],
           samples[(int)(count * 0.99)], mean);

    natsSubscription_Destroy(sub);
    natsConnection_Destroy(requester);
    natsConnection_Destroy(replier);
    natsOptions_Destroy(opts);
    free(samples);
    free(payload);
    nats_Close();
    return 0;
}
