// SPDX-License-Identifier: GPL-2.0
/*
 * cmd-map - umlcow-setup open, close, list and table (see cmd-map.h).
 *
 * open: parse the header (cowfmt), check the backing file the way UML does,
 * lock both files the way UML does (filelock), extend a short QEMU-style COW
 * file sparsely, attach both files to autoclear loop devices (loopdev; the
 * backing always read-only), and create /dev/mapper/NAME with the umlcow
 * target (dmdev). Every step is undone when a later one fails. A v1/v2 file
 * whose last sectors have no bit in its short bitmap is mapped read-only,
 * with a linear target on the backing file for those sectors after the
 * umlcow one, so that the device reads what merge, uml_moo and UML read.
 *
 * The loop devices hold the file descriptions our locks are on: once the
 * table holds the loop devices we close our descriptors, and the locks, the
 * loop devices and the mapping all go away together at close.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "cmd-map.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "cli.h"
#include "cowfmt.h"
#include "dmdev.h"
#include "filelock.h"
#include "loopdev.h"

/* ---- messages -------------------------------------------------------- */

static int verbose;

static void say(const char *what, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* "umlcow-setup: WHAT: message" on stderr (WHAT may be NULL). */
static void say(const char *what, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", PROG);
	if (what)
		fprintf(stderr, "%s: ", what);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

#define note(...) do { if (verbose) say(__VA_ARGS__); } while (0)

static void set_verbosity(int level)
{
	verbose = level;
	dmdev_set_verbose(level > 1 ? 2 : level);
}

/* A usage error, the way the other subcommands report them; EXIT_USAGE. */
static int usage_error(const char *cmd, const char *msg, const char *arg)
{
	fprintf(stderr, "%s: %s: %s%s\nTry '%s %s --help'.\n", PROG, cmd, msg,
		arg ? arg : "", PROG, cmd);
	return EXIT_USAGE;
}

/* Check the number of operands: 0, or EXIT_USAGE after saying why. */
static int operands(const char *cmd, int n, char **args, int min, int max)
{
	if (n < min)
		return usage_error(cmd, "missing operand", NULL);
	if (n > max)
		return usage_error(cmd, "extra operand ", args[max]);
	return 0;
}

/*
 * @s for a message: bytes that are not printable (control characters)
 * as \xNN, so a hostile name cannot play with the terminal.
 */
static const char *printable(const char *s, char *buf, size_t len)
{
	size_t o = 0;

	for (const unsigned char *p = (const unsigned char *)s;
	     *p && o + 5 < len; p++) {
		if (*p < 0x20 || *p == 0x7f)
			o += (size_t)snprintf(buf + o, len - o, "\\x%02x", *p);
		else
			buf[o++] = (char)*p;
	}
	buf[o] = '\0';
	return buf;
}

/* ---- help ------------------------------------------------------------ */

const char cmd_open_help[] =
"Usage: umlcow-setup [open] [OPTIONS] FILE.cow\n"
"\n"
"Map a UML COW file (with its backing file) as /dev/mapper/NAME through the\n"
"umlcow device-mapper target, and print the device path.\n"
"\n"
"  -n, --name NAME      device name (default: FILE without .cow)\n"
"  -r, --read-only      map read-only; the COW file is never written\n"
"  -b, --backing PATH   the backing file (default: the header's path, else\n"
"                       the file of that name next to FILE.cow)\n"
"  -f, --force          accept a backing file whose mtime differs from the\n"
"                       header's (UML itself refuses it)\n"
"  -l, --layout NAME    the header layout, when detection finds several\n"
"      --no-discard     do not pass discards (they read back as zeros)\n"
"  -v, --verbose        say what is done; --debug also libdevmapper's chatter\n"
"  -h, --help           this text\n"
"\n"
"Both files are attached to loop devices that go away with the mapping (the\n"
"backing file read-only). Like UML, it takes a write lock on the COW file\n"
"(a read lock with --read-only) and a read lock on the backing file, and\n"
"refuses while UML (or anyone) holds a conflicting lock. A COW file that\n"
"ends before its data area (QEMU style) is extended sparsely first. A v1/v2\n"
"file whose last sectors have no bit in its short bitmap (UML's rounding)\n"
"is mapped read-only, those sectors from the backing file, as UML and\n"
"uml_moo read them; 'umlcow-setup upgrade' makes a v3 copy that maps\n"
"read-write. Nothing is left behind on failure.\n";

const char cmd_close_help[] =
"Usage: umlcow-setup close [OPTIONS] NAME|FILE.cow\n"
"\n"
"Remove the umlcow mapping NAME, or the mapping of FILE.cow; its loop\n"
"devices and locks go with it. Fails, changing nothing, while the device is\n"
"open (mounted, for instance).\n"
"\n"
"  -v, --verbose        say what is done\n"
"  -h, --help           this text\n";

const char cmd_list_help[] =
"Usage: umlcow-setup list [--json]\n"
"\n"
"Show every umlcow mapping: name, mode, allocated sectors, COW file and\n"
"backing file. The allocation counts the sectors the umlcow target maps;\n"
"the tail of a short v1/v2 bitmap is mapped linearly to the backing file.\n"
"\n"
"  -j, --json           one JSON array of objects (keys: name, device,\n"
"                       uuid, mode, read_only, cow_file, backing_file,\n"
"                       cow_dev, backing_dev, bitmap_offset, data_offset,\n"
"                       sector_size, sectors, allocated_sectors,\n"
"                       tail_sectors, open_count, table, status)\n"
"  -h, --help           this text\n";

const char cmd_table_help[] =
"Usage: umlcow-setup table --cow-dev DEV --backing-dev DEV [OPTIONS] FILE.cow\n"
"\n"
"Print the table for FILE.cow, for use with dmsetup by hand:\n"
"  umlcow-setup table --cow-dev /dev/loop0 --backing-dev /dev/loop1 \\\n"
"      FILE.cow | dmsetup create NAME\n"
"DEV is written as given (a path or MAJOR:MINOR). The COW device must hold\n"
"the whole file, the backing device the whole image. For a v1/v2 file\n"
"whose last sectors have no bit in its short bitmap, the table has a\n"
"second, linear line that maps them to the backing file, and read_only.\n"
"\n"
"  -r, --read-only      add the read_only feature\n"
"      --no-discard     add the no_discard feature\n"
"  -l, --layout NAME    the header layout, when detection finds several\n"
"  -b, --backing PATH   the backing file, to help detection\n"
"  -h, --help           this text\n";

/* ---- the table line -------------------------------------------------- */

struct geom {
	uint64_t bitmap_offset;
	uint64_t data_offset;
	uint32_t sector_size;
	uint64_t nr_sectors;	/* sectors of the umlcow target */
	uint64_t len;		/* the umlcow target, in 512-byte sectors */
	uint64_t tail_len;	/* then the linear tail, likewise; 0: none */
	uint64_t cow_need;	/* bytes the COW device must hold */
};

/*
 * What the target gets. Like UML (which sets the capacity to size / 512),
 * only whole sectors of the image are mapped: a tail shorter than a sector
 * is not. Of those, the umlcow target maps the sectors that have a bit UML
 * reads (tracked_sectors); the last ones of a short v1/v2 bitmap are
 * mapped linearly to the backing file, as UML and uml_moo read them.
 */
static int table_geometry(const struct cow_info *info, struct geom *g,
			  const char *what)
{
	uint32_t ss = info->sector_size;
	uint64_t whole = info->size / ss;

	if (ss < 512 || ss % 512) {
		say(what, "sector size %" PRIu32 " is not a multiple of 512",
		    ss);
		return -1;
	}
	g->bitmap_offset = info->bitmap_offset;
	g->data_offset = info->data_offset;
	g->sector_size = ss;
	if (whole == 0) {
		say(what, "the image is smaller than one sector");
		return -1;
	}
	g->nr_sectors = whole < info->tracked_sectors ? whole :
			info->tracked_sectors;
	if (g->nr_sectors == 0) {
		say(what, "no sector of this %s image has a bit in its short bitmap (UML's rounding): UML reads it all from the backing file; there is nothing to map",
		    info->layout_name);
		return -1;
	}
	/* cowfmt checked data_offset + nr_sectors * ss for overflow. */
	g->len = g->nr_sectors * (ss / 512);
	g->tail_len = (whole - g->nr_sectors) * (ss / 512);
	g->cow_need = g->data_offset + g->nr_sectors * ss;
	if (info->size % ss)
		note(what, "the last %" PRIu64 " bytes of the image are not a whole sector and are not mapped",
		     info->size % ss);
	return 0;
}

static void table_params(char *buf, size_t len, const char *cow_dev,
			 const char *backing_dev, const struct geom *g,
			 bool read_only, bool no_discard)
{
	int n;

	n = snprintf(buf, len, "%s %s %" PRIu64 " %" PRIu64 " %" PRIu32
		     " %" PRIu64, cow_dev, backing_dev, g->bitmap_offset,
		     g->data_offset, g->sector_size, g->nr_sectors);
	if (n < 0 || (size_t)n >= len)
		return;
	if (read_only || no_discard)
		snprintf(buf + n, len - (size_t)n, " %d%s%s",
			 (int)read_only + (int)no_discard,
			 read_only ? " read_only" : "",
			 no_discard ? " no_discard" : "");
}

/* The linear tail's parameters: the backing device at the same offset. */
static void tail_params(char *buf, size_t len, const char *backing_dev,
			const struct geom *g)
{
	snprintf(buf, len, "%s %" PRIu64, backing_dev, g->len);
}

/* Why a file with a linear tail is mapped read-only. */
static void explain_tail(const struct cow_info *info, const struct geom *g,
			 const char *what)
{
	uint64_t n = g->tail_len / (g->sector_size / 512);
	char which[64];

	if (n == 1)
		snprintf(which, sizeof(which), "its last sector has");
	else
		snprintf(which, sizeof(which), "its last %" PRIu64 " sectors have",
			 n);
	say(what, "mapping read-only: this %s file's bitmap is one byte short (UML's rounding), so %s no bit that UML reads back; UML reads %s from the backing file, and so does this mapping, where a write could not be kept; 'umlcow-setup upgrade' makes a v3 copy that maps read-write",
	    info->layout_name, which, n == 1 ? "it" : "them");
}

/*
 * Whether a read-only mapping can use a COW file of @file_size bytes that
 * ends before its data area does: its loop device (whole 512-byte sectors)
 * must hold every sector the bitmap of the target's sectors touches and
 * reach the data area.
 */
static bool ro_short_ok(const struct geom *g, uint64_t file_size)
{
	uint64_t loop_bytes = file_size & ~UINT64_C(511);
	uint64_t bitmap_end = g->bitmap_offset + (g->nr_sectors + 7) / 8;

	bitmap_end = (bitmap_end + 511) & ~UINT64_C(511);
	return loop_bytes >= bitmap_end && loop_bytes >= g->data_offset;
}

/* ---- open ------------------------------------------------------------ */

struct open_opts {
	const char *name;
	const char *backing;
	const char *layout;
	bool read_only;
	bool force;
	bool no_discard;
};

/* NAME from FILE: its base name without a ".cow" suffix. */
static void default_name(const char *path, char *name, size_t len)
{
	char *copy = strdup(path);
	const char *base;
	size_t n;

	if (!copy) {
		name[0] = '\0';
		return;
	}
	base = basename(copy);
	n = strlen(base);
	if (n > 4 && !strcmp(base + n - 4, ".cow"))
		n -= 4;
	if (n >= len)
		n = len - 1;
	memcpy(name, base, n);
	name[n] = '\0';
	free(copy);
}

/* "UMLCOW-<dev major>:<dev minor>:<inode>-" of a COW file. */
static void uuid_prefix(const struct stat *st, char *buf, size_t len)
{
	snprintf(buf, len, "%s%x:%x:%" PRIx64 "-", DMDEV_UUID_PREFIX,
		 major(st->st_dev), minor(st->st_dev), (uint64_t)st->st_ino);
}

/*
 * The umlcow mappings of the file @st, found by the UUID we gave them: how
 * many there are (or a negative errno), the first one's name in @name.
 */
static int mappings_of(const struct stat *st, char *name, size_t len)
{
	char prefix[DM_UUID_LEN];
	struct dmdev *devs;
	size_t n;
	int err, found = 0;

	uuid_prefix(st, prefix, sizeof(prefix));
	err = dmdev_list(UMLCOW_TARGET, &devs, &n);
	if (err)
		return err;
	for (size_t i = 0; i < n; i++)
		if (!strncmp(devs[i].uuid, prefix, strlen(prefix)) &&
		    found++ == 0)
			snprintf(name, len, "%s", devs[i].name);
	dmdev_free_list(devs, n);
	return found;
}

static void already_mapped(const char *what, const char *name)
{
	say(what, "already mapped as %s/%s (umlcow-setup close %s); not mapped again",
	    DMDEV_DIR, name, name);
}

static void lock_refused(const char *what, const struct filelock_holder *h,
			 bool cow, const struct stat *st)
{
	char holder[256], name[DM_NAME_LEN];

	if (cow && (!h->known || h->ofd) &&
	    mappings_of(st, name, sizeof(name)) > 0) {
		already_mapped(what, name);
		return;
	}
	filelock_describe(h, holder, sizeof(holder));
	if (cow)
		say(what, "in use: %s (is UML running on it?); not mapped",
		    holder);
	else
		say(what, "the backing file is in use: %s; not mapped", holder);
}

/* Open @path for a loop device and take UML's lock on it. */
static int open_locked(const char *path, bool writable, const char *what,
		       bool cow, struct stat *st)
{
	struct filelock_holder h;
	int fd, err;

	fd = open(path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (fd < 0) {
		err = errno;
		if (writable && (err == EROFS || err == EACCES || err == EPERM))
			say(what, "cannot open for writing: %s; map it with --read-only",
			    strerror(err));
		else
			say(what, "%s", strerror(err));
		return -1;
	}
	if (fstat(fd, st) < 0) {
		say(what, "%s", strerror(errno));
		close(fd);
		return -1;
	}
	err = filelock_take(fd, writable, &h);
	if (err == -EAGAIN) {
		lock_refused(what, &h, cow, st);
		close(fd);
		return -1;
	}
	if (err) {
		say(what, "cannot lock: %s", strerror(-err));
		close(fd);
		return -1;
	}
	return fd;
}

static void create_failed(const char *what, const char *name, int err)
{
	char kmsg[512], dmmsg[512];

	/* Copies: the next dmdev call starts with empty messages. */
	snprintf(kmsg, sizeof(kmsg), "%s", dmdev_kernel_error());
	snprintf(dmmsg, sizeof(dmmsg), "%s", dmdev_last_error());

	if (err == -EEXIST) {
		say(what, "a device-mapper device named '%s' exists already (choose another name with --name)",
		    name);
	} else if (err == -ENODEV || err == -ENOENT) {
		say(what, "device-mapper is not available (is the dm-mod module loaded?)");
	} else if (dmdev_has_target(UMLCOW_TARGET) == 0) {
		say(what, "the kernel has no '%s' target (load it: modprobe dm-umlcow, or insmod drivers/md/dm-umlcow.ko)",
		    UMLCOW_TARGET);
	} else if (kmsg[0]) {
		say(what, "the kernel refused the table: %s", kmsg);
	} else if (dmmsg[0]) {
		say(what, "%s", dmmsg);
	} else {
		say(what, "cannot create device '%s': %s", name,
		    strerror(-err));
	}
}

static int do_open(const char *path, const struct open_opts *o)
{
	struct cow_open_opts co = { .layout = o->layout,
				    .backing = o->backing,
				    .writable = false };
	struct cow_file cf = { .fd = -1 };
	struct cow_backing *b = NULL;
	struct cow_info info;
	struct cow_err e;
	struct stat cst, bst, pst;
	struct loopdev cow_loop, back_loop;
	char name[DM_NAME_LEN], uuid[DM_UUID_LEN], node[DM_NAME_LEN + 16];
	char cow_dev[32], back_dev[32], params[256], tparams[64];
	struct dmdev_target t[2];
	const char *why;
	bool read_only = o->read_only, extended = false;
	uint64_t orig_size = 0, bsize;
	struct geom g;
	int cow_fd = -1, back_fd = -1, err, ret = EXIT_FAIL;

	loopdev_init(&cow_loop);
	loopdev_init(&back_loop);

	if (o->name)
		snprintf(name, sizeof(name), "%s", o->name);
	else
		default_name(path, name, sizeof(name));
	if (dmdev_check_name(o->name ? o->name : name, &why)) {
		char shown[4 * DM_NAME_LEN + 64];

		if (o->name) {
			say(NULL, "invalid --name '%s': %s",
			    printable(o->name, shown, sizeof(shown)), why);
			return EXIT_USAGE;
		}
		say(path, "cannot name the device '%s' after the file: %s; give one with --name",
		    printable(name, shown, sizeof(shown)), why);
		return EXIT_FAIL;
	}

	/* The header. */
	if (cow_open(&cf, path, &co, &e)) {
		say(path, "%s", e.msg);
		return EXIT_FAIL;
	}
	info = cf.info;
	note(path, "layout %s (%s)", info.layout_name, cf.why);
	if (fstat(cf.fd, &pst) < 0 || !S_ISREG(pst.st_mode)) {
		say(path, "not a regular file (map a COW file on a block device by hand: see 'table')");
		goto out;
	}
	if (table_geometry(&info, &g, path))
		goto out;

	if (g.tail_len && !read_only) {
		explain_tail(&info, &g, path);
		read_only = true;
	}

	/* The backing file, checked as UML checks it. */
	b = malloc(sizeof(*b));
	if (!b) {
		say(path, "out of memory");
		goto out;
	}
	if (cow_backing_find(path, &info, o->backing, b, &e)) {
		say(path, "%s", e.msg);
		goto out;
	}
	if (b->warning[0])
		say(path, "%s", b->warning);
	if (cow_backing_verify(&info, b, o->force, &e)) {
		say(path, "%s", e.msg);
		goto out;
	}
	note(path, "backing file %s", b->path);

	/* Our own descriptions of both files, locked like UML locks them. */
	cow_fd = open_locked(path, !read_only, path, true, &cst);
	if (cow_fd < 0)
		goto out;
	if (cst.st_dev != pst.st_dev || cst.st_ino != pst.st_ino) {
		say(path, "the file was replaced while it was being opened");
		goto out;
	}
	back_fd = open_locked(b->path, false, b->path, false, &bst);
	if (back_fd < 0)
		goto out;
	if (cow_fd_size(back_fd, &bsize, &e)) {
		say(b->path, "%s", e.msg);
		goto out;
	}
	if (bsize / 512 < g.len + g.tail_len) {
		say(b->path, "the backing file (%" PRIu64 " bytes) is smaller than the image (%" PRIu64 " bytes)",
		    bsize, info.size);
		goto out;
	}

	if ((uint64_t)cst.st_size < g.cow_need && read_only &&
	    !ro_short_ok(&g, (uint64_t)cst.st_size)) {
		say(path, "the file ends at byte %" PRIu64 ", before its data area ends at byte %" PRIu64 "; a read-only mapping cannot extend it (map it once read-write, or extend it with 'truncate -s %" PRIu64 "')",
		    (uint64_t)cst.st_size, g.cow_need, g.cow_need);
		goto out;
	}

	/* The name, before anything is attached or extended. */
	err = dmdev_exists(name);
	if (err < 0) {
		create_failed(path, name, err);
		goto out;
	}
	if (err > 0) {
		struct dmdev d;

		uuid_prefix(&pst, uuid, sizeof(uuid));
		/* dmdev_get() leaves @d safe to free even when it fails. */
		if (!dmdev_get(name, &d) &&
		    !strncmp(d.uuid, uuid, strlen(uuid)))
			already_mapped(path, name);
		else
			create_failed(path, name, -EEXIST);
		dmdev_free(&d);
		goto out;
	}

	/*
	 * A QEMU-style COW file ends after its bitmap: extend it, sparsely.
	 * Read-only, the target accepts a COW device that ends early as long
	 * as it holds the bitmap's sectors and reaches the data area.
	 */
	if ((uint64_t)cst.st_size >= g.cow_need) {
		/* Nothing to do. */
	} else if (read_only) {
		note(path, "the file ends before its data area; mapped as it is");
	} else {
		orig_size = (uint64_t)cst.st_size;
		if (ftruncate(cow_fd, (off_t)g.cow_need) < 0) {
			say(path, "cannot extend the file to %" PRIu64 " bytes: %s",
			    g.cow_need, strerror(errno));
			goto out;
		}
		extended = true;
		note(path, "extended sparsely from %" PRIu64 " to %" PRIu64 " bytes",
		     orig_size, g.cow_need);
	}

	/* Loop devices. */
	err = loopdev_attach(cow_fd, read_only, path, &cow_loop);
	if (err) {
		say(path, "cannot attach a loop device: %s",
		    err == -EOPNOTSUPP ? "the loop device did not keep the autoclear flag"
				       : strerror(-err));
		goto out;
	}
	err = loopdev_attach(back_fd, true, b->path, &back_loop);
	if (err) {
		say(b->path, "cannot attach a loop device: %s",
		    err == -EOPNOTSUPP ? "the loop device did not keep the autoclear flag"
				       : strerror(-err));
		goto out;
	}
	note(path, "COW file on %s, backing file on %s", cow_loop.path,
	     back_loop.path);

	/* The mapping. */
	snprintf(cow_dev, sizeof(cow_dev), "%u:%u", major(cow_loop.rdev),
		 minor(cow_loop.rdev));
	snprintf(back_dev, sizeof(back_dev), "%u:%u", major(back_loop.rdev),
		 minor(back_loop.rdev));
	table_params(params, sizeof(params), cow_dev, back_dev, &g, read_only,
		     o->no_discard);
	uuid_prefix(&cst, uuid, sizeof(uuid));
	snprintf(uuid + strlen(uuid), sizeof(uuid) - strlen(uuid), "%s", name);
	tail_params(tparams, sizeof(tparams), back_dev, &g);
	t[0] = (struct dmdev_target){ 0, g.len, UMLCOW_TARGET, params };
	t[1] = (struct dmdev_target){ g.len, g.tail_len, "linear", tparams };
	note(path, "table: 0 %" PRIu64 " %s %s", g.len, UMLCOW_TARGET, params);
	if (g.tail_len)
		note(path, "table: %" PRIu64 " %" PRIu64 " linear %s", g.len,
		     g.tail_len, tparams);
	err = dmdev_create_table(name, uuid, read_only, t, g.tail_len ? 2 : 1,
				 node, sizeof(node));
	if (err) {
		create_failed(path, name, err);
		goto out;
	}

	/* The table holds the loop devices now: they go when it goes. */
	loopdev_release(&cow_loop);
	loopdev_release(&back_loop);
	printf("%s\n", node);
	ret = EXIT_OK;
out:
	loopdev_detach(&back_loop);
	loopdev_detach(&cow_loop);
	if (extended && ret != EXIT_OK && ftruncate(cow_fd, (off_t)orig_size) < 0)
		say(path, "cannot shrink the file back to %" PRIu64 " bytes: %s",
		    orig_size, strerror(errno));
	if (back_fd >= 0)
		close(back_fd);
	if (cow_fd >= 0)
		close(cow_fd);
	free(b);
	cow_close(&cf);
	return ret;
}

/* umlcow-setup's global options: every command takes them. */
#define GLOBAL_OPTIONS \
	{ "backing", required_argument, NULL, 'b' }, \
	{ "force", no_argument, NULL, 'f' }, \
	{ "layout", required_argument, NULL, 'l' }

enum {
	OPT_NO_DISCARD = 256,
	OPT_DEBUG,
	OPT_COW_DEV,
	OPT_BACKING_DEV,
};

int cmd_open(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "read-only", no_argument, NULL, 'r' },
		{ "backing", required_argument, NULL, 'b' },
		{ "force", no_argument, NULL, 'f' },
		{ "layout", required_argument, NULL, 'l' },
		{ "no-discard", no_argument, NULL, OPT_NO_DISCARD },
		{ "verbose", no_argument, NULL, 'v' },
		{ "debug", no_argument, NULL, OPT_DEBUG },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct open_opts o = { 0 };
	int c, level = 0;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":n:rb:fl:vh", longopts,
				NULL)) != -1) {
		switch (c) {
		case 'n': o.name = optarg; break;
		case 'r': o.read_only = true; break;
		case 'b': o.backing = optarg; break;
		case 'f': o.force = true; break;
		case 'l': o.layout = optarg; break;
		case OPT_NO_DISCARD: o.no_discard = true; break;
		case 'v': level = level > 1 ? level : 1; break;
		case OPT_DEBUG: level = 2; break;
		case 'h': fputs(cmd_open_help, stdout); return EXIT_OK;
		case ':': return usage_error(argv[0], "option needs a value: ", argv[optind - 1]);
		default: return usage_error(argv[0], "unknown option ", argv[optind - 1]);
		}
	}
	if (operands(argv[0], argc - optind, argv + optind, 1, 1))
		return EXIT_USAGE;
	set_verbosity(level);
	return do_open(argv[optind], &o);
}

/* ---- the kernel's view: list and close ------------------------------ */

/* A umlcow mapping, its table taken apart. */
struct mapping {
	const struct dmdev *dev;
	char cow_dev[32], backing_dev[32];
	char cow_file[4096], backing_file[4096];
	uint64_t bitmap_offset, data_offset, nr_sectors;
	uint32_t sector_size;
	bool ro_feature;
	bool have_alloc;
	uint64_t allocated, total;
	char mode[16];
};

/* "MAJ:MIN" of a table to the loop's backing file, else a /dev path. */
static void dev_to_file(const char *dev, char *buf, size_t len)
{
	unsigned int ma, mi;
	char tail;

	if (sscanf(dev, "%u:%u%c", &ma, &mi, &tail) == 2 &&
	    loopdev_backing_file(makedev(ma, mi), buf, len) == 0)
		return;
	snprintf(buf, len, "%s", dev);
}

/*
 * The status INFO line starts with "<allocated>/<total>" and carries a mode
 * word (rw, ro or fail); anything else in it is shown only raw.
 */
static void parse_status(const char *status, struct mapping *m)
{
	char *copy = strdup(status), *tok, *save = NULL;

	if (!copy)
		return;
	for (tok = strtok_r(copy, " ", &save); tok;
	     tok = strtok_r(NULL, " ", &save)) {
		unsigned long long a, t;
		char tail;

		if (!m->have_alloc &&
		    sscanf(tok, "%llu/%llu%c", &a, &t, &tail) == 2) {
			m->allocated = a;
			m->total = t;
			m->have_alloc = true;
		} else if (!m->mode[0] &&
			   (!strcmp(tok, "rw") || !strcmp(tok, "ro") ||
			    !strcmp(tok, "fail"))) {
			snprintf(m->mode, sizeof(m->mode), "%s", tok);
		}
	}
	free(copy);
}

static void parse_mapping(const struct dmdev *dev, struct mapping *m)
{
	unsigned long long bo = 0, dofs = 0, nr = 0;
	unsigned int ss = 0;
	int consumed = 0;

	memset(m, 0, sizeof(*m));
	m->dev = dev;
	if (sscanf(dev->table, "%31s %31s %llu %llu %u %llu%n", m->cow_dev,
		   m->backing_dev, &bo, &dofs, &ss, &nr, &consumed) >= 6) {
		m->bitmap_offset = bo;
		m->data_offset = dofs;
		m->sector_size = ss;
		m->nr_sectors = nr;
		m->ro_feature = strstr(dev->table + consumed, " read_only") != NULL;
	}
	dev_to_file(m->cow_dev, m->cow_file, sizeof(m->cow_file));
	dev_to_file(m->backing_dev, m->backing_file, sizeof(m->backing_file));
	parse_status(dev->status, m);
	if (!m->mode[0])
		snprintf(m->mode, sizeof(m->mode), "%s",
			 m->ro_feature || dev->read_only ? "ro" : "rw");
}

static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"': fputs("\\\"", f); break;
		case '\\': fputs("\\\\", f); break;
		case '\n': fputs("\\n", f); break;
		case '\t': fputs("\\t", f); break;
		default:
			if (*p < 0x20)
				fprintf(f, "\\u%04x", *p);
			else
				fputc(*p, f);
		}
	}
	fputc('"', f);
}

static void list_json(const struct mapping *ms, size_t n)
{
	fputs("[", stdout);
	for (size_t i = 0; i < n; i++) {
		const struct mapping *m = &ms[i];
		char node[DM_NAME_LEN + 16];

		snprintf(node, sizeof(node), "%s/%s", DMDEV_DIR, m->dev->name);
		printf("%s\n  {\"name\": ", i ? "," : "");
		json_string(stdout, m->dev->name);
		fputs(", \"device\": ", stdout);
		json_string(stdout, node);
		fputs(", \"uuid\": ", stdout);
		json_string(stdout, m->dev->uuid);
		fputs(", \"mode\": ", stdout);
		json_string(stdout, m->mode);
		printf(", \"read_only\": %s",
		       m->dev->read_only || m->ro_feature ? "true" : "false");
		fputs(",\n   \"cow_file\": ", stdout);
		json_string(stdout, m->cow_file);
		fputs(", \"backing_file\": ", stdout);
		json_string(stdout, m->backing_file);
		fputs(",\n   \"cow_dev\": ", stdout);
		json_string(stdout, m->cow_dev);
		fputs(", \"backing_dev\": ", stdout);
		json_string(stdout, m->backing_dev);
		printf(",\n   \"bitmap_offset\": %" PRIu64
		       ", \"data_offset\": %" PRIu64 ", \"sector_size\": %"
		       PRIu32 ", \"sectors\": %" PRIu64,
		       m->bitmap_offset, m->data_offset, m->sector_size,
		       m->nr_sectors);
		if (m->have_alloc)
			printf(", \"allocated_sectors\": %" PRIu64,
			       m->allocated);
		else
			fputs(", \"allocated_sectors\": null", stdout);
		/* 512-byte sectors mapped linearly after the umlcow target */
		printf(", \"tail_sectors\": %" PRIu64,
		       m->dev->dev_len - (m->dev->start + m->dev->len));
		printf(", \"open_count\": %d", m->dev->open_count);
		fputs(",\n   \"table\": ", stdout);
		json_string(stdout, m->dev->table);
		fputs(", \"status\": ", stdout);
		json_string(stdout, m->dev->status);
		fputs("}", stdout);
	}
	fputs(n ? "\n]\n" : "]\n", stdout);
}

static void list_plain(const struct mapping *ms, size_t n)
{
	int wname = 4, walloc = 9, wcow = 3;
	char (*alloc)[64];

	if (!n)
		return;
	alloc = calloc(n, sizeof(*alloc));
	if (!alloc)
		return;
	for (size_t i = 0; i < n; i++) {
		const struct mapping *m = &ms[i];
		int l = (int)strlen(m->dev->name);

		if (m->have_alloc && m->total)
			snprintf(alloc[i], sizeof(alloc[i]),
				 "%" PRIu64 "/%" PRIu64 " (%.1f%%)",
				 m->allocated, m->total,
				 100.0 * (double)m->allocated /
					 (double)m->total);
		else
			snprintf(alloc[i], sizeof(alloc[i]), "-");
		if (l > wname)
			wname = l;
		if ((int)strlen(alloc[i]) > walloc)
			walloc = (int)strlen(alloc[i]);
		if ((int)strlen(m->cow_file) > wcow)
			wcow = (int)strlen(m->cow_file);
	}
	printf("%-*s  %-4s  %-*s  %-*s  %s\n", wname, "NAME", "MODE", walloc,
	       "ALLOCATED", wcow, "COW", "BACKING");
	for (size_t i = 0; i < n; i++)
		printf("%-*s  %-4s  %-*s  %-*s  %s\n", wname, ms[i].dev->name,
		       ms[i].mode, walloc, alloc[i], wcow, ms[i].cow_file,
		       ms[i].backing_file);
	free(alloc);
}

static int list_failed(int err)
{
	if (err == -ENODEV || err == -ENOENT || err == -ENXIO)
		say(NULL, "device-mapper is not available (is the dm-mod module loaded?)");
	else
		say(NULL, "cannot list device-mapper devices: %s%s%s",
		    strerror(-err), dmdev_last_error()[0] ? ": " : "",
		    dmdev_last_error());
	return EXIT_FAIL;
}

int cmd_list(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		GLOBAL_OPTIONS,
		{ "verbose", no_argument, NULL, 'v' },
		{ "debug", no_argument, NULL, OPT_DEBUG },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct dmdev *devs;
	struct mapping *ms;
	bool json = false;
	size_t n;
	int c, err, level = 0;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":jb:fl:vh", longopts,
				NULL)) != -1) {
		switch (c) {
		case 'j': json = true; break;
		case 'b': case 'f': case 'l': break;	/* global, unused */
		case 'v': level = level > 1 ? level : 1; break;
		case OPT_DEBUG: level = 2; break;
		case 'h': fputs(cmd_list_help, stdout); return EXIT_OK;
		case ':': return usage_error(argv[0], "option needs a value: ", argv[optind - 1]);
		default: return usage_error(argv[0], "unknown option ", argv[optind - 1]);
		}
	}
	if (operands(argv[0], argc - optind, argv + optind, 0, 0))
		return EXIT_USAGE;
	set_verbosity(level);

	err = dmdev_list(UMLCOW_TARGET, &devs, &n);
	if (err)
		return list_failed(err);
	ms = calloc(n ? n : 1, sizeof(*ms));
	if (!ms) {
		dmdev_free_list(devs, n);
		say(NULL, "out of memory");
		return EXIT_FAIL;
	}
	for (size_t i = 0; i < n; i++)
		parse_mapping(&devs[i], &ms[i]);
	if (json)
		list_json(ms, n);
	else
		list_plain(ms, n);
	free(ms);
	dmdev_free_list(devs, n);
	return EXIT_OK;
}

static int remove_mapping(const char *name)
{
	int err = dmdev_remove(name);

	if (!err) {
		note(name, "removed");
		return EXIT_OK;
	}
	if (err == -EBUSY)
		say(name, "the device is in use (mounted or open); close it first");
	else if (err == -ENXIO)
		say(name, "no such device");
	else
		say(name, "cannot remove the device: %s",
		    dmdev_last_error()[0] ? dmdev_last_error() : strerror(-err));
	return EXIT_FAIL;
}

static int do_close(const char *arg)
{
	struct dmdev dev, *devs;
	struct stat st;
	char prefix[DM_UUID_LEN];
	const char *match = NULL;
	size_t n, found = 0;
	int err, ret;

	/* A device of that name? */
	if (!dmdev_check_name(arg, NULL)) {
		err = dmdev_get(arg, &dev);
		if (!err) {
			/* umlcow first; a short bitmap's linear tail next */
			bool ours = !strcmp(dev.type, UMLCOW_TARGET);

			dmdev_free(&dev);
			if (!ours) {
				say(arg, "not a umlcow device; not removed");
				return EXIT_FAIL;
			}
			return remove_mapping(arg);
		}
		if (err != -ENXIO)
			return list_failed(err);
	}

	/* Else a COW file: find its mappings by the UUID we gave them. */
	if (stat(arg, &st) < 0) {
		if (errno == ENOENT)
			say(arg, "no such umlcow device or COW file");
		else
			say(arg, "%s", strerror(errno));
		return EXIT_FAIL;
	}
	uuid_prefix(&st, prefix, sizeof(prefix));
	err = dmdev_list(UMLCOW_TARGET, &devs, &n);
	if (err)
		return list_failed(err);
	for (size_t i = 0; i < n; i++)
		if (!strncmp(devs[i].uuid, prefix, strlen(prefix))) {
			found++;
			match = devs[i].name;
		}
	if (found == 0) {
		say(arg, "the file is not mapped");
		ret = EXIT_FAIL;
	} else if (found > 1) {
		say(arg, "the file is mapped %zu times; close each by name:",
		    found);
		for (size_t i = 0; i < n; i++)
			if (!strncmp(devs[i].uuid, prefix, strlen(prefix)))
				fprintf(stderr, "  %s\n", devs[i].name);
		ret = EXIT_FAIL;
	} else {
		ret = remove_mapping(match);
	}
	dmdev_free_list(devs, n);
	return ret;
}

int cmd_close(int argc, char **argv)
{
	static const struct option longopts[] = {
		GLOBAL_OPTIONS,
		{ "verbose", no_argument, NULL, 'v' },
		{ "debug", no_argument, NULL, OPT_DEBUG },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, level = 0;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":b:fl:vh", longopts,
				NULL)) != -1) {
		switch (c) {
		case 'b': case 'f': case 'l': break;	/* global, unused */
		case 'v': level = level > 1 ? level : 1; break;
		case OPT_DEBUG: level = 2; break;
		case 'h': fputs(cmd_close_help, stdout); return EXIT_OK;
		case ':': return usage_error(argv[0], "option needs a value: ", argv[optind - 1]);
		default: return usage_error(argv[0], "unknown option ", argv[optind - 1]);
		}
	}
	if (operands(argv[0], argc - optind, argv + optind, 1, 1))
		return EXIT_USAGE;
	set_verbosity(level);
	return do_close(argv[optind]);
}

/* ---- table ----------------------------------------------------------- */

int cmd_table(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "cow-dev", required_argument, NULL, OPT_COW_DEV },
		{ "backing-dev", required_argument, NULL, OPT_BACKING_DEV },
		{ "read-only", no_argument, NULL, 'r' },
		{ "no-discard", no_argument, NULL, OPT_NO_DISCARD },
		{ "layout", required_argument, NULL, 'l' },
		{ "backing", required_argument, NULL, 'b' },
		{ "force", no_argument, NULL, 'f' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cow_open_opts co = { 0 };
	const char *cow_dev = NULL, *backing_dev = NULL, *path;
	bool read_only = false, no_discard = false;
	struct cow_file cf;
	struct cow_err e;
	char params[2 * PATH_MAX + 128], tparams[PATH_MAX + 32];
	struct geom g;
	int c, level = 0;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":rl:b:fvh", longopts,
				NULL)) != -1) {
		switch (c) {
		case OPT_COW_DEV: cow_dev = optarg; break;
		case OPT_BACKING_DEV: backing_dev = optarg; break;
		case 'r': read_only = true; break;
		case OPT_NO_DISCARD: no_discard = true; break;
		case 'l': co.layout = optarg; break;
		case 'b': co.backing = optarg; break;
		case 'f': break;	/* global; the table needs no mtime */
		case 'v': level = 1; break;
		case 'h': fputs(cmd_table_help, stdout); return EXIT_OK;
		case ':': return usage_error(argv[0], "option needs a value: ", argv[optind - 1]);
		default: return usage_error(argv[0], "unknown option ", argv[optind - 1]);
		}
	}
	if (operands(argv[0], argc - optind, argv + optind, 1, 1))
		return EXIT_USAGE;
	if (!cow_dev || !backing_dev)
		return usage_error(argv[0], cow_dev ? "missing --backing-dev" :
				   "missing --cow-dev", NULL);
	if (!cow_dev[0] || !backing_dev[0] || strpbrk(cow_dev, " \t\n") ||
	    strpbrk(backing_dev, " \t\n")) {
		say(NULL, "a device must be a non-empty word without spaces");
		return EXIT_USAGE;
	}
	set_verbosity(level);
	path = argv[optind];

	if (cow_open(&cf, path, &co, &e)) {
		say(path, "%s", e.msg);
		return EXIT_FAIL;
	}
	note(path, "layout %s (%s)", cf.info.layout_name, cf.why);
	if (table_geometry(&cf.info, &g, path)) {
		cow_close(&cf);
		return EXIT_FAIL;
	}
	if (g.tail_len && !read_only) {
		explain_tail(&cf.info, &g, path);
		read_only = true;
	}
	if (cf.info.file_size < g.cow_need)
		say(path, "warning: the file ends at byte %" PRIu64 ", before its data area ends at byte %" PRIu64 "; extend it first ('truncate -s %" PRIu64 "') or the table is refused",
		    cf.info.file_size, g.cow_need, g.cow_need);
	table_params(params, sizeof(params), cow_dev, backing_dev, &g,
		     read_only, no_discard);
	printf("0 %" PRIu64 " %s %s\n", g.len, UMLCOW_TARGET, params);
	if (g.tail_len) {
		tail_params(tparams, sizeof(tparams), backing_dev, &g);
		printf("%" PRIu64 " %" PRIu64 " linear %s\n", g.len, g.tail_len,
		       tparams);
	}
	cow_close(&cf);
	return EXIT_OK;
}
