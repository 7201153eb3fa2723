// Batched UDP receive and send for the DNS server: recvmmsg, and sendmmsg with UDP GSO.
#ifndef BERTH_CLINUX_DATAGRAMS_H
#define BERTH_CLINUX_DATAGRAMS_H

#include <stdint.h>
#include <sys/socket.h>

/// Receive and reply slots for up to `count` datagrams, owned by one thread.
typedef struct berth_dgram_batch berth_dgram_batch;

berth_dgram_batch *berth_dgram_batch_create(unsigned count, unsigned in_slice, unsigned out_slice);
void berth_dgram_batch_destroy(berth_dgram_batch *batch);

/// Blocks until at least one datagram arrives, then takes what is queued (up to the batch
/// size): the number received, or -errno. Every reply slot is reset to "no reply".
int berth_dgram_recv(int fd, berth_dgram_batch *batch);

const uint8_t *berth_dgram_data(const berth_dgram_batch *batch, unsigned index);
unsigned berth_dgram_length(const berth_dgram_batch *batch, unsigned index);
const struct sockaddr *berth_dgram_peer(const berth_dgram_batch *batch, unsigned index);
socklen_t berth_dgram_peer_length(const berth_dgram_batch *batch, unsigned index);

/// Where the reply to datagram `index` is written (out_slice bytes); then mark its length.
uint8_t *berth_dgram_reply_buffer(berth_dgram_batch *batch, unsigned index);
void berth_dgram_set_reply(berth_dgram_batch *batch, unsigned index, unsigned length);

/// Sends the marked replies to their peers with one sendmmsg. With `*gso` set, consecutive
/// replies of one length to one peer go as a single UDP GSO message (the kernel cuts it
/// into the datagrams); if the kernel refuses GSO, `*gso` is cleared and they go one by one.
/// A reply the kernel rejects (e.g. no route) is skipped. Returns the number of replies
/// sent, or -errno when the socket itself failed.
int berth_dgram_send(int fd, berth_dgram_batch *batch, int *gso);

#endif
