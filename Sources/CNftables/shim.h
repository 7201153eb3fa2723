// libnftables from Debian's libnftables-dev: the nft language parser and the atomic
// batch sender, used as a library (no `nft` subprocess).
#include <nftables/libnftables.h>
