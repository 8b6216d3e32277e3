/*
 * nat64d TUN access: a small N-API addon (plain node_api.h, C).
 *
 * open(name, flags) -> handle      /dev/net/tun, TUNSETIFF (IFF_TUN | IFF_NO_PI [| IFF_MULTI_QUEUE]
 *                                  [| IFF_VNET_HDR]), non-blocking, close-on-exec
 * name(handle) -> string            the kernel's name for the device
 * setMtu(name, mtu)                 SIOCSIFMTU on a throwaway AF_INET socket
 * setTxQueueLen(name, len)          SIOCSIFTXQLEN: the device's transmit queue, which for a TUN
 *                                   device is the ring of packets waiting for read(2)
 * setPersist(handle, bool)          TUNSETPERSIST (--mktun / --rmtun)
 * startReading(handle, buf, meta, slot, cb)
 *                                   uv_poll on the fd; when readable, packets are read into
 *                                   `buf` (one `slot`-sized region each) until EAGAIN or the
 *                                   batch is full; meta[i] gets each length; cb(count) is
 *                                   called once per batch; reading resumes until EAGAIN.
 * writeBatch(handle, buf, meta, count[, gso]) -> written
 *                                   meta holds (offset, length) pairs; one write(2) per packet
 *                                   (a TUN fd takes one packet per write), one JS call per batch.
 * setOffload(handle, tunFlags)      TUNSETOFFLOAD (IFF_VNET_HDR devices): e.g. TUN_F_CSUM |
 *                                   TUN_F_TSO6, so the kernel hands over TCP/IPv6 GSO
 *                                   super-packets (up to 64 KB) instead of segmenting them;
 *                                   | TUN_F_USO4 | TUN_F_USO6 (Linux >= 6.2, both or neither)
 *                                   for UDP GSO runs too.
 *
 * With IFF_VNET_HDR every packet carries a struct virtio_net_hdr, which stays in C:
 *   read:  NEEDS_CSUM without GSO -> the checksum is completed here, JS sees a normal packet;
 *          GSO TCPV6 (always NEEDS_CSUM) -> the TCP checksum field, which holds the folded
 *          pseudo-header sum, is complemented, so that an incremental (RFC 1624) update of
 *          the addresses, as the translator does for any checksum, yields the complement of
 *          the translated pseudo-header sum; gso[i] = gso_size | GSO_ECN_BIT.
 *          GSO UDP_L4 (TUN_F_USO4/USO6) -> the same for the UDP checksum field;
 *          gso[i] = gso_size | NAT64_GSO_UDP. Other GSO types are dropped (not enabled by
 *          nat64d) and counted.
 *   write: gso[i] == 0 -> a zero header; otherwise the packet is a translated IPv4 TCP GSO
 *          packet: the checksum field is complemented back to a pseudo-header sum and sent
 *          with NEEDS_CSUM (csum_start = IPv4 header) and, when the payload exceeds gso_size,
 *          GSO TCPV4 so that the kernel segments it (on output or at the receiver). With
 *          NAT64_GSO_UDP in gso[i], a translated UDP/IPv4 GSO packet: the same with the UDP
 *          checksum field and GSO UDP_L4.
 * setUdpCoalesce(handle, on)        (vnet only) writeBatch writes the same-flow IPv4 UDP
 *                                   datagrams of equal size in a batch as one GSO_UDP_L4 packet,
 *                                   also when other flows are interleaved (see udp4_group).
 * close(handle)
 *
 * No per-packet work goes through the libuv threadpool.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <node_api.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/virtio_net.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#include <uv.h>

#define NAT64_TUN_MULTI_QUEUE 1
#define NAT64_TUN_VNET_HDR 2
#ifndef VIRTIO_NET_HDR_GSO_UDP_L4
#define VIRTIO_NET_HDR_GSO_UDP_L4 5 /* Linux >= 5.18 accepts it on a TUN write */
#endif
/* UDP coalescing on write: at most this many datagrams and bytes per GSO write. */
#define NAT64_USO_MAX_SEGS 64
#define NAT64_USO_MAX_BYTES 65000
/* ... gathered from at most this many packets of a write batch (the flow grouping's reach). */
#define NAT64_USO_WINDOW 64
/* In gso[i]: the segment carried TCP ECN (VIRTIO_NET_HDR_GSO_ECN). */
#define NAT64_GSO_ECN 0x10000
/* In gso[i]: a UDP GSO packet (VIRTIO_NET_HDR_GSO_UDP_L4); same value as core/gso-segment.ts. */
#define NAT64_GSO_UDP 0x20000
#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20 /* Linux >= 6.2: the kernel may hand over UDP/IPv4 GSO packets */
#endif
#ifndef TUN_F_USO6
#define TUN_F_USO6 0x40 /* ... and UDP/IPv6 (the kernel takes both or neither) */
#endif

typedef struct {
  napi_env env;
  int fd;
  char name[IFNAMSIZ];
  int polling;
  int closed;
  uv_poll_t poll;
  napi_ref cb_ref;
  napi_ref buf_ref;
  napi_ref meta_ref;
  napi_async_context async_ctx;
  uint8_t *buf;
  size_t buf_len;
  uint32_t *meta;
  size_t meta_len;
  size_t slot;
  uint32_t *gso;  /* per packet: gso_size | NAT64_GSO_ECN, or 0 (vnet only) */
  size_t gso_len;
  napi_ref gso_ref;
  int vnet;
  int uso; /* coalesce UDP/IPv4 runs on write (vnet only) */
  uint32_t *uso_key; /* per packet of a write batch: ip4_pair_key */
  uint8_t *uso_done; /* per packet of a write batch: already written in an earlier run */
  size_t uso_cap;
  /* Counters visible to JS through stats(). */
  double read_packets, read_batches, read_errors, write_packets, write_errors, truncated;
  double gso_in, gso_out, csum_completed, vnet_dropped, uso_writes, uso_datagrams;
  double uso_in, uso_out;
} tun_t;

#define CHECK(env, call)                                                   \
  do {                                                                     \
    if ((call) != napi_ok) {                                               \
      const napi_extended_error_info *info_;                               \
      napi_get_last_error_info((env), &info_);                             \
      bool pending_;                                                       \
      napi_is_exception_pending((env), &pending_);                         \
      if (!pending_)                                                       \
        napi_throw_error((env), NULL,                                      \
                         info_ && info_->error_message ? info_->error_message \
                                                       : "napi call failed"); \
      return NULL;                                                         \
    }                                                                      \
  } while (0)

static napi_value throw_errno(napi_env env, const char *what, int err) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_value code, text, error;
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &text);
  const char *name = "EIO";
  switch (err) {
    case EPERM: name = "EPERM"; break;
    case EACCES: name = "EACCES"; break;
    case ENOENT: name = "ENOENT"; break;
    case EBUSY: name = "EBUSY"; break;
    case EINVAL: name = "EINVAL"; break;
    case ENODEV: name = "ENODEV"; break;
    case EBADF: name = "EBADF"; break;
    default: break;
  }
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
  napi_create_error(env, code, text, &error);
  napi_value errno_v;
  napi_create_int32(env, err, &errno_v);
  napi_set_named_property(env, error, "errno", errno_v);
  napi_throw(env, error);
  return NULL;
}

static void on_poll_closed(uv_handle_t *h) {
  tun_t *t = (tun_t *)h->data;
  t->polling = 0;
}

static void stop_polling(tun_t *t) {
  if (t->polling == 1) {
    uv_poll_stop(&t->poll);
    t->polling = 2; /* closing */
    uv_close((uv_handle_t *)&t->poll, on_poll_closed);
  }
}

static void release_refs(tun_t *t) {
  napi_env env = t->env;
  if (t->cb_ref) { napi_delete_reference(env, t->cb_ref); t->cb_ref = NULL; }
  if (t->buf_ref) { napi_delete_reference(env, t->buf_ref); t->buf_ref = NULL; }
  if (t->meta_ref) { napi_delete_reference(env, t->meta_ref); t->meta_ref = NULL; }
  if (t->gso_ref) { napi_delete_reference(env, t->gso_ref); t->gso_ref = NULL; }
  if (t->async_ctx) { napi_async_destroy(env, t->async_ctx); t->async_ctx = NULL; }
}

static void do_close(tun_t *t) {
  if (t->closed) return;
  t->closed = 1;
  stop_polling(t);
  release_refs(t);
  if (t->fd >= 0) close(t->fd);
  t->fd = -1;
}

static void finalize_tun(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  tun_t *t = (tun_t *)data;
  if (!t->closed) {
    t->closed = 1;
    stop_polling(t); /* uv only: references die with the environment */
    if (t->fd >= 0) close(t->fd);
  }
  free(t->uso_key);
  free(t->uso_done);
  t->uso_key = NULL;
  t->uso_done = NULL;
  /* If the poll handle is still closing, its memory must outlive the callback. */
  if (t->polling == 0) free(t);
}

static tun_t *get_tun(napi_env env, napi_value v) {
  void *data = NULL;
  if (napi_get_value_external(env, v, &data) != napi_ok || data == NULL) {
    napi_throw_type_error(env, NULL, "expected a TUN handle");
    return NULL;
  }
  return (tun_t *)data;
}

static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char name[IFNAMSIZ] = {0};
  size_t len = 0;
  if (napi_get_value_string_utf8(env, argv[0], name, sizeof name, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "name must be a string");
    return NULL;
  }
  int32_t flags = 0;
  if (argc > 1) napi_get_value_int32(env, argv[1], &flags);

  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return throw_errno(env, "open /dev/net/tun", errno);
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  if (flags & NAT64_TUN_MULTI_QUEUE) ifr.ifr_flags |= IFF_MULTI_QUEUE;
  if (flags & NAT64_TUN_VNET_HDR) ifr.ifr_flags |= IFF_VNET_HDR;
  memcpy(ifr.ifr_name, name, strnlen(name, IFNAMSIZ - 1));
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, "TUNSETIFF", err);
  }
  tun_t *t = calloc(1, sizeof(tun_t));
  if (!t) {
    close(fd);
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  t->env = env;
  t->fd = fd;
  t->vnet = (flags & NAT64_TUN_VNET_HDR) ? 1 : 0;
  memcpy(t->name, ifr.ifr_name, IFNAMSIZ);
  t->name[IFNAMSIZ - 1] = 0;
  napi_value handle;
  if (napi_create_external(env, t, finalize_tun, NULL, &handle) != napi_ok) {
    close(fd);
    free(t);
    napi_throw_error(env, NULL, "napi_create_external failed");
    return NULL;
  }
  return handle;
}

static napi_value js_name(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  tun_t *t = get_tun(env, argv[0]);
  if (!t) return NULL;
  napi_value s;
  CHECK(env, napi_create_string_utf8(env, t->name, NAPI_AUTO_LENGTH, &s));
  return s;
}

static napi_value js_fd(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  tun_t *t = get_tun(env, argv[0]);
  if (!t) return NULL;
  napi_value v;
  CHECK(env, napi_create_int32(env, t->fd, &v));
  return v;
}

/*
 * An interface setting that is one int in struct ifreq (the MTU, the transmit queue length):
 * argv is (name: string, value: number), the ioctl is made on a throwaway socket.
 */
static napi_value set_ifreq_int(napi_env env, napi_callback_info info, unsigned long request,
                                const char *request_name, const char *usage, int32_t min) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char name[IFNAMSIZ] = {0};
  size_t len = 0;
  int32_t value = 0;
  if (napi_get_value_string_utf8(env, argv[0], name, sizeof name, &len) != napi_ok ||
      napi_get_value_int32(env, argv[1], &value) != napi_ok || value < min) {
    napi_throw_type_error(env, NULL, usage);
    return NULL;
  }
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return throw_errno(env, "socket", errno);
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  memcpy(ifr.ifr_name, name, strnlen(name, IFNAMSIZ - 1));
  /* ifr_mtu and ifr_qlen are the same int of the ifr_ifru union. */
  if (request == SIOCSIFMTU) ifr.ifr_mtu = value;
  else ifr.ifr_qlen = value;
  int r = ioctl(s, request, &ifr);
  int err = errno;
  close(s);
  if (r < 0) return throw_errno(env, request_name, err);
  return NULL;
}

static napi_value js_set_mtu(napi_env env, napi_callback_info info) {
  return set_ifreq_int(env, info, SIOCSIFMTU, "SIOCSIFMTU", "setMtu(name: string, mtu: number)",
                       INT32_MIN);
}

static napi_value js_set_tx_queue_len(napi_env env, napi_callback_info info) {
  return set_ifreq_int(env, info, SIOCSIFTXQLEN, "SIOCSIFTXQLEN",
                       "setTxQueueLen(name: string, len: number >= 1)", 1);
}

static napi_value js_set_offload(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  tun_t *t = get_tun(env, argv[0]);
  if (!t) return NULL;
  uint32_t flags = 0;
  if (argc < 2 || napi_get_value_uint32(env, argv[1], &flags) != napi_ok) {
    napi_throw_type_error(env, NULL, "setOffload(handle, tunFlags: number)");
    return NULL;
  }
  if (ioctl(t->fd, TUNSETOFFLOAD, (unsigned long)flags) < 0)
    return throw_errno(env, "TUNSETOFFLOAD", errno);
  return NULL;
}

static napi_value js_set_udp_coalesce(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  tun_t *t = get_tun(env, argv[0]);
  if (!t) return NULL;
  bool on = false;
  napi_get_value_bool(env, argv[1], &on);
  if (on && !t->vnet) {
    napi_throw_error(env, NULL, "UDP coalescing needs an IFF_VNET_HDR device");
    return NULL;
  }
  t->uso = on ? 1 : 0;
  return NULL;
}

static napi_value js_set_persist(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  tun_t *t = get_tun(env, argv[0]);
  if (!t) return NULL;
  bool on = false;
  napi_get_value_bool(env, argv[1], &on);
  if (ioctl(t->fd, TUNSETPERSIST, on ? 1 : 0) < 0) return throw_errno(env, "TUNSETPERSIST", errno);
  return NULL;
}

/* Internet checksum (RFC 1071) helpers for the vnet header paths. */
static uint64_t sum_bytes(const uint8_t *p, size_t len) {
  uint64_t s = 0;
  size_t i = 0;
  for (; i + 1 < len; i += 2) s += (uint32_t)(p[i] << 8 | p[i + 1]);
  if (i < len) s += (uint32_t)(p[i] << 8);
  return s;
}

static uint16_t fold16(uint64_t s) {
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return (uint16_t)s;
}

/*
 * A packet read with its virtio_net_hdr: returns 1 to deliver it (gso set), 0 to drop it.
 * See the header comment for the checksum conventions.
 */
static int vnet_rx(tun_t *t, const struct virtio_net_hdr *h, uint8_t *pkt, size_t len,
                   uint32_t *gso) {
  *gso = 0;
  uint8_t type = h->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;
  if (type == VIRTIO_NET_HDR_GSO_NONE) {
    if (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
      size_t start = h->csum_start, at = start + h->csum_offset;
      if (start >= len || at + 2 > len) return 0;
      uint16_t c = (uint16_t)~fold16(sum_bytes(pkt + start, len - start));
      if (c == 0 && h->csum_offset == 6) c = 0xffff; /* UDP: 0 means "no checksum" */
      pkt[at] = (uint8_t)(c >> 8);
      pkt[at + 1] = (uint8_t)c;
      t->csum_completed++;
    }
    return 1;
  }
  if (type == VIRTIO_NET_HDR_GSO_TCPV6 && (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
      h->gso_size > 0) {
    size_t at = (size_t)h->csum_start + h->csum_offset;
    if (at + 2 > len) return 0;
    pkt[at] ^= 0xff;
    pkt[at + 1] ^= 0xff;
    *gso = h->gso_size | ((h->gso_type & VIRTIO_NET_HDR_GSO_ECN) ? NAT64_GSO_ECN : 0);
    t->gso_in++;
    return 1;
  }
  if (type == VIRTIO_NET_HDR_GSO_UDP_L4 && (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
      h->gso_size > 0 && h->csum_offset == 6) {
    /* UDP GSO (TUN_F_USO4/USO6, e.g. after UDP GRO forwarding): a run of same-flow datagrams
     * of gso_size payload bytes each (the last may be shorter), one UDP header whose length
     * covers them all. The checksum field holds the pseudo-header sum, complemented as for
     * TCP; a 0 becomes 0xffff (the same value in one's complement) so that JS never takes it
     * for "no checksum". */
    size_t at = (size_t)h->csum_start + h->csum_offset;
    if ((size_t)h->csum_start + 8 > len) return 0;
    uint16_t c = (uint16_t)~((uint16_t)pkt[at] << 8 | pkt[at + 1]);
    if (c == 0) c = 0xffff;
    pkt[at] = (uint8_t)(c >> 8);
    pkt[at + 1] = (uint8_t)c;
    *gso = h->gso_size | NAT64_GSO_UDP;
    t->uso_in++;
    return 1;
  }
  return 0;
}

/* The header for a packet to write; `g` is gso[i] from JS (0: a plain packet). */
static void vnet_tx(tun_t *t, uint8_t *pkt, size_t len, uint32_t g, struct virtio_net_hdr *h) {
  memset(h, 0, sizeof *h);
  if (!g || len < 20 || (pkt[0] >> 4) != 4) return;
  if (g & NAT64_GSO_UDP) {
    /* A translated UDP GSO packet: IPv4 total length and UDP length cover the whole run, the
     * checksum field holds the complemented pseudo-header sum; the kernel segments it into
     * datagrams of gso_size payload bytes (lengths, ids counting up, checksums). */
    size_t ihl = (size_t)(pkt[0] & 15) * 4;
    if (pkt[9] != 17 || ihl < 20 || len < ihl + 8) return;
    pkt[ihl + 6] ^= 0xff;
    pkt[ihl + 7] ^= 0xff;
    h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    h->csum_start = (uint16_t)ihl;
    h->csum_offset = 6;
    uint32_t gso_size = g & 0xffff;
    if (gso_size > 0 && len - ihl - 8 > gso_size) {
      h->gso_type = VIRTIO_NET_HDR_GSO_UDP_L4;
      h->gso_size = (uint16_t)gso_size;
      h->hdr_len = (uint16_t)(ihl + 8);
      t->uso_out++;
    }
    return;
  }
  if (pkt[9] != 6) return;
  size_t ihl = (size_t)(pkt[0] & 15) * 4;
  if (ihl < 20 || len < ihl + 20) return;
  size_t thl = (size_t)(pkt[ihl + 12] >> 4) * 4;
  if (thl < 20 || len < ihl + thl) return;
  pkt[ihl + 16] ^= 0xff; /* back to the pseudo-header sum */
  pkt[ihl + 17] ^= 0xff;
  h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
  h->csum_start = (uint16_t)ihl;
  h->csum_offset = 16;
  uint32_t gso_size = g & 0xffff;
  if (gso_size > 0 && len - ihl - thl > gso_size) {
    h->gso_type = VIRTIO_NET_HDR_GSO_TCPV4 | ((g & NAT64_GSO_ECN) ? VIRTIO_NET_HDR_GSO_ECN : 0);
    h->gso_size = (uint16_t)gso_size;
    h->hdr_len = (uint16_t)(ihl + thl);
    t->gso_out++;
  }
}

/*
 * UDP coalescing (IFF_VNET_HDR): a run of IPv4 UDP datagrams of one flow, the same IP header
 * apart from length/id/checksum, equal payload sizes (the last may be shorter) and valid UDP
 * checksums, is written as one VIRTIO_NET_HDR_GSO_UDP_L4 packet: the kernel forwards it once
 * and segments it back into the same datagrams (ids counting up from the first, checksums
 * recomputed, which is why each must be valid here: a bad one is never laundered).
 */
static int udp4_plain(const uint8_t *p, size_t len) {
  if (len < 28 || p[0] != 0x45 || p[9] != 17) return 0;
  if (((size_t)p[2] << 8 | p[3]) != len) return 0;
  if ((p[6] & 0x3f) || p[7]) return 0; /* MF or a fragment offset */
  if (((size_t)p[24] << 8 | p[25]) != len - 20) return 0;
  if (!p[26] && !p[27]) return 0; /* no checksum: leave it alone */
  uint64_t s = sum_bytes(p + 12, 8) + 17 + (len - 20) + sum_bytes(p + 20, len - 20);
  return fold16(s) == 0xffff;
}

static int udp4_same_flow(const uint8_t *a, const uint8_t *b) {
  return a[1] == b[1] && (a[6] & 0x40) == (b[6] & 0x40) && a[8] == b[8] &&
         memcmp(a + 12, b + 12, 12) == 0; /* addresses and ports */
}

/* An IPv4 packet's address pair and protocol, hashed for the flow grouping (0: not IPv4). */
static uint32_t ip4_pair_key(const uint8_t *p, size_t len) {
  if (len < 20 || (p[0] >> 4) != 4) return 0;
  uint32_t a, b;
  memcpy(&a, p + 12, 4);
  memcpy(&b, p + 16, 4);
  return ((a * 0x9e3779b1u) ^ b ^ ((uint32_t)p[9] << 24)) | 1;
}

/*
 * From packet i on, the packets of i's flow that form a run worth coalescing (>= 2), filling
 * iov[1..] and the header and marking the others done; 0 when packet i is to be written alone.
 * The run is gathered from the next NAT64_USO_WINDOW packets of the batch, skipping other
 * flows (several flows interleaved in a batch still coalesce, each into its own run); a
 * packet that may belong to the flow but cannot join the run ends it, so that no packet of
 * a flow is ever written before an earlier one of the same flow. Packets of other flows may
 * go out after this run although they were read before some of it: order is kept per flow.
 */
static uint32_t udp4_group(uint8_t *buf, size_t buf_len, const uint32_t *meta, uint32_t count,
                           uint32_t i, const uint32_t *key, uint8_t *done, struct iovec *iov,
                           struct virtio_net_hdr *h) {
  size_t off = meta[2 * i], len = meta[2 * i + 1];
  if (i + 1 >= count || off > buf_len || len > buf_len - off) return 0;
  uint8_t *first = buf + off;
  if (!udp4_plain(first, len)) return 0;
  size_t seg = len - 28, total = len;
  uint32_t n = 1;
  uint32_t picked[NAT64_USO_MAX_SEGS];
  picked[0] = i;
  iov[1].iov_base = first;
  iov[1].iov_len = len;
  uint32_t end = count - i > NAT64_USO_WINDOW ? i + NAT64_USO_WINDOW : count;
  for (uint32_t j = i + 1; j < end && n < NAT64_USO_MAX_SEGS; j++) {
    if (done[j] || key[j] != key[i]) continue; /* written already, or another flow */
    size_t o = meta[2 * j], l = meta[2 * j + 1];
    if (o > buf_len || l > buf_len - o) continue; /* an error when its turn comes */
    uint8_t *p = buf + o;
    if (p[9] != 17 || memcmp(first + 12, p + 12, 8) != 0) continue; /* another address pair */
    /* Same addresses: a whole datagram with other ports is another flow. */
    if (l >= 28 && p[0] == 0x45 && !(p[6] & 0x3f) && !p[7] && memcmp(first + 20, p + 20, 4) != 0)
      continue;
    /* This flow (or a fragment that may be of it): it joins the run, or the run ends here. */
    if (l < 28 || l - 28 > seg || total + l - 28 > NAT64_USO_MAX_BYTES) break;
    if (!udp4_same_flow(first, p) || !udp4_plain(p, l)) break;
    iov[1 + n].iov_base = p + 28;
    iov[1 + n].iov_len = l - 28;
    picked[n] = j;
    total += l - 28;
    n++;
    if (l - 28 < seg) break; /* a shorter datagram ends the run */
  }
  if (n < 2) return 0;
  for (uint32_t k = 1; k < n; k++) done[picked[k]] = 1;
  /* The first header now describes the whole run. */
  first[2] = (uint8_t)(total >> 8);
  first[3] = (uint8_t)total;
  first[10] = first[11] = 0;
  uint16_t ipc = (uint16_t)~fold16(sum_bytes(first, 20));
  first[10] = (uint8_t)(ipc >> 8);
  first[11] = (uint8_t)ipc;
  size_t ulen = total - 20;
  first[24] = (uint8_t)(ulen >> 8);
  first[25] = (uint8_t)ulen;
  uint16_t pseudo = fold16(sum_bytes(first + 12, 8) + 17 + ulen);
  first[26] = (uint8_t)(pseudo >> 8);
  first[27] = (uint8_t)pseudo;
  memset(h, 0, sizeof *h);
  h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
  h->csum_start = 20;
  h->csum_offset = 6;
  h->gso_type = VIRTIO_NET_HDR_GSO_UDP_L4;
  h->gso_size = (uint16_t)seg;
  h->hdr_len = 28;
  return n;
}

/* Calls cb(count) in JS; exceptions go to process 'uncaughtException'. */
static void deliver(tun_t *t, uint32_t count) {
  napi_env env = t->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value cb, recv, arg, result;
  if (napi_get_reference_value(env, t->cb_ref, &cb) == napi_ok && cb != NULL) {
    napi_get_global(env, &recv);
    napi_create_uint32(env, count, &arg);
    if (napi_make_callback(env, t->async_ctx, recv, cb, 1, &arg, &result) != napi_ok) {
      bool pending = false;
      napi_is_exception_pending(env, &pending);
      if (pending) {
        napi_value exc;
        napi_get_and_clear_last_exception(env, &exc);
        napi_fatal_exception(env, exc);
      }
    }
  }
  napi_close_handle_scope(env, scope);
}

static void on_readable(uv_poll_t *handle, int status, int events) {
  tun_t *t = (tun_t *)handle->data;
  if (t->closed) return;
  if (status < 0) {
    t->read_errors++;
    return;
  }
  if (!(events & UV_READABLE)) return;
  size_t max = t->buf_len / t->slot;
  if (max > t->meta_len) max = t->meta_len;
  for (;;) {
    uint32_t count = 0;
    int again = 0;
    while (count < max) {
      uint8_t *dst = t->buf + (size_t)count * t->slot;
      ssize_t n;
      struct virtio_net_hdr vh;
      if (t->vnet) {
        struct iovec iov[2] = {{&vh, sizeof vh}, {dst, t->slot}};
        n = readv(t->fd, iov, 2);
        if (n >= 0) n = n >= (ssize_t)sizeof vh ? n - (ssize_t)sizeof vh : 0;
      } else {
        n = read(t->fd, dst, t->slot);
      }
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) t->read_errors++;
        again = 1;
        break;
      }
      if ((size_t)n == t->slot) t->truncated++; /* can't tell; counted as suspicious */
      if (t->vnet) {
        uint32_t g = 0;
        if (!vnet_rx(t, &vh, dst, (size_t)n, &g)) {
          t->vnet_dropped++;
          continue;
        }
        if (t->gso && count < t->gso_len) t->gso[count] = g;
      }
      t->meta[count++] = (uint32_t)n;
    }
    if (count > 0) {
      t->read_packets += count;
      t->read_batches++;
      deliver(t, count);
      if (t->closed || t->polling != 1) return;
    }
    if (again) return;
  }
}

static int get_u8(napi_env env, napi_value v, uint8_t **data, size_t *len) {
  napi_typedarray_type type;
  napi_value ab;
  size_t off;
  void *p;
  if (napi_get_typedarray_info(env, v, &type, len, &p, &ab, &off) != napi_ok ||
      type != napi_uint8_array)
    return 0;
  *data = (uint8_t *)p;
  return 1;
}

static int get_u32(napi_env env, napi_value v, uint32_t **data, size_t *len) {
  napi_typedarray_type type;
  napi_value ab;
  size_t off;
  void *p;
  if (napi_get_typedarray_info(env, v, &type, len, &p, &ab, &off) != napi_ok ||
      type != napi_uint32_array)
    return 0;
  *data = (uint32_t *)p;
  return 1;
}

static napi_value js_start_reading(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  tun_t *t = get_tun(env, argv[0]);
  if (!t) return NULL;
  if (t->closed) return throw_errno(env, "startReading", EBADF);
  t->gso = NULL;
  t->gso_len = 0;
  if (argc > 5) {
    napi_valuetype gtype;
    if (napi_typeof(env, argv[5], &gtype) == napi_ok && gtype != napi_undefined &&
        !get_u32(env, argv[5], &t->gso, &t->gso_len)) {
      napi_throw_type_error(env, NULL, "startReading: gso must be a Uint32Array");
      return NULL;
    }
  }
  if (t->polling) {
    napi_throw_error(env, NULL, "already reading");
    return NULL;
  }
  uint32_t slot = 0;
  napi_valuetype cbtype;
  if (argc < 5 || !get_u8(env, argv[1], &t->buf, &t->buf_len) ||
      !get_u32(env, argv[2], &t->meta, &t->meta_len) ||
      napi_get_value_uint32(env, argv[3], &slot) != napi_ok || slot == 0 ||
      slot > t->buf_len || napi_typeof(env, argv[4], &cbtype) != napi_ok ||
      cbtype != napi_function) {
    napi_throw_type_error(env, NULL,
                          "startReading(handle, buf: Uint8Array, lengths: Uint32Array, "
                          "slot: number, cb: (count) => void)");
    return NULL;
  }
  t->slot = slot;
  CHECK(env, napi_create_reference(env, argv[1], 1, &t->buf_ref));
  CHECK(env, napi_create_reference(env, argv[2], 1, &t->meta_ref));
  CHECK(env, napi_create_reference(env, argv[4], 1, &t->cb_ref));
  if (t->gso) CHECK(env, napi_create_reference(env, argv[5], 1, &t->gso_ref));
  napi_value resource_name;
  CHECK(env, napi_create_string_utf8(env, "nat64d:tun", NAPI_AUTO_LENGTH, &resource_name));
  napi_value resource;
  CHECK(env, napi_create_object(env, &resource));
  CHECK(env, napi_async_init(env, resource, resource_name, &t->async_ctx));
  uv_loop_t *loop = NULL;
  CHECK(env, napi_get_uv_event_loop(env, &loop));
  int r = uv_poll_init(loop, &t->poll, t->fd);
  if (r < 0) {
    release_refs(t);
    return throw_errno(env, "uv_poll_init", -r);
  }
  t->poll.data = t;
  t->polling = 1;
  r = uv_poll_start(&t->poll, UV_READABLE, on_readable);
  if (r < 0) {
    stop_polling(t);
    release_refs(t);
    return throw_errno(env, "uv_poll_start", -r);
  }
  return NULL;
}

static napi_value js_stop_reading(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  tun_t *t = get_tun(env, argv[0]);
  if (!t) return NULL;
  stop_polling(t);
  release_refs(t);
  return NULL;
}

static napi_value js_write_batch(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  tun_t *t = get_tun(env, argv[0]);
  if (!t) return NULL;
  uint32_t *gso = NULL;
  size_t gso_len = 0;
  if (argc > 4) {
    napi_valuetype gtype;
    if (napi_typeof(env, argv[4], &gtype) == napi_ok && gtype != napi_undefined &&
        !get_u32(env, argv[4], &gso, &gso_len)) {
      napi_throw_type_error(env, NULL, "writeBatch: gso must be a Uint32Array");
      return NULL;
    }
  }
  uint8_t *buf;
  size_t buf_len;
  uint32_t *meta;
  size_t meta_len;
  uint32_t count = 0;
  if (argc < 4 || !get_u8(env, argv[1], &buf, &buf_len) ||
      !get_u32(env, argv[2], &meta, &meta_len) ||
      napi_get_value_uint32(env, argv[3], &count) != napi_ok || (size_t)count * 2 > meta_len) {
    napi_throw_type_error(env, NULL,
                          "writeBatch(handle, buf: Uint8Array, meta: Uint32Array, count)");
    return NULL;
  }
  uint32_t written = 0;
  int group = !t->closed && t->vnet && t->uso && count > 1;
  if (group && count > t->uso_cap) {
    uint32_t *k = realloc(t->uso_key, count * sizeof *k);
    if (k) t->uso_key = k;
    uint8_t *d = realloc(t->uso_done, count);
    if (d) t->uso_done = d;
    if (k && d) t->uso_cap = count;
    else group = 0; /* out of memory: every packet alone */
  }
  if (group) {
    for (uint32_t i = 0; i < count; i++) {
      size_t off = meta[2 * i], len = meta[2 * i + 1];
      int tcp_gso = gso && i < gso_len && gso[i];
      t->uso_key[i] =
          tcp_gso || off > buf_len || len > buf_len - off ? 0 : ip4_pair_key(buf + off, len);
      t->uso_done[i] = 0;
    }
  }
  if (!t->closed) {
    struct iovec run[NAT64_USO_MAX_SEGS + 1];
    for (uint32_t i = 0; i < count; i++) {
      if (group && t->uso_done[i]) continue; /* went out in an earlier packet's run */
      if (group && t->uso_key[i]) {
        struct virtio_net_hdr uh;
        uint32_t n =
            udp4_group(buf, buf_len, meta, count, i, t->uso_key, t->uso_done, run, &uh);
        if (n >= 2) {
          run[0].iov_base = &uh;
          run[0].iov_len = sizeof uh;
          ssize_t r;
          do {
            r = writev(t->fd, run, (int)n + 1);
          } while (r < 0 && errno == EINTR);
          if (r < 0) {
            t->write_errors += n;
          } else {
            written += n;
            t->uso_writes++;
            t->uso_datagrams += n;
          }
          continue;
        }
      }
      size_t off = meta[2 * i], len = meta[2 * i + 1];
      if (off > buf_len || len > buf_len - off) {
        t->write_errors++;
        continue;
      }
      ssize_t n;
      if (t->vnet) {
        struct virtio_net_hdr vh;
        vnet_tx(t, buf + off, len, gso && i < gso_len ? gso[i] : 0, &vh);
        struct iovec iov[2] = {{&vh, sizeof vh}, {buf + off, len}};
        do {
          n = writev(t->fd, iov, 2);
        } while (n < 0 && errno == EINTR);
      } else {
        do {
          n = write(t->fd, buf + off, len);
        } while (n < 0 && errno == EINTR);
      }
      if (n < 0) {
        /* EAGAIN (queue full), EINVAL (malformed for the kernel), EIO (link down)... */
        t->write_errors++;
        continue;
      }
      written++;
    }
  }
  t->write_packets += written;
  napi_value v;
  CHECK(env, napi_create_uint32(env, written, &v));
  return v;
}

static void set_num(napi_env env, napi_value obj, const char *key, double value) {
  napi_value v;
  napi_create_double(env, value, &v);
  napi_set_named_property(env, obj, key, v);
}

static napi_value js_stats(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  tun_t *t = get_tun(env, argv[0]);
  if (!t) return NULL;
  napi_value obj;
  CHECK(env, napi_create_object(env, &obj));
  set_num(env, obj, "readPackets", t->read_packets);
  set_num(env, obj, "readBatches", t->read_batches);
  set_num(env, obj, "readErrors", t->read_errors);
  set_num(env, obj, "writePackets", t->write_packets);
  set_num(env, obj, "writeErrors", t->write_errors);
  set_num(env, obj, "readTruncated", t->truncated);
  set_num(env, obj, "gsoIn", t->gso_in);
  set_num(env, obj, "gsoOut", t->gso_out);
  set_num(env, obj, "csumCompleted", t->csum_completed);
  set_num(env, obj, "vnetDropped", t->vnet_dropped);
  set_num(env, obj, "usoWrites", t->uso_writes);
  set_num(env, obj, "usoDatagrams", t->uso_datagrams);
  set_num(env, obj, "usoIn", t->uso_in);
  set_num(env, obj, "usoOut", t->uso_out);
  return obj;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  tun_t *t = get_tun(env, argv[0]);
  if (!t) return NULL;
  do_close(t);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"open", NULL, js_open, NULL, NULL, NULL, napi_default, NULL},
      {"name", NULL, js_name, NULL, NULL, NULL, napi_default, NULL},
      {"fd", NULL, js_fd, NULL, NULL, NULL, napi_default, NULL},
      {"setMtu", NULL, js_set_mtu, NULL, NULL, NULL, napi_default, NULL},
      {"setTxQueueLen", NULL, js_set_tx_queue_len, NULL, NULL, NULL, napi_default, NULL},
      {"setPersist", NULL, js_set_persist, NULL, NULL, NULL, napi_default, NULL},
      {"setOffload", NULL, js_set_offload, NULL, NULL, NULL, napi_default, NULL},
      {"setUdpCoalesce", NULL, js_set_udp_coalesce, NULL, NULL, NULL, napi_default, NULL},
      {"startReading", NULL, js_start_reading, NULL, NULL, NULL, napi_default, NULL},
      {"stopReading", NULL, js_stop_reading, NULL, NULL, NULL, napi_default, NULL},
      {"writeBatch", NULL, js_write_batch, NULL, NULL, NULL, napi_default, NULL},
      {"stats", NULL, js_stats, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_value flags;
  napi_create_object(env, &flags);
  napi_value v;
  napi_create_int32(env, NAT64_TUN_MULTI_QUEUE, &v);
  napi_set_named_property(env, flags, "MULTI_QUEUE", v);
  napi_create_int32(env, NAT64_TUN_VNET_HDR, &v);
  napi_set_named_property(env, flags, "VNET_HDR", v);
  napi_create_int32(env, TUN_F_CSUM, &v);
  napi_set_named_property(env, flags, "TUN_F_CSUM", v);
  napi_create_int32(env, TUN_F_TSO6, &v);
  napi_set_named_property(env, flags, "TUN_F_TSO6", v);
  napi_create_int32(env, NAT64_GSO_ECN, &v);
  napi_set_named_property(env, flags, "GSO_ECN", v);
  napi_create_int32(env, NAT64_GSO_UDP, &v);
  napi_set_named_property(env, flags, "GSO_UDP", v);
  napi_create_int32(env, TUN_F_USO4, &v);
  napi_set_named_property(env, flags, "TUN_F_USO4", v);
  napi_create_int32(env, TUN_F_USO6, &v);
  napi_set_named_property(env, flags, "TUN_F_USO6", v);
  napi_set_named_property(env, exports, "flags", flags);
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE_INIT() { return init(env, exports); }
