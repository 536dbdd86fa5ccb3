// SPDX-License-Identifier: GPL-2.0
/*
 * nbdkit-umlcow-plugin - serve a User-Mode Linux COW file over NBD:
 *
 *   nbdkit umlcow disk.cow [backing=FILE] [force=true] [layout=NAME]
 *                          [readonly=true]
 *
 * Without dm-umlcow: reads come from the COW data area where a sector's bit
 * is set and from the backing file elsewhere; writes go to the COW file and
 * set the bits; the backing file is opened read-only and never written.
 * The format and the sector logic are the tools' own library (lib/: the
 * header parsing, the backing file rules, lib/engine.c), the lock is the
 * one umlcow-setup and UML take (sys/filelock.c), so the plugin, a kernel
 * mapping and a running UML refuse each other. Documentation/
 * nbdkit-umlcow.rst says more.
 *
 * The files are opened and locked once, in get_ready (before nbdkit
 * forks into the background, so a refusal is an error at start-up), and
 * every connection shares one engine: one in-memory bitmap, so a flush on
 * any connection makes every completed write durable (multi-conn is safe).
 */
#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cowfmt.h"
#include "engine.h"
#include "filelock.h"

#define THREAD_MODEL NBDKIT_THREAD_MODEL_PARALLEL

/* Configuration. */
static char *cow_path;		/* file=, as given (messages) */
static char *backing_path;	/* backing=, NULL: the header's rules */
static char *layout_name;	/* layout=, NULL: detect */
static bool force;		/* force=: accept an mtime mismatch */
static bool read_only;		/* readonly=: open and lock for reading */

/* State, set up in get_ready. */
static struct cow_file cf = { .fd = -1 };
static int backing_fd = -1;
static struct cow_engine *engine;

static void umlcow_unload(void)
{
	struct cow_err e;

	if (engine && cow_engine_flush(engine, &e))
		nbdkit_error("%s: %s", cow_path, e.msg);
	cow_engine_free(engine);
	engine = NULL;
	cow_close(&cf);
	if (backing_fd >= 0)
		close(backing_fd);
	backing_fd = -1;
	free(cow_path);
	free(backing_path);
	free(layout_name);
}

static int config_bool(const char *key, const char *value, bool *out)
{
	int r = nbdkit_parse_bool(value);

	if (r < 0)
		return -1;	/* nbdkit_parse_bool said why */
	*out = r;
	(void)key;
	return 0;
}

static int umlcow_config(const char *key, const char *value)
{
	char **slot = NULL;

	if (!strcmp(key, "file"))
		slot = &cow_path;
	else if (!strcmp(key, "backing"))
		slot = &backing_path;
	else if (!strcmp(key, "layout"))
		slot = &layout_name;
	else if (!strcmp(key, "force"))
		return config_bool(key, value, &force);
	else if (!strcmp(key, "readonly"))
		return config_bool(key, value, &read_only);
	else {
		nbdkit_error("unknown parameter '%s'", key);
		return -1;
	}
	if (*slot) {
		nbdkit_error("%s given twice", key);
		return -1;
	}
	/*
	 * Paths are kept as given, not made absolute: the library resolves
	 * the header's relative backing path next to the COW file as
	 * umlcow-setup does, and nbdkit does not chdir before get_ready.
	 */
	*slot = strdup(value);
	if (!*slot) {
		nbdkit_error("strdup: %m");
		return -1;
	}
	return 0;
}

static int umlcow_config_complete(void)
{
	if (!cow_path) {
		nbdkit_error("no COW file given: nbdkit umlcow FILE.cow [backing=FILE]");
		return -1;
	}
	return 0;
}

#define umlcow_config_help \
	"[file=]FILE.cow   (required) the UML COW file\n" \
	"backing=FILE      the backing file (default: the header's path)\n" \
	"force=true        accept a backing file whose mtime differs\n" \
	"layout=NAME       the header layout, when detection is ambiguous\n" \
	"readonly=true     open and lock the COW file for reading only"

/* Take UML's lock, or say who holds it, in umlcow-setup's words. */
static int lock(int fd, bool exclusive, const char *path, bool cow)
{
	static const struct filelock_words cow_words = {
		.hint = "is UML running on it, is it mapped, or served by another nbdkit?",
		.outcome = "not served",
	};
	static const struct filelock_words backing_words = {
		.backing = true, .outcome = "not served",
	};
	struct filelock_holder h;
	char why[512];
	int err = filelock_take(fd, exclusive, &h);

	if (!err)
		return 0;
	filelock_refusal(err, &h, cow ? &cow_words : &backing_words, why,
			 sizeof(why));
	nbdkit_error("%s: %s", path, why);
	return -1;
}

/* Open and lock the COW file, then parse it from that descriptor. */
static int open_cow(void)
{
	struct cow_open_opts co = { .layout = layout_name,
				    .backing = backing_path,
				    .writable = !read_only };
	struct cow_err e;
	int fd;

	fd = cow_open_path(cow_path, read_only ? O_RDONLY : O_RDWR, true,
			   NULL, &e);
	if (fd < 0) {
		if (!read_only &&
		    (errno == EROFS || errno == EACCES || errno == EPERM))
			nbdkit_error("%s: cannot open for writing: %s; serve it with readonly=true",
				     cow_path, strerror(errno));
		else
			nbdkit_error("%s: %s", cow_path, e.msg);
		return -1;
	}
	if (lock(fd, !read_only, cow_path, true)) {
		close(fd);
		return -1;
	}
	if (cow_open_fd(&cf, fd, cow_path, &co, &e)) {
		nbdkit_error("%s: %s", cow_path, e.msg);
		close(fd);
		return -1;
	}
	nbdkit_debug("%s: layout %s (%s)", cow_path, cf.info.layout_name,
		     cf.why);
	return 0;
}

/*
 * Find and check the backing file as UML does, then lock it. The library
 * opens it once, read-only, and the descriptor it checked is the one
 * served: reopening the path would serve whatever it names by now.
 */
static int open_backing(void)
{
	struct cow_backing *b = malloc(sizeof(*b));
	struct cow_err e;
	int ret = -1;

	if (!b) {
		nbdkit_error("out of memory");
		return -1;
	}
	b->fd = -1;
	if (cow_backing_open(&cf, backing_path, O_RDONLY, force, b, &e)) {
		nbdkit_error("%s: %s", cow_path, e.msg);
		goto out;
	}
	if (b->warning[0])
		nbdkit_error("%s: warning: %s", cow_path, b->warning);
	backing_fd = b->fd;
	b->fd = -1;
	if (lock(backing_fd, false, b->path, false))
		goto out;
	nbdkit_debug("%s: backing file %s", cow_path, b->path);
	ret = 0;
out:
	cow_backing_close(b);
	free(b);
	return ret;
}

static int umlcow_get_ready(void)
{
	struct cow_engine_opts eo = { .read_only = read_only };
	struct cow_err e;

	if (open_cow() || open_backing())
		return -1;
	/* A short bitmap that ends in the data area: read-only, as mapped. */
	if (!read_only && cf.info.tracked_sectors < cf.info.nr_sectors) {
		nbdkit_error("%s: warning: the short bitmap's last byte is the data area's first: served read-only",
			     cow_path);
		eo.read_only = true;
	}
	if (cow_engine_open(&engine, &cf, backing_fd, &eo, &e)) {
		nbdkit_error("%s: %s", cow_path, e.msg);
		return -1;
	}
	return 0;
}

/* Connections share the engine; the handle only says whether it writes. */
struct handle {
	bool readonly;
};

static void *umlcow_open(int readonly)
{
	struct handle *h = malloc(sizeof(*h));

	if (!h) {
		nbdkit_error("malloc: %m");
		return NULL;
	}
	h->readonly = readonly || !cow_engine_writable(engine);
	return h;
}

/* A client that goes away without a flush loses nothing: write back. */
static void umlcow_close(void *handle)
{
	struct handle *h = handle;
	struct cow_err e;

	if (!h->readonly && cow_engine_flush(engine, &e))
		nbdkit_error("%s: %s", cow_path, e.msg);
	free(h);
}

/* Report an engine error to nbdkit: the message, and errno for the client. */
static int fail(int ret, const struct cow_err *e)
{
	nbdkit_error("%s: %s", cow_path, e->msg);
	nbdkit_set_error(-ret);
	return -1;
}

static int64_t umlcow_get_size(void *handle)
{
	(void)handle;
	return (int64_t)cow_engine_size(engine);
}

/*
 * The COW sector is the unit of allocation: smaller writes read-modify-write
 * it. It is the minimum only when the image is a whole number of sectors:
 * an export size that is not a multiple of the minimum makes clients that
 * check alignment (libnbd) refuse the request for the last bytes, and the
 * engine takes any alignment.
 */
static int umlcow_block_size(void *handle, uint32_t *minimum,
			     uint32_t *preferred, uint32_t *maximum)
{
	uint32_t ss = cow_engine_sector_size(engine);

	(void)handle;
	*minimum = cow_engine_size(engine) % ss ? 1 : ss;
	*preferred = ss > 4096 ? ss : 4096;
	*maximum = 0xffffffff;
	return 0;
}

static int umlcow_can_write(void *handle)
{
	return !((struct handle *)handle)->readonly;
}

static int umlcow_can_flush(void *handle)
{
	(void)handle;
	return 1;
}

static int umlcow_can_fua(void *handle)
{
	(void)handle;
	return NBDKIT_FUA_NATIVE;
}

static int umlcow_can_trim(void *handle)
{
	return umlcow_can_write(handle);
}

static int umlcow_can_zero(void *handle)
{
	return umlcow_can_write(handle);
}

/* Every connection writes through the one engine and flushes all of it. */
static int umlcow_can_multi_conn(void *handle)
{
	(void)handle;
	return 1;
}

static int umlcow_can_extents(void *handle)
{
	(void)handle;
	return 1;
}

/* Read-ahead of the files that hold the range: cheap, so native. */
static int umlcow_can_cache(void *handle)
{
	(void)handle;
	return NBDKIT_CACHE_NATIVE;
}

static int umlcow_cache(void *handle, uint32_t count, uint64_t offset,
			uint32_t flags)
{
	struct cow_err e;
	int ret = cow_engine_cache(engine, count, offset, &e);

	(void)handle;
	(void)flags;
	return ret ? fail(ret, &e) : 0;
}

static int umlcow_pread(void *handle, void *buf, uint32_t count,
			uint64_t offset, uint32_t flags)
{
	struct cow_err e;
	int ret = cow_engine_read(engine, buf, count, offset, &e);

	(void)handle;
	(void)flags;
	return ret ? fail(ret, &e) : 0;
}

static int umlcow_pwrite(void *handle, const void *buf, uint32_t count,
			 uint64_t offset, uint32_t flags)
{
	struct cow_err e;
	int ret = cow_engine_write(engine, buf, count, offset,
				   flags & NBDKIT_FLAG_FUA, &e);

	(void)handle;
	return ret ? fail(ret, &e) : 0;
}

static int umlcow_flush(void *handle, uint32_t flags)
{
	struct cow_err e;
	int ret = cow_engine_flush(engine, &e);

	(void)handle;
	(void)flags;
	return ret ? fail(ret, &e) : 0;
}

static int umlcow_trim(void *handle, uint32_t count, uint64_t offset,
		       uint32_t flags)
{
	struct cow_err e;
	int ret = cow_engine_trim(engine, count, offset,
				  flags & NBDKIT_FLAG_FUA, &e);

	(void)handle;
	return ret ? fail(ret, &e) : 0;
}

/* Zeroing is a hole punch or a zero write and a bit: never "fast" to refuse. */
static int umlcow_zero(void *handle, uint32_t count, uint64_t offset,
		       uint32_t flags)
{
	struct cow_err e;
	int ret = cow_engine_zero(engine, count, offset,
				  flags & NBDKIT_FLAG_FUA, &e);

	(void)handle;
	return ret ? fail(ret, &e) : 0;
}

/*
 * base:allocation, so a client sees where the data lives: sectors of the
 * COW file are allocated ("data", or "zero" where the data area is a hole);
 * sectors read from the backing file are holes ("hole": they may read
 * non-zero, so copying clients still read them; "hole,zero" where the
 * backing file has a hole too).
 */
static uint32_t extent_type(enum cow_extent_kind k)
{
	switch (k) {
	case COW_EXTENT_COW:
		return 0;
	case COW_EXTENT_COW_ZERO:
		return NBDKIT_EXTENT_ZERO;
	case COW_EXTENT_BACKING:
		return NBDKIT_EXTENT_HOLE;
	case COW_EXTENT_BACKING_ZERO:
	default:
		return NBDKIT_EXTENT_HOLE | NBDKIT_EXTENT_ZERO;
	}
}

static int umlcow_extents(void *handle, uint32_t count, uint64_t offset,
			  uint32_t flags, struct nbdkit_extents *extents)
{
	uint64_t end = offset + count;
	struct cow_err e;

	(void)handle;
	while (offset < end) {
		enum cow_extent_kind k;
		uint64_t len;
		int ret = cow_engine_extent(engine, offset, end - offset, &k,
					    &len, &e);

		if (ret)
			return fail(ret, &e);
		if (nbdkit_add_extent(extents, offset, len, extent_type(k)))
			return -1;
		offset += len;
		if (flags & NBDKIT_FLAG_REQ_ONE)
			break;
	}
	return 0;
}

static int umlcow_thread_model(void)
{
	return THREAD_MODEL;
}

static struct nbdkit_plugin plugin = {
	.name              = "umlcow",
	.longname          = "nbdkit User-Mode Linux COW file plugin",
	.version           = UMLCOW_VERSION,
	.description       = "Serve a UML COW file and its backing file as one disk",
	.unload            = umlcow_unload,
	.config            = umlcow_config,
	.config_complete   = umlcow_config_complete,
	.config_help       = umlcow_config_help,
	.magic_config_key  = "file",
	.get_ready         = umlcow_get_ready,
	.thread_model      = umlcow_thread_model,
	.open              = umlcow_open,
	.close             = umlcow_close,
	.get_size          = umlcow_get_size,
	.block_size        = umlcow_block_size,
	.can_write         = umlcow_can_write,
	.can_flush         = umlcow_can_flush,
	.can_fua           = umlcow_can_fua,
	.can_trim          = umlcow_can_trim,
	.can_zero          = umlcow_can_zero,
	.can_multi_conn    = umlcow_can_multi_conn,
	.can_extents       = umlcow_can_extents,
	.can_cache         = umlcow_can_cache,
	.pread             = umlcow_pread,
	.pwrite            = umlcow_pwrite,
	.flush             = umlcow_flush,
	.trim              = umlcow_trim,
	.zero              = umlcow_zero,
	.extents           = umlcow_extents,
	.cache             = umlcow_cache,
	.errno_is_preserved = 0,
};

NBDKIT_REGISTER_PLUGIN(plugin)
