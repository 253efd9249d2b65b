// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * Figures 4, 5 and 6: an in-kernel look-aside cache for Memcached over UDP.
 *
 * mc_cache_rx (SEC "xdp", on the server's interface) answers single-key
 * "get <key>\r\n" requests to mc_config.port from mc_cache: on a hit the
 * request is rewritten in place into Memcached's own reply and sent back
 * with XDP_TX; on a miss it goes on to Memcached. Any command that may
 * change a key drops that key's entry first, before Memcached sees it;
 * commands that may change keys it cannot name (flush_all, gat, meta
 * commands, anything unknown) bump mc_state.epoch, which makes every older
 * entry a miss.
 *
 * mc_cache_tx (SEC "tc", egress of the same interface) fills the cache from
 * the replies Memcached sends: a one-datagram "VALUE <key> <flags>
 * <bytes>\r\n<data>\r\nEND\r\n" with a value of at most MC_VALUE_MAX bytes
 * is stored as it is. It never changes or drops a packet.
 *
 * Both programs must share their maps: load the object once (bpftool prog
 * loadall ... pinmaps DIR) and attach the pinned programs, or load it for
 * each program with the first one's pinned maps taken over (the bpf_hook
 * role's bpf_hook_reuse_maps, as roles/fig4_memcached does); then write the
 * port into mc_config. Until then the port is 0 and everything passes.
 *
 * Known limit, as in any look-aside cache filled from replies: a reply to a
 * get that Memcached served just before a write of the same key, still in
 * flight when that write arrives, can refill the old value after the
 * write's invalidation. The experiments never write during a measurement.
 *
 * A hit grows the frame to the reply's size at the tail, or at the head
 * when the tail has no room (see resize_frame); when neither has, the
 * request goes to Memcached and counts in MC_STAT_NO_ROOM.
 *
 * Needs bpf_loop (Linux 5.17) and bpf_xdp_load_bytes/bpf_xdp_store_bytes
 * (5.18). Byte scans run in bpf_loop callbacks, and key hashing and
 * comparison over fixed word counts, so the verifier walks each once.
 */
#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "mc_proto.h"
#include "net_parse.h"

/* Longest command word we tell apart, with its space ("prepend "). */
#define CMD_PEEK 8

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mc_config);
} mc_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mc_state);
} mc_state SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MC_CACHE_ENTRIES);
	__type(key, __u64);
	__type(value, struct mc_entry);
} mc_cache SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MC_STAT_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} mc_stats SEC(".maps");

/* Words of a whole request after the frame header. */
#define LINE_WORDS ((MC_UDP_PAYLOAD_MAX + 7) / 8)
/* Eight spaces. */
#define SPACES 0x2020202020202020ULL

/* Per-CPU room too large for the 512-byte stack: a request's key (and its
 * padding, see lookup_get), and the entry mc_cache_tx builds before
 * storing it. */
struct mc_key_buf {
	__u64 w[LINE_WORDS];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mc_key_buf);
} mc_key_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mc_entry);
} mc_fill_scratch SEC(".maps");

static __always_inline void stat_inc(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&mc_stats, &idx);

	if (v)
		(*v)++;
}

static __always_inline __u32 config_port(void)
{
	__u32 key = 0;
	struct mc_config *cfg = bpf_map_lookup_elem(&mc_config, &key);

	return cfg ? cfg->port : 0;
}

static __always_inline struct mc_state *state_get(void)
{
	__u32 key = 0;

	return bpf_map_lookup_elem(&mc_state, &key);
}

static __always_inline void *percpu_scratch(void *map)
{
	__u32 key = 0;

	return bpf_map_lookup_elem(map, &key);
}

/*
 * Keys are hashed and compared as MC_KEY_WORDS words, zero past the key's
 * end, in every buffer: the loops below then run all the words, with no
 * branch on the key's length. (A loop that stopped at the key's end would
 * leave the verifier one path per length through the rest of the program.)
 */
static __always_inline void key_clear(__u64 *w)
{
	__u32 i;

	for (i = 0; i < MC_KEY_WORDS; i++)
		w[i] = 0;
}

/* The map key of the zero-padded key @w of @len (1..MC_KEY_MAX) bytes. */
static __always_inline __u64 key_hash(const __u64 *w, __u32 len)
{
	__u64 h = 0x9e3779b97f4a7c15ULL ^ len;
	__u32 i;

	for (i = 0; i < MC_KEY_WORDS; i++) {
		h = (h ^ w[i]) * 0x100000001b3ULL;
		h ^= h >> 29;
	}
	return h;
}

static __always_inline bool key_equal(const struct mc_entry *e,
				      const __u64 *w, __u32 len)
{
	__u64 diff = e->key_len ^ len;
	__u32 i;

	for (i = 0; i < MC_KEY_WORDS; i++)
		diff |= e->key[i] ^ w[i];
	return diff == 0;
}

/* Load the key of @len (1..MC_KEY_MAX) bytes at @off, zero padded. */
static __always_inline int key_load(struct xdp_md *ctx, __u32 off, __u64 *w, __u32 len)
{
	key_clear(w);
	if (len == 0 || len > MC_KEY_MAX)
		return -1;
	return bpf_xdp_load_bytes(ctx, off, w, len);
}

/* Does @buf start with the @n characters of @word? Inlined with a
 * literal @word, this becomes a few compares with constants. */
static __always_inline bool starts_with(const char *buf, const char *word, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (buf[i] != word[i])
			return false;
	return true;
}

/* RFC 1624: the checksum after a 16-bit field went from @old to @new. */
static __always_inline __u16 csum_replace16(__u16 check, __u16 old, __u16 new)
{
	__u32 sum = (__u16)~check + (__u16)~old + (__u32)new;

	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/* Where a datagram's Memcached text starts and how long it is. */
struct mc_msg {
	__u32 off;	/* from the start of the frame */
	__u32 len;	/* bytes after the frame header */
};

/* Checks the UDP length against the frame and the frame header of a
 * one-datagram message. Returns 0, or -1 for anything else. */
static __always_inline int locate_msg(struct udp4_pkt *pkt, void *data,
				      void *data_end, struct mc_msg *msg)
{
	struct mc_frame_hdr *fh = (void *)(pkt->udp + 1);
	__u64 frame_len = data_end - data;
	__u64 udp_off = (void *)pkt->udp - data;
	__u32 udp_len = bpf_ntohs(pkt->udp->len);

	if ((void *)(fh + 1) > data_end)
		return -1;
	if (udp_len < sizeof(struct udphdr) + MC_FRAME_HDR_LEN ||
	    udp_off + udp_len > frame_len)
		return -1;
	if (fh->seq != 0 || fh->count != bpf_htons(1))
		return -1;
	msg->off = (__u32)udp_off + sizeof(struct udphdr) + MC_FRAME_HDR_LEN;
	msg->len = udp_len - sizeof(struct udphdr) - MC_FRAME_HDR_LEN;
	return 0;
}

/* ---------------------------------------------------------------- rx -- */

struct key_scan {
	__u32 n;	/* bytes loaded into mc_key_scratch */
	__u32 len;	/* key length found; 0 = none */
};

/* bpf_loop step: is byte @i of mc_key_scratch the end of the key? A
 * helper-driven loop is verified once, whatever the key's length. */
static long key_scan_step(__u32 i, void *arg)
{
	struct key_scan *ks = arg;
	struct mc_key_buf *kb = percpu_scratch(&mc_key_scratch);
	const char *c;

	if (!kb || i >= ks->n || i >= sizeof(kb->w))
		return 1;
	c = (const char *)kb->w;
	if (c[i] == ' ' || c[i] == '\r' || c[i] == '\n') {
		ks->len = i;
		return 1;
	}
	return 0;
}

/* Length of the key at the start of mc_key_scratch (@n bytes loaded): up
 * to the first space or line end. 0 when there is none within MC_KEY_MAX. */
static __always_inline __u32 key_length(__u32 n)
{
	struct key_scan ks = { .n = n, .len = 0 };

	bpf_loop(MC_KEY_MAX + 1, key_scan_step, &ks, 0);
	return ks.len;
}

static __always_inline void invalidate_all(void)
{
	struct mc_state *st = state_get();

	if (st) {
		__sync_fetch_and_add(&st->epoch, 1);
		stat_inc(MC_STAT_INVALIDATE);
	}
}

/* Drop the entry of the key that starts @skip bytes into the message; all
 * entries when that key cannot be read (Memcached will likely refuse the
 * command, but a stale entry must not survive a guess). */
static __always_inline void invalidate_key(struct xdp_md *ctx,
					   const struct mc_msg *msg, __u32 skip)
{
	struct mc_key_buf *kb = percpu_scratch(&mc_key_scratch);
	__u32 n, len;
	__u64 h;

	if (!kb || msg->len <= skip)
		goto unreadable;
	n = msg->len - skip;
	if (n > sizeof(kb->w))
		n = sizeof(kb->w);
	if (bpf_xdp_load_bytes(ctx, msg->off + skip, kb->w, n) < 0)
		goto unreadable;
	len = key_length(n);
	if (len == 0 || key_load(ctx, msg->off + skip, kb->w, len) < 0)
		goto unreadable;
	h = key_hash(kb->w, len);
	if (bpf_map_delete_elem(&mc_cache, &h) == 0)
		stat_inc(MC_STAT_INVALIDATE);
	return;
unreadable:
	stat_inc(MC_STAT_PARSE_ERROR);
	invalidate_all();
}

/* Commands other than get: invalidate what they may change. */
static __always_inline void handle_other(struct xdp_md *ctx, const struct mc_msg *msg,
					 const char *cmd)
{
	__u32 skip = 0;

	if (starts_with(cmd, "gets ", 5) || starts_with(cmd, "stats", 5) ||
	    starts_with(cmd, "version", 7))
		return;
	if (starts_with(cmd, "set ", 4) || starts_with(cmd, "add ", 4) ||
	    starts_with(cmd, "cas ", 4))
		skip = 4;
	else if (starts_with(cmd, "incr ", 5) || starts_with(cmd, "decr ", 5))
		skip = 5;
	else if (starts_with(cmd, "touch ", 6))
		skip = 6;
	else if (starts_with(cmd, "append ", 7) || starts_with(cmd, "delete ", 7))
		skip = 7;
	else if (starts_with(cmd, "replace ", 8) || starts_with(cmd, "prepend ", 8))
		skip = 8;

	if (skip)
		invalidate_key(ctx, msg, skip);
	else
		invalidate_all();
}

/* Bits of the bytes [@s, @e) of a word loaded from memory, 0 <= s < e <= 8. */
static __always_inline __u64 byte_mask(__u32 s, __u32 e)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	__u64 hi = e >= 8 ? ~0ULL : (1ULL << (e * 8)) - 1;

	return hi & ~((1ULL << (s * 8)) - 1);
#else
	__u64 lo = e >= 8 ? 0 : ~0ULL >> (e * 8);

	return (~0ULL >> (s * 8)) & ~lo;
#endif
}

struct pad_scan {
	__u32 from;	/* bytes [from, to) of mc_key_scratch must be spaces */
	__u32 to;
	__u32 bad;
};

/* bpf_loop step over word from / 8 + @i of the padding. */
static long pad_scan_step(__u32 i, void *arg)
{
	struct mc_key_buf *kb = percpu_scratch(&mc_key_scratch);
	struct pad_scan *ps = arg;
	__u32 word = ps->from / 8 + i, s, e;

	if (word * 8 >= ps->to)
		return 1;
	if (!kb || word >= LINE_WORDS) {
		ps->bad = 1;
		return 1;
	}
	s = ps->from > word * 8 ? ps->from - word * 8 : 0;
	e = ps->to < word * 8 + 8 ? ps->to - word * 8 : 8;
	if (s >= e || ((kb->w[word] ^ SPACES) & byte_mask(s, e))) {
		ps->bad = 1;
		return 1;
	}
	return 0;
}

/*
 * The key of "get <key>\r\n" in mc_key_scratch; returns its length, or 0
 * when the request is not a single-key get. The common request has no
 * space before "\r\n" and is read without a scan (a multi-key get then
 * reads as a key with spaces, which is never in the cache). A request
 * padded with spaces after its key, which Memcached ignores, is scanned:
 * mc_load --pad sends those so that a veth frame has the room the reply
 * needs.
 */
static __always_inline __u32 read_get_key(struct xdp_md *ctx, const struct mc_msg *msg,
					  struct mc_key_buf *kb)
{
	__u32 body = msg->len - 6;	/* after "get ", before "\r\n" */
	struct pad_scan ps;
	char tail[3];
	__u32 key_len;

	if (msg->len < 7 || body > sizeof(kb->w))
		return 0;
	if (bpf_xdp_load_bytes(ctx, msg->off + msg->len - 3, tail, 3) < 0 ||
	    tail[1] != '\r' || tail[2] != '\n')
		return 0;
	if (tail[0] != ' ')
		return key_load(ctx, msg->off + 4, kb->w, body) < 0 ? 0 : body;
	if (bpf_xdp_load_bytes(ctx, msg->off + 4, kb->w, body) < 0)
		return 0;
	key_len = key_length(body < MC_KEY_MAX + 1 ? body : MC_KEY_MAX + 1);
	if (key_len == 0)
		return 0;
	ps.from = key_len;
	ps.to = body;
	ps.bad = 0;
	bpf_loop(LINE_WORDS, pad_scan_step, &ps, 0);
	if (ps.bad || key_load(ctx, msg->off + 4, kb->w, key_len) < 0)
		return 0;
	return key_len;
}

/* The cached entry for the "get" key in @msg, or NULL. */
static __always_inline struct mc_entry *lookup_get(struct xdp_md *ctx,
						   const struct mc_msg *msg)
{
	struct mc_key_buf *kb = percpu_scratch(&mc_key_scratch);
	struct mc_state *st = state_get();
	struct mc_entry *e;
	__u32 key_len;
	__u64 h;

	if (!kb || !st)
		return NULL;
	key_len = read_get_key(ctx, msg, kb);
	if (key_len == 0 || key_len > MC_KEY_MAX) {
		/* Multi-key gets land here too: Memcached answers them. */
		stat_inc(MC_STAT_PARSE_ERROR);
		return NULL;
	}
	stat_inc(MC_STAT_RX_GET);
	h = key_hash(kb->w, key_len);
	e = bpf_map_lookup_elem(&mc_cache, &h);
	if (!e || e->epoch != st->epoch || !key_equal(e, kb->w, key_len))
		return NULL;
	return e;
}

/* Bytes the head may grow by: XDP_PACKET_HEADROOM (256) less the room the
 * kernel keeps for struct xdp_frame, with some margin. */
#define HEAD_GROW_MAX 192

/*
 * Make the frame @delta bytes longer (or shorter). The tail is tried
 * first; when it has no room, the head, then both. Drivers of real NICs
 * give every frame a page and the tail always has room; a veth copies
 * frames into page fragments sized to fit, so there a reply longer than
 * its request mostly needs the head. Returns the bytes added at the head
 * (the old frame now starts there), or -1 with the frame unchanged.
 */
static __always_inline int resize_frame(struct xdp_md *ctx, int delta)
{
	if (delta <= 0)
		return bpf_xdp_adjust_tail(ctx, delta) < 0 ? -1 : 0;
	if (bpf_xdp_adjust_tail(ctx, delta) == 0)
		return 0;
	if (delta <= HEAD_GROW_MAX && bpf_xdp_adjust_head(ctx, -delta) == 0)
		return delta;
	if (delta <= HEAD_GROW_MAX || bpf_xdp_adjust_head(ctx, -HEAD_GROW_MAX) < 0)
		return -1;
	if (bpf_xdp_adjust_tail(ctx, delta - HEAD_GROW_MAX) == 0)
		return HEAD_GROW_MAX;
	bpf_xdp_adjust_head(ctx, HEAD_GROW_MAX);
	return -1;
}

/* Ethernet + IPv4 (with options) + UDP + frame header. */
#define HDRS_MAX (sizeof(struct ethhdr) + 60 + sizeof(struct udphdr) + MC_FRAME_HDR_LEN)

/* Turn the request in @ctx into the reply held by @e. Returns 0, or -1
 * with the packet untouched (then Memcached answers it). */
static __always_inline int build_reply(struct xdp_md *ctx, const struct mc_msg *msg,
				       const struct mc_entry *e)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	__u32 reply_len = e->reply_len, hdrs_len = msg->off;
	unsigned char hdrs[HDRS_MAX];
	struct mc_frame_hdr *fh;
	struct udp4_pkt pkt;
	__u16 old_tot, new_tot;
	int head;

	if (reply_len == 0 || reply_len > MC_REPLY_MAX ||
	    hdrs_len == 0 || hdrs_len > HDRS_MAX)
		return -1;
	/* The headers, in case the frame grows at the head. */
	if (bpf_xdp_load_bytes(ctx, 0, hdrs, hdrs_len) < 0)
		return -1;
	head = resize_frame(ctx, (int)(hdrs_len + reply_len) - (int)(data_end - data));
	if (head < 0) {
		stat_inc(MC_STAT_NO_ROOM);
		return -1;
	}
	/* Cannot fail once the frame has its new size. */
	if (head && bpf_xdp_store_bytes(ctx, 0, hdrs, hdrs_len) < 0)
		return -1;
	if (bpf_xdp_store_bytes(ctx, hdrs_len, (void *)e->reply, reply_len) < 0)
		return -1;

	data_end = (void *)(long)ctx->data_end;
	data = (void *)(long)ctx->data;
	if (parse_udp4(data, data_end, &pkt) < 0)
		return -1;
	fh = (void *)(pkt.udp + 1);
	if ((void *)(fh + 1) > data_end)
		return -1;
	/* Request id kept; one datagram, the first. */
	fh->seq = 0;
	fh->count = bpf_htons(1);
	fh->reserved = 0;

	swap_udp4(&pkt);
	old_tot = pkt.ip->tot_len;
	new_tot = bpf_htons((__u16)(hdrs_len + reply_len - sizeof(struct ethhdr)));
	pkt.ip->tot_len = new_tot;
	pkt.ip->check = csum_replace16(pkt.ip->check, old_tot, new_tot);
	pkt.udp->len = bpf_htons((__u16)(sizeof(struct udphdr) + MC_FRAME_HDR_LEN +
					 reply_len));
	/* No UDP checksum: legal in IPv4, and cheaper than summing the reply. */
	pkt.udp->check = 0;
	return 0;
}

SEC("xdp")
int mc_cache_rx(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	__u32 port = config_port();
	char cmd[CMD_PEEK] = {};
	struct udp4_pkt pkt;
	struct mc_entry *e;
	struct mc_msg msg;
	__u32 peek;

	if (port == 0 || parse_udp4(data, data_end, &pkt) < 0)
		return XDP_PASS;
	if (pkt.udp->dest != bpf_htons(port))
		return XDP_PASS;
	if (locate_msg(&pkt, data, data_end, &msg) < 0 || msg.len == 0) {
		/* Memcached refuses multi-datagram requests; nothing to do. */
		stat_inc(MC_STAT_PARSE_ERROR);
		return XDP_PASS;
	}
	peek = msg.len < CMD_PEEK ? msg.len : CMD_PEEK;
	if (bpf_xdp_load_bytes(ctx, msg.off, cmd, peek) < 0)
		return XDP_PASS;

	if (!starts_with(cmd, "get ", 4)) {
		handle_other(ctx, &msg, cmd);
		return XDP_PASS;
	}
	e = lookup_get(ctx, &msg);
	if (!e || build_reply(ctx, &msg, e) < 0) {
		stat_inc(MC_STAT_MISS);
		return XDP_PASS;
	}
	stat_inc(MC_STAT_HIT);
	return XDP_TX;
}

/* ---------------------------------------------------------------- tx -- */

enum hdr_state { HDR_KEY, HDR_FLAGS, HDR_BYTES, HDR_LF, HDR_DONE, HDR_BAD };

/* The line "VALUE <key> <flags> <bytes>\r\n" at the start of a reply. */
struct hdr_scan {
	__u32 len;	/* reply bytes in mc_fill_scratch */
	__u32 state;
	__u32 key_len;
	__u32 digits;
	__u32 hdr_len;	/* bytes of the line, with its \r\n */
	__u64 num;
	__u64 flags;
	__u64 bytes;
};

static __always_inline long hdr_digit(struct hdr_scan *hs, char c, int max_digits)
{
	if (c < '0' || c > '9' || hs->digits >= max_digits) {
		hs->state = HDR_BAD;
		return 1;
	}
	hs->num = hs->num * 10 + (__u64)(c - '0');
	hs->digits++;
	return 0;
}

/* bpf_loop step over byte 6 + @i of the reply (after "VALUE "): one state
 * machine, so the verifier sees one path whatever the key's length. */
static long hdr_scan_step(__u32 i, void *arg)
{
	struct mc_entry *e = percpu_scratch(&mc_fill_scratch);
	struct hdr_scan *hs = arg;
	__u32 p = 6 + i;
	char c;

	if (!e || p >= hs->len || p >= MC_REPLY_MAX) {
		hs->state = HDR_BAD;
		return 1;
	}
	c = e->reply[p];
	switch (hs->state) {
	case HDR_KEY:
		if (c != ' ' && ++hs->key_len <= MC_KEY_MAX)
			return 0;
		if (c != ' ' || hs->key_len == 0) {
			hs->state = HDR_BAD;
			return 1;
		}
		hs->state = HDR_FLAGS;
		return 0;
	case HDR_FLAGS:
		if (c != ' ')
			return hdr_digit(hs, c, 10);
		if (hs->digits == 0 || hs->num > 0xffffffffULL) {
			hs->state = HDR_BAD;
			return 1;
		}
		hs->flags = hs->num;
		hs->num = 0;
		hs->digits = 0;
		hs->state = HDR_BYTES;
		return 0;
	case HDR_BYTES:
		/* A "gets" reply has a CAS value after the length: a space
		 * here is refused like any other stray byte. */
		if (c != '\r')
			return hdr_digit(hs, c, 7);
		if (hs->digits == 0) {
			hs->state = HDR_BAD;
			return 1;
		}
		hs->bytes = hs->num;
		hs->state = HDR_LF;
		return 0;
	case HDR_LF:
		hs->state = c == '\n' ? HDR_DONE : HDR_BAD;
		hs->hdr_len = p + 1;
		return 1;
	default:
		hs->state = HDR_BAD;
		return 1;
	}
}

/* Parses the reply of @len bytes in @e->reply; fills key_len, flags and
 * value_len. Returns 0 for a cacheable one-value reply, 1 when it is a
 * single value too large to cache, -1 when it is anything else. */
static __always_inline int parse_value_reply(struct mc_entry *e, __u32 len)
{
	struct hdr_scan hs = { .len = len, .state = HDR_KEY };
	__u32 pos;

	bpf_loop(MC_REPLY_HDR_MAX, hdr_scan_step, &hs, 0);
	if (hs.state != HDR_DONE)
		return -1;
	if (hs.bytes > MC_VALUE_MAX)
		return 1;
	if (hs.hdr_len + hs.bytes + 7 != len || hs.key_len == 0 ||
	    hs.key_len > MC_KEY_MAX)
		return -1;
	pos = hs.hdr_len + (__u32)hs.bytes;
	if (pos + 7 > MC_REPLY_MAX)
		return -1;
	if (!starts_with(e->reply + pos, "\r\nEND\r\n", 7))
		return -1;
	e->key_len = hs.key_len;
	e->flags = (__u32)hs.flags;
	e->value_len = (__u32)hs.bytes;
	return 0;
}

SEC("tc")
int mc_cache_tx(struct __sk_buff *skb)
{
	void *data_end = (void *)(long)skb->data_end;
	void *data = (void *)(long)skb->data;
	__u32 port = config_port();
	struct udp4_pkt pkt;
	struct mc_state *st;
	struct mc_entry *e;
	struct mc_msg msg;
	char head[6];
	__u64 h;
	int r;

	if (port == 0 || parse_udp4(data, data_end, &pkt) < 0)
		return TC_ACT_OK;
	if (pkt.udp->source != bpf_htons(port))
		return TC_ACT_OK;
	if (locate_msg(&pkt, data, data_end, &msg) < 0 || msg.len < 6)
		return TC_ACT_OK;	/* not one value in one datagram */
	if (bpf_skb_load_bytes(skb, msg.off, head, 6) < 0 ||
	    !starts_with(head, "VALUE ", 6))
		return TC_ACT_OK;	/* END (a miss), STORED, errors... */
	if (msg.len > MC_REPLY_MAX) {
		stat_inc(MC_STAT_TOO_BIG);
		return TC_ACT_OK;
	}

	e = percpu_scratch(&mc_fill_scratch);
	st = state_get();
	if (!e || !st)
		return TC_ACT_OK;
	if (bpf_skb_load_bytes(skb, msg.off, e->reply, msg.len) < 0)
		return TC_ACT_OK;
	r = parse_value_reply(e, msg.len);
	if (r != 0) {
		stat_inc(r > 0 ? MC_STAT_TOO_BIG : MC_STAT_PARSE_ERROR);
		return TC_ACT_OK;
	}

	key_clear(e->key);
	if (e->key_len == 0 || e->key_len > MC_KEY_MAX ||
	    bpf_skb_load_bytes(skb, msg.off + 6, e->key, e->key_len) < 0)
		return TC_ACT_OK;
	e->reply_len = msg.len;
	e->epoch = st->epoch;
	e->pad = 0;
	h = key_hash(e->key, e->key_len);
	if (bpf_map_update_elem(&mc_cache, &h, e, BPF_ANY) == 0)
		stat_inc(MC_STAT_FILL);
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
