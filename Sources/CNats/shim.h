// libnats (Debian's libnats-dev). Only BenNATS imports this module.
#include <nats/nats.h>
