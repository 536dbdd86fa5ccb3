// SPDX-License-Identifier: GPL-2.0
/*
 * cmd-format.c - the subcommands that work on COW files themselves:
 * info, create, merge, check, upgrade, rebase.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "filelock.h"

#define GLOBAL_HELP \
"  -b, --backing PATH   use PATH as the backing file\n" \
"  -f, --force          go on when the backing file's mtime differs\n" \
"  -l, --layout NAME    the header's layout, when detection cannot tell\n" \
"  -v, --verbose        say more\n" \
"  -h, --help           this help\n"

const char cmd_info_help[] =
"Usage: " PROG " info [--json] [OPTIONS] FILE.cow\n"
"Show a COW file's header: layout, version, byte order, backing file (and\n"
"whether its size and mtime match), size, sector size, alignment, bitmap\n"
"offset and length, data offset, allocated sectors (those whose bit lies\n"
"within the bitmap length: UML reads no other).\n"
"      --json           one JSON object on stdout\n"
GLOBAL_HELP;

const char cmd_create_help[] =
"Usage: " PROG " create [--layout NAME] [--backing] BACKING FILE.cow\n"
"Create an empty COW file on BACKING, as UML writes it: layout v3, the\n"
"backing file's absolute path, size and mtime, sector size 512, alignment\n"
"4096, sparse to the full size. Never overwrites FILE.cow.\n"
"  -l, --layout NAME    write a legacy layout instead (for tests and\n"
"                       migration; see Documentation/cow-format.rst):\n"
"                       v1-packed[-le|-be], v1-x86_64[-le|-be], v2-packed,\n"
"                       v2-x86_64, qemu-x86_64, qemu-i386, v3, v3-broken\n"
"  -v, --verbose        say more\n"
"  -h, --help           this help\n";

const char cmd_merge_help[] =
"Usage: " PROG " merge [OPTIONS] FILE.cow OUT.img\n"
"       " PROG " merge --in-place --yes [OPTIONS] FILE.cow\n"
"Write the full image FILE.cow describes to OUT.img (a new file, sparse\n"
"where the image is zero, fsync'd), or with --in-place write FILE.cow's\n"
"sectors into its backing file. The result equals uml_moo's, and what UML\n"
"reads: the last sectors of a short v1/v2 bitmap come from the backing file.\n"
"      --in-place       merge into the backing file (changes its mtime:\n"
"                       other COW files on it no longer match)\n"
"  -y, --yes            really do the --in-place merge\n"
"  -f, --force          also: overwrite an existing OUT.img\n"
GLOBAL_HELP;

const char cmd_check_help[] =
"Usage: " PROG " check [OPTIONS] FILE.cow\n"
"Check a COW file: header sanity, bitmap inside the file, bits set past\n"
"the last sector, the v1/v2 short bitmap (and sectors UML wrote past it,\n"
"which it does not read back), a file shorter than its data area,\n"
"allocated sectors without data, backing file present and matching.\n"
"Exit status: 0 clean, 1 problems found, 2 could not check.\n"
GLOBAL_HELP;

const char cmd_upgrade_help[] =
"Usage: " PROG " upgrade [OPTIONS] OLD.cow NEW.cow\n"
"Rewrite a COW file of any layout as a new v3 file (what today's UML\n"
"reads) with the same backing file, size, mtime, allocated sectors and\n"
"data: it merges to the same image. NEW.cow is sparse and must not exist.\n"
GLOBAL_HELP;

const char cmd_rebase_help[] =
"Usage: " PROG " rebase --backing NEW [--update-mtime] [OPTIONS] FILE.cow\n"
"Point FILE.cow's header at the backing file NEW (moved or renamed),\n"
"after checking that its size matches. The stored mtime is kept unless\n"
"--update-mtime is given; nothing else in the file changes.\n"
"      --update-mtime   store NEW's mtime too\n"
GLOBAL_HELP;

/* Open a COW file for a subcommand; prints the error. */
static int open_cow(struct cow_file *cf, const char *path,
		    const struct cli_opts *o, bool writable)
{
	struct cow_open_opts oo = {
		.layout = o->layout, .backing = o->backing,
		.writable = writable,
	};
	struct cow_err err;

	if (cow_open(cf, path, &oo, &err)) {
		cli_err(path, "%s", err.msg);
		return err.kind == COW_ERR_AMBIGUOUS ? EXIT_USAGE : EXIT_FAIL;
	}
	cli_info(path, "layout %s: %s", cf->info.layout_name, cf->why);
	return 0;
}

/* Take UML's kind of lock on @fd, or say who holds it. */
static int lock(int fd, bool exclusive, const char *path)
{
	struct filelock_holder h;
	char who[160];
	int ret = filelock_take(fd, exclusive, &h);

	if (ret == 0)
		return 0;
	if (ret == -EAGAIN) {
		filelock_describe(&h, who, sizeof(who));
		cli_err(path, "in use (%s); stop UML or close the mapping first",
			who);
	} else {
		cli_err(path, "cannot lock: %s", strerror(-ret));
	}
	return -1;
}

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

int cmd_info(int argc, char **argv)
{
	struct cli_opts o;
	struct cow_file cf;
	struct cow_backing *b = malloc(sizeof(*b));
	struct cow_err err, berr;
	uint64_t alloc;
	const struct cow_info *ci;
	bool have_b;
	int ret = cli_parse(argc, argv, OPT_JSON, cmd_info_help, 1, 1, &o);

	if (ret) {
		free(b);
		return ret < 0 ? EXIT_USAGE : EXIT_OK;
	}
	if (!b) {
		cli_err(NULL, "out of memory");
		return EXIT_FAIL;
	}
	ret = open_cow(&cf, o.args[0], &o, false);
	if (ret) {
		free(b);
		return ret;
	}
	ci = &cf.info;
	if (cow_bitmap_count(&cf, &alloc, &err)) {
		cli_err(cf.path, "%s", err.msg);
		ret = EXIT_FAIL;
		goto out;
	}
	have_b = cow_backing_find(cf.path, ci, o.backing, b, &berr) == 0;
	if (!have_b)
		cli_warn(cf.path, "%s", berr.msg);
	else if (b->warning[0])
		cli_warn(cf.path, "%s", b->warning);

	if (o.json) {
		printf("{\"file\": ");
		json_str(cf.path);
		printf(", \"layout\": \"%s\", \"version\": %u, \"byte_order\": \"%s\", \"backing_file\": ",
		       ci->layout_name, ci->version,
		       ci->order == COW_BE ? "big-endian" : "little-endian");
		json_str(ci->backing_file);
		printf(", \"backing_file_used\": ");
		if (have_b)
			json_str(b->path);
		else
			printf("null");
		printf(", \"mtime\": %u, \"size\": %llu, \"sector_size\": %u, \"alignment\": %u, \"bitmap_offset\": %llu, \"bitmap_length\": %llu, \"bitmap_span\": %llu, \"data_offset\": %llu, \"sectors\": %llu, \"tracked_sectors\": %llu, \"allocated_sectors\": %llu, \"file_size\": %llu, \"short_bitmap\": %s, \"short_bitmap_overlaps_data\": %s, \"backing_size_matches\": %s, \"backing_mtime_matches\": %s}\n",
		       ci->mtime, (unsigned long long)ci->size,
		       ci->sector_size, ci->alignment,
		       (unsigned long long)ci->bitmap_offset,
		       (unsigned long long)ci->bitmap_len,
		       (unsigned long long)ci->bitmap_span,
		       (unsigned long long)ci->data_offset,
		       (unsigned long long)ci->nr_sectors,
		       (unsigned long long)ci->tracked_sectors,
		       (unsigned long long)alloc,
		       (unsigned long long)ci->file_size,
		       ci->flags & COW_F_SHORT_BITMAP ? "true" : "false",
		       ci->flags & COW_F_SHORT_BITMAP_OVERLAPS_DATA ?
		       "true" : "false",
		       !have_b ? "null" : b->size_matches ? "true" : "false",
		       !have_b ? "null" : b->mtime_matches ? "true" : "false");
		goto out;
	}

	printf("file:              %s\n", cf.path);
	printf("layout:            %s (%s)\n", ci->layout_name,
	       ci->layout->desc);
	printf("version:           %u\n", ci->version);
	printf("byte order:        %s\n",
	       ci->order == COW_BE ? "big-endian" : "little-endian");
	printf("backing file:      %s\n", ci->backing_file);
	if (!have_b)
		printf("backing status:    not found\n");
	else
		printf("backing status:    %s%s, size %s, mtime %s\n",
		       b->source == COW_BACKING_HEADER ? "found" : "using ",
		       b->source == COW_BACKING_HEADER ? "" : b->path,
		       b->size_matches ? "matches" : "DIFFERS",
		       b->mtime_matches ? "matches" : "DIFFERS");
	printf("mtime:             %u\n", ci->mtime);
	printf("size:              %llu bytes\n", (unsigned long long)ci->size);
	printf("sector size:       %u\n", ci->sector_size);
	printf("alignment:         %u\n", ci->alignment);
	printf("bitmap offset:     %llu\n",
	       (unsigned long long)ci->bitmap_offset);
	printf("bitmap length:     %llu%s\n",
	       (unsigned long long)ci->bitmap_len,
	       ci->flags & COW_F_SHORT_BITMAP ?
	       (ci->flags & COW_F_SHORT_BITMAP_OVERLAPS_DATA ?
		" (short: the last bits overlap the data area)" :
		" (short: the last bits lie in the padding)") : "");
	printf("data offset:       %llu\n",
	       (unsigned long long)ci->data_offset);
	printf("sectors:           %llu\n",
	       (unsigned long long)ci->nr_sectors);
	printf("allocated sectors: %llu (%.2f%%)\n", (unsigned long long)alloc,
	       ci->nr_sectors ? (double)alloc * 100 / (double)ci->nr_sectors :
	       0.0);
	if (cli_verbose)
		printf("chosen because:    %s\n", cf.why);
out:
	free(b);
	cow_close(&cf);
	return ret;
}

int cmd_create(int argc, char **argv)
{
	struct cow_create_opts co = { .order = -1 };
	struct cli_opts o;
	struct cow_err err;
	const char *backing, *cow;
	int ret = cli_parse(argc, argv, 0, cmd_create_help, 1, 2, &o);

	if (ret)
		return ret < 0 ? EXIT_USAGE : EXIT_OK;
	if (o.backing && o.nargs == 1) {
		backing = o.backing;
		cow = o.args[0];
	} else if (!o.backing && o.nargs == 2) {
		backing = o.args[0];
		cow = o.args[1];
	} else {
		cli_err("create", "give BACKING FILE.cow, or --backing BACKING FILE.cow");
		return EXIT_USAGE;
	}
	if (o.layout) {
		co.layout = cow_layout_find(o.layout, &co.order);
		if (!co.layout) {
			cli_err("create", "unknown layout '%s' (known: %s)",
				o.layout, cow_layout_names());
			return EXIT_USAGE;
		}
	}
	if (cow_create(cow, backing, &co, &err)) {
		cli_err(cow, "%s", err.msg);
		return EXIT_FAIL;
	}
	cli_info(cow, "created (layout %s) on %s",
		 co.layout ? co.layout->name : "v3", backing);
	return EXIT_OK;
}

/* Find and check the backing file; prints the error. */
static int get_backing(const struct cow_file *cf, const struct cli_opts *o,
		       struct cow_backing *b)
{
	struct cow_err err;

	if (cow_backing_find(cf->path, &cf->info, o->backing, b, &err) ||
	    cow_backing_verify(&cf->info, b, o->force, &err)) {
		cli_err(cf->path, "%s", err.msg);
		return -1;
	}
	if (b->warning[0])
		cli_warn(cf->path, "%s", b->warning);
	if (!b->mtime_matches)
		cli_warn(cf->path, "backing file %s's mtime differs from the header's (going on: --force)",
			 b->path);
	return 0;
}

static bool same_file(int fd1, int fd2)
{
	struct stat a, b;

	return fstat(fd1, &a) == 0 && fstat(fd2, &b) == 0 &&
	       a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

int cmd_merge(int argc, char **argv)
{
	struct cli_opts o;
	struct cow_file cf;
	struct cow_backing *b;
	struct cow_err err;
	struct cli_bar bar;
	struct cow_progress prog = { cli_bar_update, &bar };
	int ret = cli_parse(argc, argv, OPT_IN_PLACE | OPT_YES, cmd_merge_help,
			    1, 2, &o);
	int bfd = -1, ofd = -1;
	bool created = false;
	const char *out = NULL;

	if (ret)
		return ret < 0 ? EXIT_USAGE : EXIT_OK;
	if (o.nargs != (o.in_place ? 1 : 2)) {
		cli_err("merge", o.in_place ? "--in-place takes FILE.cow only" :
			"give FILE.cow OUT.img (or --in-place --yes FILE.cow)");
		return EXIT_USAGE;
	}
	b = malloc(sizeof(*b));
	if (!b) {
		cli_err(NULL, "out of memory");
		return EXIT_FAIL;
	}
	ret = open_cow(&cf, o.args[0], &o, false);
	if (ret) {
		free(b);
		return ret;
	}
	ret = EXIT_FAIL;
	if (lock(cf.fd, false, cf.path) || get_backing(&cf, &o, b))
		goto out;
	if (o.in_place && !o.yes) {
		cli_err(cf.path, "merging in place writes into the backing file %s; add --yes to do it (other COW files on %s will no longer match its mtime)",
			b->path, b->path);
		goto out;
	}
	bfd = open(b->path, (o.in_place ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (bfd < 0) {
		cli_err(b->path, "%s", strerror(errno));
		goto out;
	}
	if (lock(bfd, o.in_place, b->path))
		goto out;

	if (o.in_place) {
		cli_bar_start(&bar, "merging");
		if (cow_merge_in_place(&cf, bfd, &prog, &err)) {
			cli_bar_end(&bar);
			cli_err(cf.path, "merge into %s failed: %s", b->path,
				err.msg);
			goto out;
		}
		cli_bar_end(&bar);
		cli_warn(cf.path, "merged into %s; its mtime changed, so COW files on it (this one too) no longer match it",
			 b->path);
		ret = EXIT_OK;
		goto out;
	}

	out = o.args[1];
	ofd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (ofd >= 0) {
		created = true;
	} else if (errno == EEXIST && o.force) {
		ofd = open(out, O_WRONLY | O_CLOEXEC);
		if (ofd >= 0 && (same_file(ofd, cf.fd) || same_file(ofd, bfd))) {
			cli_err(out, "is the COW file or its backing file");
			goto out;
		}
		if (ofd >= 0 && ftruncate(ofd, 0) < 0) {
			struct stat st;

			/* a block device cannot be truncated: fine */
			if (fstat(ofd, &st) < 0 || S_ISREG(st.st_mode)) {
				cli_err(out, "%s", strerror(errno));
				goto out;
			}
		}
	}
	if (ofd < 0) {
		cli_err(out, "%s", errno == EEXIST ?
			"already exists (--force overwrites it)" :
			strerror(errno));
		goto out;
	}
	cli_bar_start(&bar, "merging");
	if (cow_merge(&cf, bfd, ofd, &prog, &err)) {
		cli_bar_end(&bar);
		cli_err(out, "%s", err.msg);
		goto out;
	}
	cli_bar_end(&bar);
	if (close(ofd) < 0) {
		ofd = -1;
		cli_err(out, "%s", strerror(errno));
		goto out;
	}
	ofd = -1;
	cli_info(out, "written from %s and %s", cf.path, b->path);
	ret = EXIT_OK;
out:
	if (ofd >= 0)
		close(ofd);
	if (ret && created)
		unlink(out);
	if (bfd >= 0)
		close(bfd);
	cow_close(&cf);
	free(b);
	return ret;
}

struct check_out {
	const char *path;
};

static void check_report(void *ctx, enum cow_check_level level,
			 const char *msg)
{
	const struct check_out *co = ctx;
	static const char *const names[] = { "note", "warning", "problem" };

	if (level == COW_CHECK_NOTE && !cli_verbose)
		return;
	printf("%s: %s: %s\n", co->path, names[level], msg);
}

int cmd_check(int argc, char **argv)
{
	struct cli_opts o;
	struct cow_file cf;
	struct cow_backing *b;
	struct cow_err err, berr;
	struct check_out co;
	int problems;
	int ret = cli_parse(argc, argv, 0, cmd_check_help, 1, 1, &o);

	if (ret)
		return ret < 0 ? EXIT_USAGE : EXIT_OK;
	if (access(o.args[0], R_OK) < 0) {
		cli_err(o.args[0], "%s", strerror(errno));
		return 2;
	}
	ret = open_cow(&cf, o.args[0], &o, false);
	if (ret) {
		/* a header no layout accepts is a problem found */
		if (ret == EXIT_USAGE)
			return 2;
		printf("%s: problem: unusable header\n", o.args[0]);
		return 1;
	}
	b = malloc(sizeof(*b));
	if (!b) {
		cow_close(&cf);
		return 2;
	}
	co.path = cf.path;
	problems = cow_check(&cf, cow_backing_find(cf.path, &cf.info,
						   o.backing, b, &berr) ?
			     NULL : b, berr.msg, o.force, check_report, &co,
			     &err);
	if (problems < 0) {
		cli_err(cf.path, "%s", err.msg);
		ret = 2;
	} else if (problems) {
		printf("%s: %d problem%s found\n", cf.path, problems,
		       problems == 1 ? "" : "s");
		ret = 1;
	} else {
		printf("%s: clean\n", cf.path);
		ret = 0;
	}
	free(b);
	cow_close(&cf);
	return ret;
}

int cmd_upgrade(int argc, char **argv)
{
	struct cow_create_opts co = { .order = -1 };
	struct cli_opts o;
	struct cow_file cf;
	struct cow_err err;
	struct cli_bar bar;
	struct cow_progress prog = { cli_bar_update, &bar };
	int ret = cli_parse(argc, argv, 0, cmd_upgrade_help, 2, 2, &o);

	if (ret)
		return ret < 0 ? EXIT_USAGE : EXIT_OK;
	ret = open_cow(&cf, o.args[0], &o, false);
	if (ret)
		return ret;
	if (lock(cf.fd, false, cf.path)) {
		cow_close(&cf);
		return EXIT_FAIL;
	}
	co.layout = cow_layout_find("v3", NULL);
	cli_bar_start(&bar, "upgrading");
	if (cow_convert(&cf, o.args[1], &co, &prog, &err)) {
		cli_bar_end(&bar);
		cli_err(o.args[1], "%s", err.msg);
		cow_close(&cf);
		return EXIT_FAIL;
	}
	cli_bar_end(&bar);
	cli_info(o.args[1], "v3 copy of %s (%s)", cf.path,
		 cf.info.layout_name);
	cow_close(&cf);
	return EXIT_OK;
}

int cmd_rebase(int argc, char **argv)
{
	struct cli_opts o;
	struct cow_file cf;
	struct cow_err err;
	struct stat st;
	char *path;
	uint32_t mtime;
	uint64_t size;
	int fd, ret = cli_parse(argc, argv, OPT_UPDATE_MTIME, cmd_rebase_help,
				1, 1, &o);

	if (ret)
		return ret < 0 ? EXIT_USAGE : EXIT_OK;
	if (!o.backing) {
		cli_err("rebase", "--backing NEW is required");
		return EXIT_USAGE;
	}
	path = malloc(COW_PATH_MAX + 1);
	if (!path)
		return EXIT_FAIL;
	/* --backing names the new file here, not one to parse with */
	{
		struct cli_opts po = o;

		po.backing = NULL;
		ret = open_cow(&cf, o.args[0], &po, true);
	}
	if (ret) {
		free(path);
		return ret;
	}
	ret = EXIT_FAIL;
	if (lock(cf.fd, true, cf.path))
		goto out;
	fd = open(o.backing, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		cli_err(o.backing, "%s", strerror(errno));
		if (fd >= 0)
			close(fd);
		goto out;
	}
	if (cow_fd_size(fd, &size, &err)) {
		close(fd);
		cli_err(o.backing, "%s", err.msg);
		goto out;
	}
	close(fd);
	mtime = (uint32_t)st.st_mtime;
	if (size != cf.info.size) {
		cli_err(cf.path, "%s has %llu bytes, the header says %llu: not the same image",
			o.backing, (unsigned long long)size,
			(unsigned long long)cf.info.size);
		goto out;
	}
	if (cow_absolute_path(o.backing, path, COW_PATH_MAX + 1, &err)) {
		cli_err(cf.path, "%s", err.msg);
		goto out;
	}
	if (!o.update_mtime && mtime != cf.info.mtime)
		cli_warn(cf.path, "%s's mtime (%u) differs from the header's (%u): UML will refuse the file until they match (--update-mtime stores the new one)",
			 o.backing, mtime, cf.info.mtime);
	if (cow_write_header_fields(&cf, path, o.update_mtime ? &mtime : NULL,
				    &err)) {
		cli_err(cf.path, "%s", err.msg);
		goto out;
	}
	cli_info(cf.path, "backing file is now %s%s", path,
		 o.update_mtime ? " (mtime updated)" : "");
	ret = EXIT_OK;
out:
	free(path);
	cow_close(&cf);
	return ret;
}
