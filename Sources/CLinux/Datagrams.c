#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include "CLinuxDatagrams.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef SOL_UDP
#define SOL_UDP 17
#endif

// The kernel's UDP_MAX_SEGMENTS is 64 on older kernels (128 since 6.x): stay under both.
#define GSO_MAX_SEGMENTS 64

struct berth_dgram_batch {
    unsigned count, in_slice, out_slice;
    uint8_t *in, *out;
    struct mmsghdr *recv_msgs;
    struct iovec *recv_iov;
    struct sockaddr_storage *peers;
    unsigned *reply_lengths;
    // Send side: one message per reply or per GSO group, iovecs pointing at reply slots.
    struct mmsghdr *send_msgs;
    struct iovec *send_iov;
    unsigned *send_items;  // replies in each message, so a refused GSO group can be resent
    char (*control)[CMSG_SPACE(sizeof(uint16_t))];
};

berth_dgram_batch *berth_dgram_batch_create(unsigned count, unsigned in_slice, unsigned out_slice) {
    berth_dgram_batch *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    b->count = count;
    b->in_slice = in_slice;
    b->out_slice = out_slice;
    b->in = malloc((size_t)count * in_slice);
    b->out = malloc((size_t)count * out_slice);
    b->recv_msgs = calloc(count, sizeof *b->recv_msgs);
    b->recv_iov = calloc(count, sizeof *b->recv_iov);
    b->peers = calloc(count, sizeof *b->peers);
    b->reply_lengths = calloc(count, sizeof *b->reply_lengths);
    b->send_msgs = calloc(count, sizeof *b->send_msgs);
    b->send_iov = calloc(count, sizeof *b->send_iov);
    b->send_items = calloc(count, sizeof *b->send_items);
    b->control = calloc(count, sizeof *b->control);
    if (!b->in || !b->out || !b->recv_msgs || !b->recv_iov || !b->peers || !b->reply_lengths || !b->send_msgs
        || !b->send_iov || !b->send_items || !b->control) {
        berth_dgram_batch_destroy(b);
        return NULL;
    }
    return b;
}

void berth_dgram_batch_destroy(berth_dgram_batch *b) {
    if (!b) return;
    free(b->in); free(b->out); free(b->recv_msgs); free(b->recv_iov); free(b->peers); free(b->reply_lengths);
    free(b->send_msgs); free(b->send_iov); free(b->send_items); free(b->control);
    free(b);
}

int berth_dgram_recv(int fd, berth_dgram_batch *b) {
    for (unsigned i = 0; i < b->count; i++) {
        b->recv_iov[i].iov_base = b->in + (size_t)i * b->in_slice;
        b->recv_iov[i].iov_len = b->in_slice;
        struct msghdr *h = &b->recv_msgs[i].msg_hdr;
        memset(h, 0, sizeof *h);
        h->msg_name = &b->peers[i];
        h->msg_namelen = sizeof b->peers[i];
        h->msg_iov = &b->recv_iov[i];
        h->msg_iovlen = 1;
        b->recv_msgs[i].msg_len = 0;
        b->reply_lengths[i] = 0;
    }
    int n = recvmmsg(fd, b->recv_msgs, b->count, MSG_WAITFORONE, NULL);
    return n < 0 ? -errno : n;
}

const uint8_t *berth_dgram_data(const berth_dgram_batch *b, unsigned i) { return b->in + (size_t)i * b->in_slice; }

unsigned berth_dgram_length(const berth_dgram_batch *b, unsigned i) {
    // A datagram longer than the slice arrives cut short (MSG_TRUNC); msg_len is what was copied.
    unsigned length = b->recv_msgs[i].msg_len;
    return length < b->in_slice ? length : b->in_slice;
}

const struct sockaddr *berth_dgram_peer(const berth_dgram_batch *b, unsigned i) {
    return (const struct sockaddr *)&b->peers[i];
}

socklen_t berth_dgram_peer_length(const berth_dgram_batch *b, unsigned i) { return b->recv_msgs[i].msg_hdr.msg_namelen; }

uint8_t *berth_dgram_reply_buffer(berth_dgram_batch *b, unsigned i) { return b->out + (size_t)i * b->out_slice; }

void berth_dgram_set_reply(berth_dgram_batch *b, unsigned i, unsigned length) {
    b->reply_lengths[i] = length <= b->out_slice ? length : 0;
}

static int same_peer(const berth_dgram_batch *b, unsigned x, unsigned y) {
    socklen_t length = b->recv_msgs[x].msg_hdr.msg_namelen;
    return length == b->recv_msgs[y].msg_hdr.msg_namelen && memcmp(&b->peers[x], &b->peers[y], length) == 0;
}

// Builds one message from `items` replies starting at reply `first`, whose iovecs start at
// send_iov[iov]; with more than one item, the replies share one length and go by GSO.
static void build(berth_dgram_batch *b, unsigned m, unsigned first, unsigned *order, unsigned items, unsigned iov) {
    struct msghdr *h = &b->send_msgs[m].msg_hdr;
    memset(h, 0, sizeof *h);
    for (unsigned k = 0; k < items; k++) {
        unsigned i = order[k];
        b->send_iov[iov + k].iov_base = b->out + (size_t)i * b->out_slice;
        b->send_iov[iov + k].iov_len = b->reply_lengths[i];
    }
    h->msg_name = &b->peers[first];
    h->msg_namelen = b->recv_msgs[first].msg_hdr.msg_namelen;
    h->msg_iov = &b->send_iov[iov];
    h->msg_iovlen = items;
    if (items > 1) {
        h->msg_control = b->control[m];
        h->msg_controllen = sizeof b->control[m];
        struct cmsghdr *c = CMSG_FIRSTHDR(h);
        c->cmsg_level = SOL_UDP;
        c->cmsg_type = UDP_SEGMENT;
        c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
        uint16_t size = (uint16_t)b->reply_lengths[first];
        memcpy(CMSG_DATA(c), &size, sizeof size);
    }
    b->send_items[m] = items;
}

int berth_dgram_send(int fd, berth_dgram_batch *b, int *gso) {
    // Reply indexes in order, then grouped: a run of replies to one peer with one length.
    unsigned order[b->count];
    unsigned replies = 0;
    for (unsigned i = 0; i < b->count; i++)
        if (b->reply_lengths[i] > 0) order[replies++] = i;
    if (replies == 0) return 0;

    unsigned messages = 0, iov = 0, start = 0;
    while (start < replies) {
        unsigned end = start + 1;
        if (*gso) {
            while (end < replies && end - start < GSO_MAX_SEGMENTS
                   && b->reply_lengths[order[end]] == b->reply_lengths[order[start]]
                   && same_peer(b, order[start], order[end]))
                end++;
        }
        build(b, messages, order[start], &order[start], end - start, iov);
        iov += end - start;
        messages++;
        start = end;
    }

    int sent = 0;
    unsigned next = 0;
    while (next < messages) {
        int n = sendmmsg(fd, &b->send_msgs[next], messages - next, 0);
        if (n > 0) {
            for (int k = 0; k < n; k++) sent += (int)b->send_items[next + k];
            next += (unsigned)n;
            continue;
        }
        int error = n < 0 ? errno : EIO;
        if (error == EINTR) continue;
        if (error == EBADF || error == ENOTSOCK || error == EPIPE) return -error;  // the socket is gone
        if (b->send_items[next] > 1) {
            // The kernel (or the route, e.g. through IPsec) refused GSO: send this group's
            // replies one by one, and stop grouping on this socket.
            *gso = 0;
            struct msghdr *group = &b->send_msgs[next].msg_hdr;
            for (size_t k = 0; k < group->msg_iovlen; k++) {
                struct msghdr h;
                memset(&h, 0, sizeof h);
                h.msg_name = group->msg_name;
                h.msg_namelen = group->msg_namelen;
                h.msg_iov = &group->msg_iov[k];
                h.msg_iovlen = 1;
                if (sendmsg(fd, &h, 0) >= 0) sent++;
            }
        }
        // A single reply the kernel would not send concerns one client: skip it.
        next++;
    }
    return sent;
}
