/* A container's attempts to speak as another (test_antispoof.py). Static, so it runs
 * in busybox; it needs only CAP_NET_RAW, which Docker's default set gives.
 *
 *   forger udp4  SRCMAC DSTMAC SRCIP DSTIP MARKER COUNT   raw Ethernet/IPv4/UDP (port 9999)
 *   forger arp   SHA DSTMAC SPA TPA COUNT                 ARP reply (gratuitous when SPA = TPA)
 *                                                         from eth0's own MAC, claiming SHA/SPA
 *   forger na6   SRCMAC DSTMAC SRCIP6 TARGET COUNT        unsolicited override neighbour
 *                                                         advertisement for TARGET, link-layer SRCMAC
 *   forger count MARKER SECONDS                           frames seen on eth0 holding MARKER
 *
 * Every frame leaves through eth0 as written: Ethernet source included. */
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int parse_mac(const char *text, uint8_t mac[6]) {
    unsigned v[6];
    if (sscanf(text, "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6) return -1;
    for (int i = 0; i < 6; i++) mac[i] = (uint8_t)v[i];
    return 0;
}

static void die(const char *what) { perror(what); exit(2); }

static int open_eth0(struct sockaddr_ll *where) {
    int fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
    if (fd < 0) die("socket");
    memset(where, 0, sizeof *where);
    where->sll_family = AF_PACKET;
    where->sll_protocol = htons(ETH_P_ALL);
    where->sll_ifindex = (int)if_nametoindex("eth0");
    if (where->sll_ifindex == 0) die("eth0");
    if (bind(fd, (struct sockaddr *)where, sizeof *where) < 0) die("bind");
    return fd;
}

static void own_mac(int fd, uint8_t mac[6]) {
    struct ifreq request;
    memset(&request, 0, sizeof request);
    strcpy(request.ifr_name, "eth0");
    if (ioctl(fd, SIOCGIFHWADDR, &request) < 0) die("SIOCGIFHWADDR");
    memcpy(mac, request.ifr_hwaddr.sa_data, 6);
}

static uint16_t checksum(const uint8_t *data, size_t length, uint32_t sum) {
    for (size_t i = 0; i + 1 < length; i += 2) sum += (uint32_t)(data[i] << 8 | data[i + 1]);
    if (length & 1) sum += (uint32_t)(data[length - 1] << 8);
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

static void send_times(int fd, const struct sockaddr_ll *where, const uint8_t *frame, size_t length, int count) {
    for (int i = 0; i < count; i++) {
        if (sendto(fd, frame, length, 0, (const struct sockaddr *)where, sizeof *where) < 0) die("sendto");
        usleep(20000);
    }
}

static int udp4(char **argv) {
    uint8_t frame[256] = {0};
    const char *marker = argv[6];
    size_t payload = strlen(marker);
    if (payload > 64) return 2;
    if (parse_mac(argv[2], frame + 6) || parse_mac(argv[3], frame)) return 2;
    frame[12] = 0x08;
    uint8_t *ip = frame + 14, *udp = ip + 20;
    ip[0] = 0x45;
    uint16_t total = (uint16_t)(20 + 8 + payload);
    ip[2] = (uint8_t)(total >> 8), ip[3] = (uint8_t)total;
    ip[8] = 64, ip[9] = 17;
    if (inet_pton(AF_INET, argv[4], ip + 12) != 1 || inet_pton(AF_INET, argv[5], ip + 16) != 1) return 2;
    uint16_t sum = checksum(ip, 20, 0);
    ip[10] = (uint8_t)(sum >> 8), ip[11] = (uint8_t)sum;
    udp[0] = 0x27, udp[1] = 0x0f, udp[2] = 0x27, udp[3] = 0x0f;  /* 9999 -> 9999 */
    udp[4] = (uint8_t)((8 + payload) >> 8), udp[5] = (uint8_t)(8 + payload);
    memcpy(udp + 8, marker, payload);  /* UDP checksum 0: none, valid for IPv4 */
    struct sockaddr_ll where;
    int fd = open_eth0(&where);
    send_times(fd, &where, frame, 14 + total, atoi(argv[7]));
    return 0;
}

static int arp(char **argv) {
    uint8_t frame[42] = {0};
    struct sockaddr_ll where;
    int fd = open_eth0(&where);
    own_mac(fd, frame + 6);
    if (parse_mac(argv[3], frame)) return 2;
    frame[12] = 0x08, frame[13] = 0x06;
    uint8_t *a = frame + 14;
    a[1] = 1, a[2] = 0x08, a[4] = 6, a[5] = 4, a[7] = 2;  /* Ethernet, IPv4, reply */
    if (parse_mac(argv[2], a + 8) || parse_mac(argv[3], a + 18)) return 2;
    if (inet_pton(AF_INET, argv[4], a + 14) != 1 || inet_pton(AF_INET, argv[5], a + 24) != 1) return 2;
    send_times(fd, &where, frame, sizeof frame, atoi(argv[6]));
    return 0;
}

static int na6(char **argv) {
    uint8_t frame[14 + 40 + 32] = {0};
    if (parse_mac(argv[2], frame + 6) || parse_mac(argv[3], frame)) return 2;
    frame[12] = 0x86, frame[13] = 0xdd;
    uint8_t *ip = frame + 14, *icmp = ip + 40;
    ip[0] = 0x60, ip[5] = 32, ip[6] = 58, ip[7] = 255;
    if (inet_pton(AF_INET6, argv[4], ip + 8) != 1) return 2;
    /* to all nodes: every neighbour updates its entry for TARGET */
    inet_pton(AF_INET6, "ff02::1", ip + 24);
    icmp[0] = 136, icmp[4] = 0x20;  /* override, not solicited */
    if (inet_pton(AF_INET6, argv[5], icmp + 8) != 1) return 2;
    icmp[24] = 2, icmp[25] = 1;     /* target link-layer address */
    memcpy(icmp + 26, frame + 6, 6);
    uint32_t sum = 0;  /* pseudo-header: addresses, length, next header */
    for (int i = 8; i < 40; i += 2) sum += (uint32_t)(ip[i] << 8 | ip[i + 1]);
    sum += 32 + 58;
    uint16_t c = checksum(icmp, 32, sum);
    icmp[2] = (uint8_t)(c >> 8), icmp[3] = (uint8_t)c;
    struct sockaddr_ll where;
    int fd = open_eth0(&where);
    send_times(fd, &where, frame, sizeof frame, atoi(argv[6]));
    return 0;
}

static int count(char **argv) {
    struct sockaddr_ll where;
    int fd = open_eth0(&where);
    const char *marker = argv[2];
    size_t length = strlen(marker);
    struct timeval tick = {0, 100000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tick, sizeof tick);
    time_t end = time(NULL) + atoi(argv[3]);
    int seen = 0;
    uint8_t buffer[2048];
    printf("ready\n");
    fflush(stdout);
    while (time(NULL) < end) {
        ssize_t got = recv(fd, buffer, sizeof buffer, 0);
        if (got <= 0 || (size_t)got < length) continue;
        for (size_t i = 0; i + length <= (size_t)got; i++) {
            if (memcmp(buffer + i, marker, length) == 0) { seen++; break; }
        }
    }
    printf("%d\n", seen);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 8 && strcmp(argv[1], "udp4") == 0) return udp4(argv);
    if (argc >= 7 && strcmp(argv[1], "arp") == 0) return arp(argv);
    if (argc >= 7 && strcmp(argv[1], "na6") == 0) return na6(argv);
    if (argc >= 4 && strcmp(argv[1], "count") == 0) return count(argv);
    fprintf(stderr, "usage: see forger.c\n");
    return 2;
}
