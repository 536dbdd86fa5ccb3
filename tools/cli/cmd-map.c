// SPDX-License-Identifier: GPL-2.0
/*
 * cmd-map.c - the mapping commands: open, close, list, status, commit,
 * table.
 *
 * open: open the COW file (read-write unless --read-only) and lock it the
 * way UML does, parse the header from that very descriptor, plan the table
 * (lib: cow_map_plan), find the backing file and check it the way UML does,
 * lock it, extend a short QEMU-style COW file sparsely, attach both files
 * to autoclear loop devices (the backing always read-only), and create
 * /dev/mapper/NAME (sys: loopdev, filelock, dmdev). Every step is undone
 * when a later one fails.
 *
 * The loop devices hold the file descriptions our locks are on: once the
 * table holds the loop devices we close our descriptors, and the locks, the
 * loop devices and the mapping all go away together at close.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "dmdev.h"
#include "filelock.h"
#include "json.h"
#include "loopdev.h"
#include "modload.h"
#include "nbd.h"

/* The device-mapper target these commands drive. */
#define UMLCOW_TARGET "umlcow"

/* ---- help ------------------------------------------------------------ */

const struct cli_help cmd_open_help = {
	"Usage: " PROG " [open] [OPTIONS] FILE.cow\n"
	"\n"
	"Map a UML COW file (with its backing file) as /dev/mapper/NAME through the\n"
	"umlcow device-mapper target, and print the device path.\n"
	"\n",
	OPT_NAME | OPT_READ_ONLY | OPT_NO_DISCARD | OPT_COMMIT_INTERVAL |
	OPT_COW | OPT_VIA,
	NULL,
	"\n"
	"Both files are attached to loop devices that go away with the mapping (the\n"
	"backing file read-only). Like UML, it takes a write lock on the COW file\n"
	"(a read lock with --read-only) and a read lock on the backing file, and\n"
	"refuses while UML (or anyone) holds a conflicting lock. A COW file that\n"
	"ends before its data area (QEMU style) is extended sparsely first; one\n"
	"whose allocated sectors lie past its end (data cut off) is refused. A v1/v2\n"
	"file with a short bitmap (UML's rounding) maps read-write when the bits of\n"
	"its last sectors fit in the padding before the data area, where UML puts\n"
	"them; only when that byte is the data area's own is it mapped read-only,\n"
	"those sectors from the backing file. Nothing is left behind on failure.\n"
	"\n"
	"Without the module (--via nbd, or --via auto when the kernel has no umlcow\n"
	"target and modprobe cannot load it: said on stderr), nbdkit serves the file\n"
	"with the umlcow plugin on a socket in /run/umlcow/NAME ($UMLCOW_RUN_DIR),\n"
	"the kernel's nbd driver connects /dev/nbdN to it, and /dev/mapper/NAME is a\n"
	"linear table on that; close stops the server. The plugin takes the same\n"
	"locks and writes the bitmap at every flush and when it stops. See\n"
	"'" PROG " serve --help' for how the plugin is found.\n",
};

const struct cli_help cmd_close_help = {
	"Usage: " PROG " close [OPTIONS] NAME|FILE.cow\n"
	"\n"
	"Remove the umlcow mapping NAME, or the mapping of FILE.cow; its loop\n"
	"devices and locks go with it. Fails, changing nothing, while the device is\n"
	"open (mounted, for instance), unless --deferred. A mapping made with\n"
	"--via nbd also loses its nbd device and its server, which writes the\n"
	"bitmap back as it stops (--deferred is refused for it). close NAME with no\n"
	"device NAME but a runtime directory cleans what an interrupted\n"
	"open --via nbd left there: its server, its nbd connection, the directory.\n"
	"\n",
	OPT_DEFERRED,
	(const struct cli_note[]){
		{ "verbose", "say what is done" },
		{ NULL, NULL },
	},
	NULL,
};

const struct cli_help cmd_list_help = {
	"Usage: " PROG " list [--json]\n"
	"\n"
	"Show every umlcow mapping: name, mode, allocated sectors, COW file and\n"
	"backing file.\n"
	"\n",
	OPT_JSON,
	(const struct cli_note[]){
		{ "json", "one JSON object, {\"mappings\": [...]}: in the\narray an object per mapping (keys: name, device,\nuuid, via, mode, access, read_only, cow_file,\nbacking_file, cow_dev, backing_dev, bitmap_offset,\ndata_offset, sector_size, sectors,\nallocated_sectors, dirty_blocks, bitmap_memory,\ntail_sectors, open_count, deferred_remove, table,\nstatus; via nbd: name, device, uuid, via,\naccess, read_only, cow_file, backing_file,\nnbd_device, server_pid, socket, sectors,\nopen_count, deferred_remove, table)" },
		{ NULL, NULL },
	},
	NULL,
};

const struct cli_help cmd_status_help = {
	"Usage: " PROG " status [--json] NAME|FILE.cow\n"
	"\n"
	"Show one umlcow mapping: its mode (rw; ro or fail after an I/O error),\n"
	"access (writable or read_only), allocated and total sectors, dirty bitmap\n"
	"blocks, bitmap memory, the COW and backing files and their devices.\n"
	"Exit status 1 when it is not mapped.\n"
	"\n",
	OPT_JSON,
	(const struct cli_note[]){
		{ "json", "one JSON object (the keys of list --json)" },
		{ NULL, NULL },
	},
	NULL,
};

const struct cli_help cmd_commit_help = {
	"Usage: " PROG " commit NAME|FILE.cow\n"
	"\n"
	"Write the mapping's dirty bitmap blocks to the COW file now (the target\n"
	"message 'commit'), after flushing the data they describe.\n"
	"\n",
	0,
	(const struct cli_note[]){
		{ "verbose", "say what is done" },
		{ NULL, NULL },
	},
	NULL,
};

const struct cli_help cmd_table_help = {
	"Usage: " PROG " table --cow-dev DEV --backing-dev DEV [OPTIONS] FILE.cow\n"
	"\n"
	"Print the table for FILE.cow, for use with dmsetup by hand:\n"
	"  umlcow-setup table --cow-dev /dev/loop0 --backing-dev /dev/loop1 \\\n"
	"      FILE.cow | dmsetup create NAME\n"
	"DEV is written as given (a path or MAJOR:MINOR). The COW device must hold\n"
	"the whole file, the backing device the whole image. For a v1/v2 file\n"
	"whose short bitmap's missing byte is the data area's first, the table has\n"
	"a second, linear line that maps the last sectors to the backing file, and\n"
	"read_only.\n"
	"\n",
	OPT_DEVS | OPT_READ_ONLY | OPT_NO_DISCARD | OPT_COMMIT_INTERVAL |
	OPT_BACKING | OPT_LAYOUT,
	(const struct cli_note[]){
		{ "read-only", "add the read_only feature" },
		{ "no-discard", "add the no_discard feature" },
		{ "commit-interval", "add the commit_interval feature" },
		{ NULL, NULL },
	},
	NULL,
};

/* ---- the table -------------------------------------------------------- */

static int plan(const struct cow_info *info, struct cow_map_plan *p,
		const char *path)
{
	struct cow_err e;

	if (cow_map_plan(info, 512, p, &e)) {
		cli_cow_err(path, &e);
		return -1;
	}
	if (p->unmapped_bytes)
		cli_info(path, "the last %" PRIu64 " bytes of the image are not a whole sector and are not mapped",
			 p->unmapped_bytes);
	if (p->padding_bits)
		cli_info(path, "short %s bitmap: the bits of the last sectors lie in the padding, where UML writes them; mapped read-write",
			 info->layout_name);
	return 0;
}

/* Why a file with a linear tail is mapped read-only. */
static void explain_tail(const struct cow_info *info,
			 const struct cow_map_plan *p, const char *path)
{
	char which[64];

	if (p->tail_sectors == 1)
		snprintf(which, sizeof(which), "the last sector");
	else
		snprintf(which, sizeof(which), "the last %" PRIu64 " sectors",
			 p->tail_sectors);
	cli_err(path, "mapping read-only: the short %s bitmap has no bit for %s ('" PROG " upgrade' makes a v3 copy that maps read-write)",
		info->layout_name, which);
	cli_info(path, "the bitmap is one byte short (UML's rounding) and that byte is the data area's first: UML reads %s from the backing file, and so does this mapping, where a write could not be kept",
		 which);
}

/* ---- open ------------------------------------------------------------ */

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
static void uuid_prefix(dev_t dev, ino_t ino, char *buf, size_t len)
{
	snprintf(buf, len, "%s%x:%x:%" PRIx64 "-", DMDEV_UUID_PREFIX,
		 major(dev), minor(dev), (uint64_t)ino);
}

static int dm_failed(const char *what, int err)
{
	if (err == -ENODEV || err == -ENOENT || err == -ENXIO) {
		cli_err(what, "device-mapper is not available (is the dm-mod module loaded?)");
		return EXIT_NO_DM;
	}
	cli_err(what, "device-mapper: %s%s%s", strerror(-err),
		dmdev_last_error()[0] ? ": " : "", dmdev_last_error());
	return EXIT_FAIL;
}

/*
 * Every umlcow mapping: the umlcow target's, and the nbd-backed ones
 * (linear over /dev/nbdN, our NBD UUID prefix), sorted by name.
 */
static int cmp_name(const void *a, const void *b)
{
	return strcmp(((const struct dmdev *)a)->name,
		      ((const struct dmdev *)b)->name);
}

static int list_all(struct dmdev **devs, size_t *n)
{
	struct dmdev *lin, *all;
	size_t nlin, k;
	int err = dmdev_list(UMLCOW_TARGET, devs, n);

	if (err)
		return err;
	err = dmdev_list("linear", &lin, &nlin);
	if (err) {
		dmdev_free_list(*devs, *n);
		return err;
	}
	all = realloc(*devs, (*n + nlin + 1) * sizeof(*all));
	if (!all) {
		dmdev_free_list(lin, nlin);
		dmdev_free_list(*devs, *n);
		return -ENOMEM;
	}
	k = *n;
	for (size_t i = 0; i < nlin; i++) {
		if (nbd_is_mapping(&lin[i]))
			all[k++] = lin[i];
		else
			dmdev_free(&lin[i]);
	}
	free(lin);
	if (k > 1)
		qsort(all, k, sizeof(*all), cmp_name);
	*devs = all;
	*n = k;
	return 0;
}

/* Whether mapping @d is one of the file (@dev, @ino), by its UUID. */
static bool of_file(const struct dmdev *d, dev_t dev, ino_t ino)
{
	char prefix[DM_UUID_LEN];

	if (nbd_is_mapping(d))
		nbd_uuid_prefix(dev, ino, prefix, sizeof(prefix));
	else
		uuid_prefix(dev, ino, prefix, sizeof(prefix));
	return !strncmp(d->uuid, prefix, strlen(prefix));
}

/* Whether @d is a mapping of ours (either kind). */
static bool is_ours(const struct dmdev *d)
{
	return !strcmp(d->type, UMLCOW_TARGET) || nbd_is_mapping(d);
}

/*
 * The umlcow mappings of the file (@dev, @ino), found by the UUID we gave
 * them: how many there are (or a negative errno), the first one's name in
 * @name.
 */
static int mappings_of(dev_t dev, ino_t ino, char *name, size_t len)
{
	struct dmdev *devs;
	size_t n;
	int err, found = 0;

	err = list_all(&devs, &n);
	if (err)
		return err;
	for (size_t i = 0; i < n; i++)
		if (of_file(&devs[i], dev, ino) && found++ == 0)
			snprintf(name, len, "%s", devs[i].name);
	dmdev_free_list(devs, n);
	return found;
}

static void already_mapped(const char *path, const char *name)
{
	cli_err(path, "already mapped as %s/%s (umlcow-setup close %s); not mapped again",
		DMDEV_DIR, name, name);
}

/*
 * Take UML's lock on @fd, or say who holds it (and why it matters).
 * Returns 0, or the exit status: EXIT_BUSY when someone holds it.
 */
static int lock_file(int fd, bool exclusive, const char *path, bool cow)
{
	struct filelock_holder h;
	char holder[256], name[DM_NAME_LEN];
	struct stat st;
	int err = filelock_take(fd, exclusive, &h);

	if (!err)
		return 0;
	if (err != -EAGAIN) {
		cli_err(path, "cannot lock: %s", strerror(-err));
		return EXIT_FAIL;
	}
	if (cow && (!h.known || h.ofd) && fstat(fd, &st) == 0 &&
	    mappings_of(st.st_dev, st.st_ino, name, sizeof(name)) > 0) {
		already_mapped(path, name);
		return EXIT_BUSY;
	}
	filelock_describe(&h, holder, sizeof(holder));
	if (cow)
		cli_err(path, "in use: %s (is UML running on it?); not mapped",
			holder);
	else
		cli_err(path, "the backing file is in use: %s; not mapped",
			holder);
	return EXIT_BUSY;
}

/* Say why a device could not be made; returns the exit status. */
static int create_failed(const char *what, const char *name, int err)
{
	char kmsg[512], dmmsg[512];

	/* Copies: the next dmdev call starts with empty messages. */
	snprintf(kmsg, sizeof(kmsg), "%s", dmdev_kernel_error());
	snprintf(dmmsg, sizeof(dmmsg), "%s", dmdev_last_error());

	if (err == -EEXIST) {
		cli_err(what, "a device-mapper device named '%s' exists already (choose another name with --name)",
			name);
		return EXIT_BUSY;
	}
	if (err == -ENODEV || err == -ENOENT) {
		cli_err(what, "device-mapper is not available (is the dm-mod module loaded?)");
		return EXIT_NO_DM;
	}
	if (dmdev_has_target(UMLCOW_TARGET) == 0) {
		cli_err(what, "the kernel has no '%s' target and could not load it (install umlcow-dkms, or run make install-dkms in the source tree, or insmod drivers/md/dm-umlcow.ko; or map it without the module: --via nbd)",
			UMLCOW_TARGET);
		return EXIT_NO_DM;
	}
	if (kmsg[0])
		cli_err(what, "the kernel refused the table: %s", kmsg);
	else if (dmmsg[0])
		cli_err(what, "%s", dmmsg);
	else
		cli_err(what, "cannot create device '%s': %s", name,
			strerror(-err));
	return EXIT_FAIL;
}

/* Everything open holds while it works, undone by open_undo(). */
struct open_state {
	const struct cli_opts *o;
	const char *path;
	char name[DM_NAME_LEN];
	struct cow_file cf;
	struct cow_backing *b;
	struct cow_map_plan plan;
	bool read_only;
	int back_fd;
	struct loopdev cow_loop, back_loop;
	bool extended;
	uint64_t orig_size;
};

/*
 * The device name: --name, or the file's name. open prints the device's
 * path for scripts to use, so it must be printable exactly and safely: a
 * name cli_q() would change (a C1 control, a bidirectional or zero-width
 * character, bytes that are not UTF-8) is refused, as device-mapper's own
 * rules refuse a '/'.
 */
static int open_name(struct open_state *s)
{
	const char *name = s->o->name ? s->o->name : s->name, *why;

	if (s->o->name)
		snprintf(s->name, sizeof(s->name), "%s", s->o->name);
	else
		default_name(s->path, s->name, sizeof(s->name));
	if (dmdev_check_name(name, &why) == 0) {
		if (cli_q_plain(name))
			return 0;
		why = "the name contains a character that is not shown as it is (a control, bidirectional or zero-width character, or bytes that are not UTF-8)";
	}
	if (s->o->name) {
		cli_err(NULL, "invalid --name '%s': %s", s->o->name, why);
		return EXIT_USAGE;
	}
	cli_err(s->path, "cannot name the device '%s' after the file: %s; give one with --name",
		s->name, why);
	return EXIT_FAIL;
}

/* Open and lock the COW file, then parse it from that descriptor. */
static int open_cow_locked(struct open_state *s)
{
	struct cow_open_opts co = { .layout = s->o->layout,
				    .backing = s->o->backing,
				    .writable = !s->read_only };
	struct cow_err e;
	struct stat st;
	int fd, ret;

	fd = cow_open_path(s->path, s->read_only ? O_RDONLY : O_RDWR, false,
			   NULL, &e);
	if (fd < 0) {
		if (!s->read_only &&
		    (errno == EROFS || errno == EACCES || errno == EPERM))
			cli_err(s->path, "cannot open for writing: %s; map it with --read-only",
				strerror(errno));
		else if (errno == EINVAL && stat(s->path, &st) == 0 &&
			 S_ISBLK(st.st_mode))
			cli_err(s->path, "%s (map a COW file on a block device by hand: see 'table')",
				e.msg);
		else
			cli_cow_err(s->path, &e);
		return EXIT_FAIL;
	}
	ret = lock_file(fd, !s->read_only, s->path, true);
	if (ret) {
		close(fd);
		return ret;
	}
	if (cow_open_fd(&s->cf, fd, s->path, &co, &e)) {
		cli_cow_err(s->path, &e);
		close(fd);
		return e.kind == COW_ERR_AMBIGUOUS || e.kind == COW_ERR_USAGE ?
		       EXIT_USAGE : EXIT_FAIL;
	}
	cli_info(s->path, "layout %s (%s)", s->cf.info.layout_name,
		 s->cf.why);
	/*
	 * Before the file is extended (which would put zeros under set bits)
	 * or anything is attached: sectors whose data was cut off are lost.
	 */
	if (plan(&s->cf.info, &s->plan, s->path) || cli_data_complete(&s->cf))
		return EXIT_FAIL;
	if (s->plan.read_only && !s->read_only) {
		explain_tail(&s->cf.info, &s->plan, s->path);
		s->read_only = true;
		/* A read lock now, as for --read-only (same description). */
		ret = lock_file(fd, false, s->path, true);
		if (ret)
			return ret;
	}
	return 0;
}

/* Find, check and lock the backing file, as UML checks it. */
static int open_backing(struct open_state *s)
{
	struct cow_err e;
	uint64_t bsize;
	int ret;

	s->b = malloc(sizeof(*s->b));
	if (!s->b) {
		cli_err(s->path, "out of memory");
		return EXIT_FAIL;
	}
	s->b->fd = -1;
	if (cow_backing_find(s->path, &s->cf.info, s->o->backing, O_RDONLY,
			     s->b, &e) ||
	    cow_backing_not_self(&s->cf, s->b, &e) ||
	    cow_backing_verify(&s->cf.info, s->b, s->o->force, &e)) {
		cli_cow_err(s->path, &e);
		return EXIT_FAIL;
	}
	if (s->b->warning[0])
		cli_warn(s->path, "%s", s->b->warning);
	cli_info(s->path, "backing file %s", s->b->path);
	/*
	 * The descriptor checked is the one mapped: reopening the path would
	 * map whatever it names by now (a block device, too).
	 */
	s->back_fd = s->b->fd;
	s->b->fd = -1;
	ret = lock_file(s->back_fd, false, s->b->path, false);
	if (ret)
		return ret;
	if (cow_fd_size(s->back_fd, &bsize, &e)) {
		cli_cow_err(s->b->path, &e);
		return EXIT_FAIL;
	}
	if (bsize / 512 < s->plan.len + s->plan.tail_len) {
		cli_err(s->b->path, "the backing file (%" PRIu64 " bytes) is smaller than the image (%" PRIu64 " bytes)",
			bsize, s->cf.info.size);
		return EXIT_FAIL;
	}
	if (s->read_only && s->cf.info.file_size < s->plan.cow_need &&
	    !cow_map_ro_short_ok(&s->plan, s->cf.info.file_size)) {
		cli_err(s->path, "the file ends at byte %" PRIu64 ", before its data area ends at byte %" PRIu64 "; a read-only mapping cannot extend it (map it once read-write, or extend it with 'truncate -s %" PRIu64 "')",
			s->cf.info.file_size, s->plan.cow_need,
			s->plan.cow_need);
		return EXIT_FAIL;
	}
	return 0;
}

/* The name must be free (or say it is this file's mapping already). */
static int open_check_free(struct open_state *s)
{
	char uuid[DM_UUID_LEN];
	struct dmdev d;
	int err = dmdev_exists(s->name);

	if (err < 0)
		return create_failed(s->path, s->name, err);
	if (err == 0)
		return 0;
	uuid_prefix(s->cf.dev, s->cf.ino, uuid, sizeof(uuid));
	/* dmdev_get() leaves @d safe to free even when it fails. */
	if (!dmdev_get(s->name, &d) && !strncmp(d.uuid, uuid, strlen(uuid)))
		already_mapped(s->path, s->name);
	else
		create_failed(s->path, s->name, -EEXIST);
	dmdev_free(&d);
	return EXIT_BUSY;
}

/*
 * A QEMU-style COW file ends after its bitmap: extend it, sparsely.
 * Read-only, the target accepts a COW device that ends early as long as it
 * holds the bitmap's blocks and reaches the data area.
 */
static int open_extend(struct open_state *s)
{
	uint64_t size = s->cf.info.file_size, need = s->plan.cow_need;

	if (size >= need)
		return 0;
	if (s->read_only) {
		cli_info(s->path, "the file ends before its data area; mapped as it is");
		return 0;
	}
	if (ftruncate(s->cf.fd, (off_t)need) < 0) {
		cli_err(s->path, "cannot extend the file to %" PRIu64 " bytes: %s",
			need, strerror(errno));
		return EXIT_FAIL;
	}
	s->orig_size = size;
	s->extended = true;
	cli_info(s->path, "extended sparsely from %" PRIu64 " to %" PRIu64 " bytes",
		 size, need);
	return 0;
}

static int open_attach(struct open_state *s)
{
	int err = loopdev_attach(s->cf.fd, s->read_only, s->path,
				 &s->cow_loop);

	if (err) {
		cli_err(s->path, "cannot attach a loop device: %s",
			loopdev_strerror(err));
		return EXIT_FAIL;
	}
	err = loopdev_attach(s->back_fd, true, s->b->path, &s->back_loop);
	if (err) {
		cli_err(s->b->path, "cannot attach a loop device: %s",
			loopdev_strerror(err));
		return EXIT_FAIL;
	}
	cli_info(s->path, "COW file on %s, backing file on %s",
		 s->cow_loop.path, s->back_loop.path);
	return 0;
}

static int open_create(struct open_state *s)
{
	const struct cow_map_features f = {
		.read_only = s->read_only,
		.no_discard = s->o->no_discard,
		.commit_interval_set = s->o->have_commit_interval,
		.commit_interval = s->o->commit_interval,
	};
	char cow_dev[32], back_dev[32], params[256], tparams[64];
	char uuid[DM_UUID_LEN], node[DM_NAME_LEN + 16];
	struct dmdev_target t[2];
	struct cow_err e;
	int err;

	snprintf(cow_dev, sizeof(cow_dev), "%u:%u", major(s->cow_loop.rdev),
		 minor(s->cow_loop.rdev));
	snprintf(back_dev, sizeof(back_dev), "%u:%u",
		 major(s->back_loop.rdev), minor(s->back_loop.rdev));
	if (cow_map_params(&s->plan, cow_dev, back_dev, &f, params,
			   sizeof(params), &e) ||
	    cow_map_tail_params(&s->plan, back_dev, tparams, sizeof(tparams),
				&e)) {
		cli_cow_err(s->path, &e);
		return EXIT_FAIL;
	}
	uuid_prefix(s->cf.dev, s->cf.ino, uuid, sizeof(uuid));
	snprintf(uuid + strlen(uuid), sizeof(uuid) - strlen(uuid), "%s",
		 s->name);
	t[0] = (struct dmdev_target){ 0, s->plan.len, UMLCOW_TARGET, params };
	t[1] = (struct dmdev_target){ s->plan.len, s->plan.tail_len, "linear",
				      tparams };
	cli_info(s->path, "table: 0 %" PRIu64 " %s %s", s->plan.len,
		 UMLCOW_TARGET, params);
	if (s->plan.tail_len)
		cli_info(s->path, "table: %" PRIu64 " %" PRIu64 " linear %s",
			 s->plan.len, s->plan.tail_len, tparams);
	err = dmdev_create_table(s->name, uuid, s->read_only, t,
				 s->plan.tail_len ? 2 : 1, node, sizeof(node));
	if (err)
		return create_failed(s->path, s->name, err);
	/* The table holds the loop devices now: they go when it goes. */
	loopdev_release(&s->cow_loop);
	loopdev_release(&s->back_loop);
	printf("%s\n", node);
	return EXIT_OK;
}

static void open_undo(struct open_state *s, int ret)
{
	loopdev_detach(&s->back_loop);
	loopdev_detach(&s->cow_loop);
	if (s->extended && ret != EXIT_OK &&
	    ftruncate(s->cf.fd, (off_t)s->orig_size) < 0)
		cli_err(s->path, "cannot shrink the file back to %" PRIu64 " bytes: %s",
			s->orig_size, strerror(errno));
	if (s->back_fd >= 0)
		close(s->back_fd);
	cow_backing_close(s->b);
	free(s->b);
	cow_close(&s->cf);
}

/*
 * --via auto: whether to fall back to nbd. Only when device-mapper works
 * but the umlcow target is missing and modprobe cannot load it.
 */
static bool want_nbd(const char *path)
{
	int has = dmdev_has_target(UMLCOW_TARGET);

	if (has == 0) {
		modload_quiet("dm-umlcow");
		has = dmdev_has_target(UMLCOW_TARGET);
	}
	if (has != 0)
		return false;
	cli_warn(path, "the kernel has no '%s' target and modprobe cannot load it; serving the file with nbdkit through the kernel's nbd driver instead (--via nbd)",
		 UMLCOW_TARGET);
	return true;
}

/* open --via nbd: refuse a file mapped already, then nbd_open(). */
static int open_nbd(const struct cli_opts *o, const char *path,
		    const char *name)
{
	char other[DM_NAME_LEN];
	struct stat st;

	if (o->have_commit_interval)
		return cli_usage_error("open", "--commit-interval is the target's; the nbdkit plugin writes the bitmap at every flush and when it stops");
	if (stat(path, &st) == 0 &&
	    mappings_of(st.st_dev, st.st_ino, other, sizeof(other)) > 0) {
		already_mapped(path, other);
		return EXIT_BUSY;
	}
	return nbd_open(o, path, name);
}

int cmd_open(int argc, char **argv)
{
	struct cli_opts o;
	struct open_state s = { .o = &o, .back_fd = -1 };
	int ret;

	CLI_PARSE(argc, argv, &cmd_open_help, 1, 1, &o);
	dmdev_set_verbose(cli_verbose);
	s.path = o.args[0];
	s.read_only = o.read_only;
	s.cf.fd = -1;
	loopdev_init(&s.cow_loop);
	loopdev_init(&s.back_loop);
	ret = open_name(&s);
	if (ret)
		return ret;
	if (o.via && (!strcmp(o.via, "nbd") ||
		      (!strcmp(o.via, "auto") && want_nbd(s.path))))
		return open_nbd(&o, s.path, s.name);
	(void)((ret = open_cow_locked(&s)) || (ret = open_backing(&s)) ||
	       (ret = open_check_free(&s)) || (ret = open_extend(&s)) ||
	       (ret = open_attach(&s)) || (ret = open_create(&s)));
	open_undo(&s, ret);
	return ret;
}

/* ---- the kernel's view: list, status, close, commit -------------------- */

/* A umlcow mapping, its table and status taken apart. */
struct mapping {
	const struct dmdev *dev;
	char cow_dev[32], backing_dev[32];
	char cow_file[4096], backing_file[4096];
	uint64_t bitmap_offset, data_offset, nr_sectors;
	uint32_t sector_size;
	bool ro_feature;
	bool have_alloc, have_dirty, have_memory;
	uint64_t allocated, total, dirty, memory;
	char mode[16];		/* rw, ro, fail */
	char access[16];	/* writable, read_only */
	struct nbd_mapping *nbd;	/* an nbd-backed one: what it is */
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
 * An nbd-backed mapping: mode rw (ro when read-only, fail when its server
 * is gone), the files from its runtime directory. @m->nbd is malloc'd.
 */
static void parse_nbd(const struct dmdev *dev, struct mapping *m)
{
	struct nbd_mapping *nm = malloc(sizeof(*nm));

	m->nbd = nm;
	if (!nm)
		return;
	nbd_mapping_get(dev, nm);
	snprintf(m->cow_file, sizeof(m->cow_file), "%s", nm->cow_file);
	snprintf(m->backing_file, sizeof(m->backing_file), "%s",
		 nm->backing_file);
	snprintf(m->mode, sizeof(m->mode), "%s",
		 nm->running ? "rw" : "fail");
	snprintf(m->access, sizeof(m->access), "%s",
		 nm->read_only ? "read_only" : "writable");
}

static void parse_mapping(const struct dmdev *dev, struct mapping *m)
{
	struct cow_map_status st;
	bool ro;
	unsigned long long bo = 0, dofs = 0, nr = 0;
	unsigned int ss = 0;
	int consumed = 0;

	memset(m, 0, sizeof(*m));
	m->dev = dev;
	if (nbd_is_mapping(dev)) {
		parse_nbd(dev, m);
		return;
	}
	if (sscanf(dev->table, "%31s %31s %llu %llu %u %llu%n", m->cow_dev,
		   m->backing_dev, &bo, &dofs, &ss, &nr, &consumed) >= 6) {
		m->bitmap_offset = bo;
		m->data_offset = dofs;
		m->sector_size = ss;
		m->nr_sectors = nr;
		m->ro_feature = strstr(dev->table + consumed, " read_only") !=
				NULL;
	}
	dev_to_file(m->cow_dev, m->cow_file, sizeof(m->cow_file));
	dev_to_file(m->backing_dev, m->backing_file, sizeof(m->backing_file));
	ro = m->ro_feature || dev->read_only;
	if (cow_map_parse_status(dev->status, ro, &st) == 0) {
		m->allocated = st.allocated;
		m->total = st.total;
		m->dirty = st.dirty;
		m->memory = st.memory;
		m->have_alloc = m->have_dirty = true;
		m->have_memory = st.have_memory;
		snprintf(m->mode, sizeof(m->mode), "%s", st.mode);
		snprintf(m->access, sizeof(m->access), "%s", st.access);
	} else {
		/* unknown: only the raw status is shown */
		snprintf(m->mode, sizeof(m->mode), "?");
		snprintf(m->access, sizeof(m->access), "%s",
			 ro ? "read_only" : "writable");
	}
}

void cli_mapping_json_begin(struct json *j, const struct dmdev *d,
			    const char *via)
{
	char node[DM_NAME_LEN + 16];

	snprintf(node, sizeof(node), "%s/%s", DMDEV_DIR, d->name);
	json_object_begin(j, NULL);
	json_string(j, "name", d->name);
	json_string(j, "device", node);
	json_string(j, "uuid", d->uuid);
	json_string(j, "via", via);
}

static void mapping_json(struct json *j, const struct mapping *m)
{
	cli_mapping_json_begin(j, m->dev, "dm");
	json_string(j, "mode", m->mode);
	json_string(j, "access", m->access);
	json_bool(j, "read_only", !strcmp(m->access, "read_only"));
	json_string(j, "cow_file", m->cow_file);
	json_string(j, "backing_file", m->backing_file);
	json_string(j, "cow_dev", m->cow_dev);
	json_string(j, "backing_dev", m->backing_dev);
	json_u64(j, "bitmap_offset", m->bitmap_offset);
	json_u64(j, "data_offset", m->data_offset);
	json_u64(j, "sector_size", m->sector_size);
	json_u64(j, "sectors", m->nr_sectors);
	if (m->have_alloc)
		json_u64(j, "allocated_sectors", m->allocated);
	else
		json_null(j, "allocated_sectors");
	if (m->have_dirty)
		json_u64(j, "dirty_blocks", m->dirty);
	else
		json_null(j, "dirty_blocks");
	if (m->have_memory)
		json_u64(j, "bitmap_memory", m->memory);
	else
		json_null(j, "bitmap_memory");
	/* 512-byte sectors mapped linearly after the umlcow target */
	json_u64(j, "tail_sectors",
		 m->dev->dev_len - (m->dev->start + m->dev->len));
	json_u64(j, "open_count", (uint64_t)m->dev->open_count);
	json_bool(j, "deferred_remove", m->dev->deferred_remove);
	json_string(j, "table", m->dev->table);
	json_string(j, "status", m->dev->status);
	json_object_end(j);
}

static void alloc_text(const struct mapping *m, char *buf, size_t len)
{
	if (m->nbd)
		snprintf(buf, len, "(via nbd)");
	else if (m->have_alloc && m->total)
		snprintf(buf, len, "%" PRIu64 "/%" PRIu64 " (%.1f%%)",
			 m->allocated, m->total,
			 100.0 * (double)m->allocated / (double)m->total);
	else
		snprintf(buf, len, "-");
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
		int l = (int)strlen(cli_q(ms[i].dev->name));

		alloc_text(&ms[i], alloc[i], sizeof(alloc[i]));
		if (l > wname)
			wname = l;
		if ((int)strlen(alloc[i]) > walloc)
			walloc = (int)strlen(alloc[i]);
		l = (int)strlen(cli_q(ms[i].cow_file));
		if (l > wcow)
			wcow = l;
	}
	printf("%-*s  %-4s  %-*s  %-*s  %s\n", wname, "NAME", "MODE", walloc,
	       "ALLOCATED", wcow, "COW", "BACKING");
	for (size_t i = 0; i < n; i++)
		printf("%-*s  %-4s  %-*s  %-*s  %s\n", wname,
		       cli_q(ms[i].dev->name),
		       strcmp(ms[i].access, "read_only") ||
		       strcmp(ms[i].mode, "rw") ? ms[i].mode : "ro",
		       walloc, alloc[i], wcow, cli_q(ms[i].cow_file),
		       cli_q(ms[i].backing_file));
	free(alloc);
}

int cmd_list(int argc, char **argv)
{
	struct cli_opts o;
	struct dmdev *devs;
	struct mapping *ms;
	size_t n;
	int err;

	CLI_PARSE(argc, argv, &cmd_list_help, 0, 0, &o);
	dmdev_set_verbose(cli_verbose);
	err = list_all(&devs, &n);
	if (err)
		return dm_failed(NULL, err);
	ms = calloc(n ? n : 1, sizeof(*ms));
	if (!ms) {
		dmdev_free_list(devs, n);
		cli_err(NULL, "out of memory");
		return EXIT_FAIL;
	}
	for (size_t i = 0; i < n; i++)
		parse_mapping(&devs[i], &ms[i]);
	if (o.json) {
		struct json j;

		/* An object around the array, as losetup --json has it. */
		json_init(&j, stdout);
		json_object_begin(&j, NULL);
		json_array_begin(&j, "mappings");
		for (size_t i = 0; i < n; i++)
			if (ms[i].nbd)
				nbd_mapping_json(&j, ms[i].nbd);
			else if (!nbd_is_mapping(&devs[i]))
				mapping_json(&j, &ms[i]);
		json_array_end(&j);
		json_object_end(&j);
	} else {
		list_plain(ms, n);
	}
	for (size_t i = 0; i < n; i++)
		free(ms[i].nbd);
	free(ms);
	dmdev_free_list(devs, n);
	return EXIT_OK;
}

/*
 * NAME|FILE.cow to the name of its umlcow mapping, into @name (for command
 * @cmd, named in a message). Returns 0, or an exit status after saying why.
 */
static int resolve(const char *arg, char *name, size_t len,
		   const char *cmd)
{
	struct dmdev dev, *devs;
	struct stat st;
	const char *match = NULL;
	size_t n, found = 0;
	int err, ret;

	/* A device of that name? */
	if (!dmdev_check_name(arg, NULL)) {
		err = dmdev_get(arg, &dev);
		if (!err) {
			bool ours = is_ours(&dev);

			dmdev_free(&dev);
			if (!ours) {
				cli_err(arg, "not a umlcow device");
				return EXIT_FAIL;
			}
			snprintf(name, len, "%s", arg);
			return 0;
		}
		if (err != -ENXIO)
			return dm_failed(arg, err);
	}

	/* Else a COW file: find its mappings by the UUID we gave them. */
	if (stat(arg, &st) < 0) {
		if (errno == ENOENT) {
			cli_err(arg, "no such umlcow device or COW file");
			return EXIT_NOT_MAPPED;
		}
		cli_err(arg, "%s", strerror(errno));
		return EXIT_FAIL;
	}
	err = list_all(&devs, &n);
	if (err)
		return dm_failed(arg, err);
	for (size_t i = 0; i < n; i++)
		if (of_file(&devs[i], st.st_dev, st.st_ino)) {
			found++;
			match = devs[i].name;
		}
	ret = EXIT_FAIL;
	if (found == 0) {
		cli_err(arg, "the file is not mapped");
		ret = EXIT_NOT_MAPPED;
	} else if (found > 1) {
		cli_err(arg, "the file is mapped %zu times; %s each by name:",
			found, cmd);
		for (size_t i = 0; i < n; i++)
			if (of_file(&devs[i], st.st_dev, st.st_ino))
				fprintf(stderr, "  %s\n", cli_q(devs[i].name));
	} else {
		snprintf(name, len, "%s", match);
		ret = 0;
	}
	dmdev_free_list(devs, n);
	return ret;
}

/*
 * The start of the commands on one mapping (close, status, commit): parse
 * @argv, then find the mapping its operand names. Returns -1 to go on with
 * @name set, or the exit status to return.
 */
static int one_mapping(int argc, char **argv, const struct cli_help *help,
		       struct cli_opts *o, char *name)
{
	int ret = cli_parse(argc, argv, help, 1, 1, o);

	if (ret)
		return ret < 0 ? EXIT_USAGE : EXIT_OK;
	dmdev_set_verbose(cli_verbose);
	ret = resolve(o->args[0], name, DM_NAME_LEN, argv[0]);
	return ret ? ret : -1;
}

int cmd_close(int argc, char **argv)
{
	struct cli_opts o;
	struct dmdev dev;
	char name[DM_NAME_LEN];
	int err, ret;

	ret = cli_parse(argc, argv, &cmd_close_help, 1, 1, &o);
	if (ret)
		return ret < 0 ? EXIT_USAGE : EXIT_OK;
	dmdev_set_verbose(cli_verbose);
	/* No device, but a runtime directory: an interrupted open --via nbd. */
	if (!dmdev_check_name(o.args[0], NULL) &&
	    dmdev_exists(o.args[0]) == 0 && nbd_leftover(o.args[0]))
		return nbd_close_leftover(o.args[0]);
	ret = resolve(o.args[0], name, DM_NAME_LEN, argv[0]);
	if (ret)
		return ret;
	if (dmdev_get(name, &dev) == 0) {
		if (nbd_is_mapping(&dev)) {
			if (o.deferred)
				ret = cli_usage_error(argv[0], "--deferred cannot stop the server of a mapping made with --via nbd");
			else
				ret = nbd_close(&dev);
			dmdev_free(&dev);
			return ret;
		}
		dmdev_free(&dev);
	}
	err = dmdev_remove(name, o.deferred);
	if (!err) {
		cli_info(name, o.deferred ? "removed, or removal deferred until its last user closes it" :
			 "removed");
		return EXIT_OK;
	}
	if (err == -EBUSY) {
		cli_err(name, "the device is in use (mounted or open); close it first, or use --deferred");
		return EXIT_BUSY;
	}
	if (err == -ENXIO) {
		cli_err(name, "no such device");
		return EXIT_NOT_MAPPED;
	}
	cli_err(name, "cannot remove the device: %s",
		dmdev_last_error()[0] ? dmdev_last_error() : strerror(-err));
	return EXIT_FAIL;
}

int cmd_status(int argc, char **argv)
{
	struct cli_opts o;
	char name[DM_NAME_LEN], alloc[64];
	struct mapping m;
	struct dmdev dev;
	int err, ret;

	ret = one_mapping(argc, argv, &cmd_status_help, &o, name);
	if (ret >= 0)
		return ret;
	err = dmdev_get(name, &dev);
	if (err)
		return dm_failed(name, err);
	parse_mapping(&dev, &m);
	if (m.nbd) {
		if (o.json) {
			struct json j;

			json_init(&j, stdout);
			nbd_mapping_json(&j, m.nbd);
		} else {
			nbd_status_print(m.nbd);
		}
		free(m.nbd);
		dmdev_free(&dev);
		return EXIT_OK;
	}
	if (o.json) {
		struct json j;

		json_init(&j, stdout);
		mapping_json(&j, &m);
		dmdev_free(&dev);
		return EXIT_OK;
	}
	alloc_text(&m, alloc, sizeof(alloc));
	printf("name:              %s\n", cli_q(dev.name));
	printf("device:            %s/%s\n", DMDEV_DIR, cli_q(dev.name));
	printf("mode:              %s\n", cli_q(m.mode));
	printf("access:            %s\n", cli_q(m.access));
	printf("allocated sectors: %s\n", alloc);
	if (m.have_dirty)
		printf("dirty blocks:      %" PRIu64 "\n", m.dirty);
	if (m.have_memory)
		printf("bitmap memory:     %" PRIu64 " bytes\n", m.memory);
	printf("cow file:          %s (%s)\n", cli_q(m.cow_file),
	       cli_q(m.cow_dev));
	printf("backing file:      %s (%s)\n", cli_q(m.backing_file),
	       cli_q(m.backing_dev));
	if (dev.dev_len != dev.start + dev.len)
		printf("linear tail:       %" PRIu64 " sectors of 512 bytes\n",
		       dev.dev_len - (dev.start + dev.len));
	printf("open count:        %d%s\n", dev.open_count,
	       dev.deferred_remove ? " (removal deferred)" : "");
	dmdev_free(&dev);
	return EXIT_OK;
}

int cmd_commit(int argc, char **argv)
{
	struct cli_opts o;
	struct dmdev dev;
	char name[DM_NAME_LEN], reply[256];
	int err, ret;

	ret = one_mapping(argc, argv, &cmd_commit_help, &o, name);
	if (ret >= 0)
		return ret;
	if (dmdev_get(name, &dev) == 0) {
		bool nbd = nbd_is_mapping(&dev);

		dmdev_free(&dev);
		if (nbd)
			return nbd_commit(name);
	}
	err = dmdev_message(name, "commit", reply, sizeof(reply));
	if (err) {
		cli_err(name, "commit failed: %s",
			dmdev_last_error()[0] ? dmdev_last_error() :
			strerror(-err));
		return EXIT_FAIL;
	}
	cli_info(name, "committed");
	return EXIT_OK;
}

/* ---- table ----------------------------------------------------------- */

/*
 * --cow-dev and --backing-dev are printed as given, into a table meant for
 * a terminal or dmsetup: printable ASCII only (no escapes, no spaces).
 */
static bool dev_word(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

int cmd_table(int argc, char **argv)
{
	struct cli_opts o;
	struct cow_open_opts co = { 0 };
	struct cow_map_features f = { 0 };
	struct cow_map_plan p;
	struct cow_file cf;
	struct cow_err e;
	char *params = NULL, *tparams = NULL;
	const char *path;
	size_t len;
	int ret = EXIT_FAIL;

	CLI_PARSE(argc, argv, &cmd_table_help, 1, 1, &o);
	if (!o.cow_dev || !o.backing_dev)
		return cli_usage_error(argv[0], "missing %s",
				       o.cow_dev ? "--backing-dev" :
				       "--cow-dev");
	if (!dev_word(o.cow_dev) || !dev_word(o.backing_dev))
		return cli_usage_error(argv[0], "invalid %s '%s': a device must be a non-empty word of printable ASCII, without spaces",
				       dev_word(o.cow_dev) ? "--backing-dev" : "--cow-dev",
				       dev_word(o.cow_dev) ? o.backing_dev : o.cow_dev);
	path = o.args[0];
	co.layout = o.layout;
	co.backing = o.backing;
	if (cow_open(&cf, path, &co, &e)) {
		cli_cow_err(path, &e);
		return e.kind == COW_ERR_AMBIGUOUS || e.kind == COW_ERR_USAGE ?
		       EXIT_USAGE : EXIT_FAIL;
	}
	cli_info(path, "layout %s (%s)", cf.info.layout_name, cf.why);
	if (plan(&cf.info, &p, path))
		goto out;
	if (p.read_only && !o.read_only)
		explain_tail(&cf.info, &p, path);
	if (cf.info.file_size < p.cow_need && !(o.read_only || p.read_only))
		cli_warn(path, "the file ends at byte %" PRIu64 ", before its data area ends at byte %" PRIu64 "; extend it first ('truncate -s %" PRIu64 "') or the table is refused",
			 cf.info.file_size, p.cow_need, p.cow_need);
	f.read_only = o.read_only;
	f.no_discard = o.no_discard;
	f.commit_interval_set = o.have_commit_interval;
	f.commit_interval = o.commit_interval;
	len = strlen(o.cow_dev) + strlen(o.backing_dev) + 256;
	params = malloc(len);
	tparams = malloc(len);
	if (!params || !tparams) {
		cli_err(NULL, "out of memory");
		goto out;
	}
	if (cow_map_params(&p, o.cow_dev, o.backing_dev, &f, params, len,
			   &e) ||
	    cow_map_tail_params(&p, o.backing_dev, tparams, len, &e)) {
		cli_cow_err(path, &e);
		goto out;
	}
	printf("0 %" PRIu64 " %s %s\n", p.len, UMLCOW_TARGET, params);
	if (p.tail_len)
		printf("%" PRIu64 " %" PRIu64 " linear %s\n", p.len, p.tail_len,
		       tparams);
	ret = EXIT_OK;
out:
	free(params);
	free(tparams);
	cow_close(&cf);
	return ret;
}
