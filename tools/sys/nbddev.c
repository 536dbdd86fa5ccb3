// SPDX-License-Identifier: GPL-2.0
/*
 * nbddev - kernel nbd devices over generic netlink (see nbddev.h).
 *
 * The handshake follows the NBD protocol (doc/proto.md in the nbd project):
 * the server's "NBDMAGIC" "IHAVEOPT" and handshake flags, our client
 * flags, then NBD_OPT_EXPORT_NAME with an empty name, answered by the
 * export size and transmission flags. The netlink messages are those
 * nbd-client builds with libnl (nbd-client.c, netlink_configure()), built
 * here by hand: one request, one answer, no library.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/genetlink.h>
#include <linux/nbd-netlink.h>
#include <linux/nbd.h>
#include <linux/netlink.h>

#include "nbddev.h"
#include "modload.h"

#define NBD_INIT_MAGIC		0x4e42444d41474943ULL	/* "NBDMAGIC" */
#define NBD_OPTS_MAGIC		0x49484156454f5054ULL	/* "IHAVEOPT" */
#define NBD_OPT_EXPORT_NAME	1
#define NBD_FLAG_FIXED_NEWSTYLE	(1 << 0)
#define NBD_FLAG_NO_ZEROES	(1 << 1)

/* ---- the handshake ---------------------------------------------------- */

static int read_all(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len) {
		ssize_t r = read(fd, p, len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ECONNRESET;
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t r = write(fd, p, len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

static int handshake(int fd, struct nbddev *nd, const char **why)
{
	struct {
		uint64_t magic, opts;
		uint16_t flags;
	} __attribute__((packed)) hello;
	struct {
		uint64_t magic;
		uint32_t opt, len;
	} __attribute__((packed)) req;
	struct {
		uint64_t size;
		uint16_t flags;
	} __attribute__((packed)) ans;
	char zeros[124];
	uint32_t cflags;
	uint16_t hflags;
	int err;

	*why = "the NBD handshake failed";
	err = read_all(fd, &hello, sizeof(hello));
	if (err)
		return err;
	if (be64toh(hello.magic) != NBD_INIT_MAGIC ||
	    be64toh(hello.opts) != NBD_OPTS_MAGIC) {
		*why = "the server does not speak the NBD newstyle protocol";
		return -EPROTO;
	}
	hflags = be16toh(hello.flags);
	if (!(hflags & NBD_FLAG_FIXED_NEWSTYLE)) {
		*why = "the server does not speak fixed newstyle NBD";
		return -EPROTO;
	}
	cflags = htobe32(NBD_FLAG_FIXED_NEWSTYLE |
			 (hflags & NBD_FLAG_NO_ZEROES));
	req.magic = htobe64(NBD_OPTS_MAGIC);
	req.opt = htobe32(NBD_OPT_EXPORT_NAME);
	req.len = 0;
	err = write_all(fd, &cflags, sizeof(cflags));
	if (!err)
		err = write_all(fd, &req, sizeof(req));
	if (!err)
		err = read_all(fd, &ans, sizeof(ans));
	if (!err && !(hflags & NBD_FLAG_NO_ZEROES))
		err = read_all(fd, zeros, sizeof(zeros));
	if (err)
		return err;
	nd->size = be64toh(ans.size);
	nd->flags = be16toh(ans.flags);
	nd->read_only = nd->flags & NBD_FLAG_READ_ONLY;
	return 0;
}

/* ---- generic netlink -------------------------------------------------- */

struct nlbuf {
	union {
		struct nlmsghdr h;
		char buf[16384];
	} u;
};

static void nl_start(struct nlbuf *m, uint16_t type, uint8_t cmd,
		     uint8_t version)
{
	struct genlmsghdr *g;

	memset(m, 0, sizeof(*m));
	m->u.h.nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN);
	m->u.h.nlmsg_type = type;
	m->u.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	m->u.h.nlmsg_seq = 1;
	g = NLMSG_DATA(&m->u.h);
	g->cmd = cmd;
	g->version = version;
}

/* Append attribute @type; returns it (for nesting) or NULL when full. */
static struct nlattr *nl_put(struct nlbuf *m, uint16_t type, const void *data,
			     size_t len)
{
	struct nlattr *a;
	size_t at = NLMSG_ALIGN(m->u.h.nlmsg_len);

	if (at + NLA_ALIGN(NLA_HDRLEN + len) > sizeof(m->u.buf))
		return NULL;
	a = (struct nlattr *)(m->u.buf + at);
	a->nla_type = type;
	a->nla_len = (uint16_t)(NLA_HDRLEN + len);
	if (len)
		memcpy((char *)a + NLA_HDRLEN, data, len);
	m->u.h.nlmsg_len = (uint32_t)(at + NLA_ALIGN(a->nla_len));
	return a;
}

/* Close a nested attribute opened by nl_put(m, type | NLA_F_NESTED, 0). */
static void nl_end(struct nlbuf *m, struct nlattr *a)
{
	a->nla_len = (uint16_t)(m->u.buf + m->u.h.nlmsg_len - (char *)a);
}

/*
 * Send @m on a new generic netlink socket and read the answer into @ans
 * (may be NULL): its error (the ack) is returned.
 */
static int nl_talk(struct nlbuf *m, struct nlbuf *ans)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	struct nlbuf tmp;
	int fd, err = 0;
	bool got_ans = false;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	if (fd < 0)
		return -errno;
	if (sendto(fd, m->u.buf, m->u.h.nlmsg_len, 0, (struct sockaddr *)&sa,
		   sizeof(sa)) < 0) {
		err = -errno;
		goto out;
	}
	for (;;) {
		struct nlbuf *b = (ans && !got_ans) ? ans : &tmp;
		ssize_t r = recv(fd, b->u.buf, sizeof(b->u.buf), 0);
		struct nlmsghdr *h;

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err = -errno;
			goto out;
		}
		h = &b->u.h;
		if (!NLMSG_OK(h, (size_t)r)) {
			err = -EPROTO;
			goto out;
		}
		if (h->nlmsg_type == NLMSG_ERROR) {
			struct nlmsgerr *e = NLMSG_DATA(h);

			err = e->error;
			goto out;
		}
		got_ans = true;
	}
out:
	close(fd);
	return err;
}

/* The first attribute @type of the generic netlink answer @m. */
static const struct nlattr *nl_attr(const struct nlbuf *m, uint16_t type)
{
	size_t off = NLMSG_LENGTH(GENL_HDRLEN);

	while (off + NLA_HDRLEN <= m->u.h.nlmsg_len) {
		const struct nlattr *a = (const void *)(m->u.buf + off);

		if (a->nla_len < NLA_HDRLEN ||
		    off + a->nla_len > m->u.h.nlmsg_len)
			break;
		if ((a->nla_type & NLA_TYPE_MASK) == type)
			return a;
		off += NLA_ALIGN(a->nla_len);
	}
	return NULL;
}

static int family_id(void)
{
	struct nlbuf m, ans;
	const struct nlattr *a;
	int err;

	memset(&ans, 0, sizeof(ans));
	nl_start(&m, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 1);
	nl_put(&m, CTRL_ATTR_FAMILY_NAME, NBD_GENL_FAMILY_NAME,
	       sizeof(NBD_GENL_FAMILY_NAME));
	err = nl_talk(&m, &ans);
	if (err)
		return err;
	a = nl_attr(&ans, CTRL_ATTR_FAMILY_ID);
	if (!a || a->nla_len < NLA_HDRLEN + sizeof(uint16_t))
		return -EPROTO;
	return *(const uint16_t *)((const char *)a + NLA_HDRLEN);
}

static int family(void)
{
	int id = family_id();

	if (id == -ENOENT) {
		/* Not loaded yet; built in when modprobe fails. */
		modload_quiet("nbd");
		id = family_id();
	}
	return id;
}

int nbddev_index(dev_t rdev)
{
	char path[64], link[256];
	const char *base;
	ssize_t n;
	int idx;
	char tail;

	if (major(rdev) != NBDDEV_MAJOR)
		return -ENOENT;
	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u", major(rdev),
		 minor(rdev));
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return -errno;
	link[n] = '\0';
	base = strrchr(link, '/');
	base = base ? base + 1 : link;
	if (sscanf(base, "nbd%d%c", &idx, &tail) != 1 || idx < 0)
		return -ENOENT;
	return idx;
}

/* The device number of /dev/nbd@index, from sysfs. */
static int index_rdev(int index, dev_t *rdev)
{
	char path[64];
	unsigned int ma, mi;
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "/sys/block/nbd%d/dev", index);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	ok = fscanf(f, "%u:%u", &ma, &mi) == 2;
	fclose(f);
	if (!ok)
		return -EPROTO;
	*rdev = makedev(ma, mi);
	return 0;
}

/* A socket connected to @sa with the handshake done, or a negative errno. */
static int open_connection(const struct sockaddr_un *sa, struct nbddev *nd,
			   const char **why)
{
	int fd, err;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*why = "socket";
		return -errno;
	}
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0) {
		err = -errno;
		*why = "cannot connect to the server's socket";
		close(fd);
		return err;
	}
	err = handshake(fd, nd, why);
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}

/*
 * How many connections to give the device: one per online CPU (at most
 * NBDDEV_MAX_CONNECTIONS), when the server says that a flush on any of them
 * covers the writes of all (NBD_FLAG_CAN_MULTI_CONN); else one.  With one,
 * every request goes through one kernel receive thread and one server
 * thread whatever the queue depth (bench/README.md, "Why the QD16 random-read
 * row is a tie").
 */
static int connections_wanted(const struct nbddev *nd)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	if (!(nd->flags & NBD_FLAG_CAN_MULTI_CONN) || cpus < 2)
		return 1;
	return cpus < NBDDEV_MAX_CONNECTIONS ? (int)cpus : NBDDEV_MAX_CONNECTIONS;
}

int nbddev_connect(const char *sock_path, bool no_trim, struct nbddev *nd,
		   const char **why)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct nlbuf m, ans;
	struct nlattr *socks, *item;
	const struct nlattr *a;
	const char *dummy;
	uint64_t size, bsize = 512, sflags;
	uint32_t sfd;
	int fds[NBDDEV_MAX_CONNECTIONS];
	int n = 0, want, i, fd, fam, err = 0;

	if (!why)
		why = &dummy;
	memset(nd, 0, sizeof(*nd));
	nd->index = -1;
	if (strlen(sock_path) >= sizeof(sa.sun_path)) {
		*why = "the socket path is too long";
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, sock_path);
	fd = open_connection(&sa, nd, why);
	if (fd < 0)
		return fd;
	fds[n++] = fd;
	/*
	 * More connections only as the server offers them: one that refuses
	 * or answers differently leaves the device with those made so far.
	 */
	want = connections_wanted(nd);
	while (n < want) {
		struct nbddev more;
		const char *ignored;

		fd = open_connection(&sa, &more, &ignored);

		if (fd < 0)
			break;
		if (more.size != nd->size || more.flags != nd->flags) {
			close(fd);
			break;
		}
		fds[n++] = fd;
	}
	nd->connections = n;
	fam = family();
	if (fam < 0) {
		err = fam;
		*why = "the kernel's nbd driver is not available (modprobe nbd)";
		goto out;
	}
	memset(&ans, 0, sizeof(ans));
	nl_start(&m, (uint16_t)fam, NBD_CMD_CONNECT, NBD_GENL_VERSION);
	size = nd->size;
	sflags = nd->flags;
	if (no_trim)
		sflags &= ~(uint64_t)NBD_FLAG_SEND_TRIM;
	nl_put(&m, NBD_ATTR_SIZE_BYTES, &size, sizeof(size));
	nl_put(&m, NBD_ATTR_BLOCK_SIZE_BYTES, &bsize, sizeof(bsize));
	nl_put(&m, NBD_ATTR_SERVER_FLAGS, &sflags, sizeof(sflags));
	socks = nl_put(&m, NBD_ATTR_SOCKETS | NLA_F_NESTED, NULL, 0);
	for (i = 0; i < n; i++) {
		sfd = (uint32_t)fds[i];
		item = nl_put(&m, NBD_SOCK_ITEM | NLA_F_NESTED, NULL, 0);
		nl_put(&m, NBD_SOCK_FD, &sfd, sizeof(sfd));
		nl_end(&m, item);
	}
	nl_end(&m, socks);
	err = nl_talk(&m, &ans);
	if (err) {
		*why = "the kernel's nbd driver refused the connection";
		goto out;
	}
	a = nl_attr(&ans, NBD_ATTR_INDEX);
	if (!a || a->nla_len < NLA_HDRLEN + sizeof(uint32_t)) {
		*why = "the kernel's nbd driver did not say which device it used";
		err = -EPROTO;
		goto out;
	}
	nd->index = (int)*(const uint32_t *)((const char *)a + NLA_HDRLEN);
	err = index_rdev(nd->index, &nd->rdev);
	if (err) {
		*why = "cannot find the nbd device in sysfs";
		nbddev_disconnect(nd->index);
		nd->index = -1;
	}
out:
	/* The kernel holds its own references to the sockets now. */
	for (i = 0; i < n; i++)
		close(fds[i]);
	return err;
}

int nbddev_disconnect(int index)
{
	struct nlbuf m;
	uint32_t idx = (uint32_t)index;
	int fam = family();

	if (fam < 0)
		return fam;
	nl_start(&m, (uint16_t)fam, NBD_CMD_DISCONNECT, NBD_GENL_VERSION);
	nl_put(&m, NBD_ATTR_INDEX, &idx, sizeof(idx));
	return nl_talk(&m, NULL);
}
