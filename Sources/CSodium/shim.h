// libsodium (Debian's libsodium-dev). Only BenCrypto imports this module.
#include <sodium.h>
