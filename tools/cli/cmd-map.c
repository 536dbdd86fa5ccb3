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

#include "act.h"
#include "act-nbd.h"
#include "cli.h"
#include "dmdev.h"
#include "json.h"
#include "loopdev.h"
#include "modload.h"
#include "nbd.h"

/* ---- help ------------------------------------------------------------ */

const struct cli_help cmd_open_help = {
	"Usage: " PROG " [open] [OPTIONS] FILE.cow\n"
	"\n"
	"Map a UML COW file (with its backing file) as /dev/mapper/NAME through the\n"
	"umlcow device-mapper target, and print the device path.\n"
	"\n",
	OPT_NAME | OPT_READ_ONLY | OPT_NO_DISCARD | OPT_COMMIT_INTERVAL |
	OPT_DIRECT_IO | OPT_COW | OPT_VIA,
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
	"those sectors from the backing file. Nothing is left behind on failure,\n"
	"nor on SIGINT, SIGTERM or SIGHUP, which undo what open did (it then dies\n"
	"of the signal). With --direct-io the loop devices read and write their\n"
	"files with direct I/O (no second copy in the page cache); a file system\n"
	"that cannot do it for a file leaves that loop device buffered, with a\n"
	"warning, as losetup --direct-io does.\n"
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
	"open (mounted, for instance), unless --deferred, and while another device\n"
	"holds it (kpartx's partitions, a table on top of it), deferred or not\n"
	"(exit status 4). A mapping made with --via nbd also loses its nbd device\n"
	"and its server, which writes the bitmap back as it stops (--deferred is\n"
	"refused for it). close NAME with no device NAME but a runtime directory\n"
	"cleans what an interrupted open --via nbd left there: its server, its nbd\n"
	"connection, the directory.\n"
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

/* ---- what the activation layer says ---------------------------------- */

static int dm_failed(const char *what, int err)
{
	struct act_err e;

	act_dm_err(&e, what, err);
	return cli_act_err(&e);
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

/*
 * Why cli_q() would change the name @s. In a UTF-8 locale: a C1 control, a
 * bidirectional or zero-width character, bytes that are not UTF-8. Outside
 * one (C, POSIX) every byte from 0x80 up is shown \xNN, whatever it
 * encodes: then it is the locale that refuses an otherwise printable name.
 */
static const char *name_unshown(const char *s)
{
	bool ascii_ok = true;

	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			ascii_ok = false;
	if (!cli_q_utf8() && ascii_ok)
		return "the name has bytes outside ASCII, which this locale (its character set is not UTF-8) does not show as they are";
	return "the name contains a character that is not shown as it is (a control, bidirectional or zero-width character, or bytes that are not UTF-8)";
}

/*
 * The device name: --name, or the file's name. open prints the device's
 * path for scripts to use, so it must be printable exactly and safely: a
 * name cli_q() would change (name_unshown() says why) is refused, as
 * device-mapper's own rules refuse a '/'.
 */
static int open_name(const struct cli_opts *o, const char *path, char *name,
		     size_t len)
{
	const char *why, *checked = o->name ? o->name : name;

	if (o->name)
		snprintf(name, len, "%s", o->name);
	else
		default_name(path, name, len);
	/* --name as given: one too long for @name is refused, not cut. */
	if (dmdev_check_name(checked, &why) == 0) {
		if (cli_q_plain(checked))
			return 0;
		why = name_unshown(checked);
	}
	if (o->name) {
		cli_err(NULL, "invalid --name '%s': %s", o->name, why);
		return EXIT_USAGE;
	}
	cli_err(path, "cannot name the device '%s' after the file: %s; give one with --name",
		name, why);
	return EXIT_FAIL;
}

/*
 * --via auto: whether to fall back to nbd. Only when device-mapper works
 * but the umlcow target is missing and modprobe cannot load it.
 */
static bool want_nbd(const char *path)
{
	int has = dmdev_has_target(ACT_TARGET);

	if (has == 0) {
		modload_quiet("dm-umlcow");
		has = dmdev_has_target(ACT_TARGET);
	}
	if (has != 0)
		return false;
	cli_warn(path, "the kernel has no '%s' target and modprobe cannot load it; serving the file with nbdkit through the kernel's nbd driver instead (--via nbd)",
		 ACT_TARGET);
	return true;
}

/* open --via nbd: refuse the target's options, then act_nbd_open(). */
static int open_nbd(const struct cli_opts *o, const char *path,
		    const char *name)
{
	struct act_nbd_open_opts ao = {
		.name = name,
		.no_discard = o->no_discard,
		.log = cli_act_log,
	};
	struct act_nbd_open_result r;
	struct act_err e;

	if (o->have_commit_interval)
		return cli_usage_error("open", "--commit-interval is the target's; the nbdkit plugin writes the bitmap at every flush and when it stops");
	if (o->direct_io)
		return cli_usage_error("open", "--direct-io is for the loop devices of the target; nbdkit serves the file itself");
	nbd_file_of(o, path, &ao.file);
	if (act_nbd_open(&ao, &r, &e))
		return cli_act_err(&e);
	printf("%s\n", r.node);
	return EXIT_OK;
}

int cmd_open(int argc, char **argv)
{
	struct cli_opts o;
	struct umlcow_open_opts ao;
	struct umlcow_open_result r;
	struct act_err e;
	char name[DM_NAME_LEN];
	int ret;

	CLI_PARSE(argc, argv, &cmd_open_help, 1, 1, &o);
	dmdev_set_verbose(cli_verbose);
	ret = open_name(&o, o.args[0], name, sizeof(name));
	if (ret)
		return ret;
	if (o.via && (!strcmp(o.via, "nbd") ||
		      (!strcmp(o.via, "auto") && want_nbd(o.args[0]))))
		return open_nbd(&o, o.args[0], name);
	ao = (struct umlcow_open_opts){
		.path = o.args[0],
		.name = name,
		.backing = o.backing,
		.layout = o.layout,
		.force = o.force,
		.read_only = o.read_only,
		.no_discard = o.no_discard,
		.direct_io = o.direct_io,
		.have_commit_interval = o.have_commit_interval,
		.commit_interval = o.commit_interval,
		.log = cli_act_log,
	};
	if (umlcow_open(&ao, &r, &e) == 0) {
		printf("%s\n", r.node);
		return EXIT_OK;
	}
	ret = cli_act_err(&e);
	if (e.kind == ACT_ERR_INTERRUPTED) {
		/* Die of the signal, as without the undo: 128 + N to a shell. */
		fflush(NULL);
		signal(e.signo, SIG_DFL);
		raise(e.signo);
		ret = 128 + e.signo;
	}
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
	struct act_nbd_mapping *nbd;	/* an nbd-backed one: what it is */
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
	struct act_nbd_mapping *nm = malloc(sizeof(*nm));

	m->nbd = nm;
	if (!nm)
		return;
	act_nbd_mapping_get(dev, nm);
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
	if (act_is_nbd_mapping(dev)) {
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
	err = act_list(&devs, &n);
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
			else if (!act_is_nbd_mapping(&devs[i]))
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
	char names[16 * DM_NAME_LEN];
	struct dmdev dev;
	struct stat st;
	int err, found;

	/* A device of that name? */
	if (!dmdev_check_name(arg, NULL)) {
		err = dmdev_get(arg, &dev);
		if (!err) {
			bool ours = act_is_ours(&dev);

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
	found = act_mappings_of(st.st_dev, st.st_ino, names, sizeof(names));
	if (found < 0)
		return dm_failed(arg, found);
	if (found == 0) {
		cli_err(arg, "the file is not mapped");
		return EXIT_NOT_MAPPED;
	}
	if (found > 1) {
		cli_err(arg, "the file is mapped %d times; %s each by name:",
			found, cmd);
		for (char *p = names, *nl; (nl = strchr(p, '\n')); p = nl + 1) {
			*nl = '\0';
			fprintf(stderr, "  %s\n", cli_q(p));
		}
		return EXIT_FAIL;
	}
	found = (int)strcspn(names, "\n");	/* < DM_NAME_LEN */
	if ((size_t)found >= len)
		found = (int)len - 1;
	memcpy(name, names, (size_t)found);
	name[found] = '\0';
	return 0;
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
	struct act_err e;
	int ret;

	ret = cli_parse(argc, argv, &cmd_close_help, 1, 1, &o);
	if (ret)
		return ret < 0 ? EXIT_USAGE : EXIT_OK;
	dmdev_set_verbose(cli_verbose);
	/* No device, but a runtime directory: an interrupted open --via nbd. */
	if (!dmdev_check_name(o.args[0], NULL) &&
	    dmdev_exists(o.args[0]) == 0 && act_nbd_leftover(o.args[0]))
		return act_nbd_close_leftover(o.args[0], cli_act_log, &e) ?
		       cli_act_err(&e) : EXIT_OK;
	ret = resolve(o.args[0], name, DM_NAME_LEN, argv[0]);
	if (ret)
		return ret;
	if (dmdev_get(name, &dev) == 0) {
		if (act_not_held(&dev, &e)) {
			dmdev_free(&dev);
			return cli_act_err(&e);
		}
		if (act_is_nbd_mapping(&dev)) {
			if (o.deferred)
				ret = cli_usage_error(argv[0], "--deferred cannot stop the server of a mapping made with --via nbd");
			else if (act_nbd_close(&dev, cli_act_log, &e))
				ret = cli_act_err(&e);
			else
				ret = EXIT_OK;
			dmdev_free(&dev);
			return ret;
		}
		dmdev_free(&dev);
	}
	if (umlcow_close(name, o.deferred, &e))
		return cli_act_err(&e);
	cli_info(name, o.deferred ? "removed, or removal deferred until its last user closes it" :
		 "removed");
	return EXIT_OK;
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
	char name[DM_NAME_LEN];
	struct act_err e;
	int ret;

	ret = one_mapping(argc, argv, &cmd_commit_help, &o, name);
	if (ret >= 0)
		return ret;
	if (dmdev_get(name, &dev) == 0) {
		bool nbd = act_is_nbd_mapping(&dev);

		dmdev_free(&dev);
		if (nbd)
			return act_nbd_commit(name, cli_act_log, &e) ?
			       cli_act_err(&e) : EXIT_OK;
	}
	if (umlcow_commit(name, &e))
		return cli_act_err(&e);
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
	struct act_err ae;
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
		return cli_exit_status(act_cow_kind(&e));
	}
	cli_info(path, "layout %s (%s)", cf.info.layout_name, cf.why);
	if (act_plan(&cf.info, &p, path, cli_act_log, &ae)) {
		ret = cli_act_err(&ae);
		goto out;
	}
	if (p.read_only && !o.read_only)
		act_explain_tail(&cf.info, &p, path, cli_act_log);
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
	printf("0 %" PRIu64 " %s %s\n", p.len, ACT_TARGET, params);
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
