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
#include "json.h"
#include "output.h"

const struct cli_help cmd_info_help = {
	"Usage: " PROG " info [--json] [OPTIONS] FILE.cow\n"
	"Show a COW file's header: layout, version, byte order, backing file (and\n"
	"whether its size and mtime match), size, sector size, alignment, bitmap\n"
	"offset and length, data offset, allocated sectors (with a short v1/v2\n"
	"bitmap, also those whose bits UML wrote in the padding past it).\n",
	OPT_JSON | OPT_BACKING | OPT_LAYOUT,
	(const struct cli_note[]){
		{ "json", "one JSON object on stdout (valid UTF-8: bytes of a\npath that are not UTF-8 become U+FFFD)" },
		{ NULL, NULL },
	},
	NULL,
};

const struct cli_help cmd_create_help = {
	"Usage: " PROG " create [--layout NAME] [--backing] BACKING FILE.cow\n"
	"Create an empty COW file on BACKING, as UML writes it: layout v3, the\n"
	"backing file's absolute path, size and mtime, sector size 512, alignment\n"
	"4096, sparse to the full size. Never overwrites FILE.cow; it appears\n"
	"only when complete.\n",
	OPT_BACKING | OPT_LAYOUT,
	(const struct cli_note[]){
		{ "backing", "the backing file (or give it as the first operand)" },
		{ "layout", "write a legacy layout instead (for tests and\nmigration; see Documentation/cow-format.rst):\nv1-packed[-le|-be], v1-x86_64[-le|-be], v2-packed,\nv2-x86_64, qemu-x86_64, qemu-i386, v3, v3-broken" },
		{ NULL, NULL },
	},
	NULL,
};

const struct cli_help cmd_merge_help = {
	"Usage: " PROG " merge [OPTIONS] FILE.cow OUT.img\n"
	"       " PROG " merge --in-place --yes --backing BACKING [OPTIONS] FILE.cow\n"
	"Write the full image FILE.cow describes to OUT.img (a new file, sparse\n"
	"where the image is zero), or with --in-place write FILE.cow's sectors\n"
	"into its backing file, which --backing must name. OUT.img is written to an\n"
	"unnamed file in its directory (0600, then no wider than FILE.cow and its\n"
	"backing file), fsync'd and linked into place only when complete: an\n"
	"interrupted or failed merge leaves nothing behind and never harms an\n"
	"existing OUT.img. A COW file whose allocated sectors lie past its end is\n"
	"refused (check reports it).\n"
	"Sectors whose bits UML wrote in the padding past a short v1/v2 bitmap are\n"
	"merged too (uml_moo and UML's next boot ignore them).\n",
	OPT_OVERWRITE | OPT_IN_PLACE | OPT_YES | OPT_COW,
	(const struct cli_note[]){
		{ "overwrite", "replace an existing regular OUT.img (not an input)" },
		{ "in-place", "merge into the backing file named by --backing\n(changes its mtime: other COW files on it no\nlonger match)" },
		{ "yes", "really do the --in-place merge" },
		{ NULL, NULL },
	},
	NULL,
};

const struct cli_help cmd_check_help = {
	"Usage: " PROG " check [--json] [OPTIONS] FILE.cow\n"
	"Check a COW file: header sanity, bitmap inside the file, bits set past\n"
	"the last sector, the v1/v2 short bitmap (and sectors UML wrote past it),\n"
	"a file shorter than its data area, allocated sectors without data,\n"
	"backing file present, matching, and not the COW file itself.\n"
	"Exit status: 0 clean, 1 problems found, 2 could not check.\n",
	OPT_JSON | OPT_COW,
	(const struct cli_note[]){
		{ "json", "one JSON object on stdout: \"file\", \"findings\"\n(each with \"level\", \"code\", \"message\", and\n\"sectors\", \"bytes\" or \"count\" where they apply;\nnotes too, without --verbose), \"problems\",\n\"verdict\" (clean, problems, not-checked; then\n\"error\")" },
		{ NULL, NULL },
	},
	NULL,
};

const struct cli_help cmd_upgrade_help = {
	"Usage: " PROG " upgrade [OPTIONS] OLD.cow NEW.cow\n"
	"Rewrite a COW file of any layout as a new v3 file (what today's UML\n"
	"reads) with the same backing file, size, mtime, allocated sectors and\n"
	"data: it merges to the same image. NEW.cow is sparse and must not exist;\n"
	"it is written to an unnamed file and appears only when complete, with\n"
	"OLD.cow's owner (as root) and mode, less the umask.\n",
	OPT_BACKING | OPT_LAYOUT, NULL, NULL,
};

const struct cli_help cmd_rebase_help = {
	"Usage: " PROG " rebase --backing NEW [--update-mtime] [OPTIONS] FILE.cow\n"
	"Point FILE.cow's header at the backing file NEW (moved or renamed),\n"
	"after checking that its size matches. The stored mtime is kept unless\n"
	"--update-mtime is given; nothing else in the file changes.\n",
	OPT_UPDATE_MTIME | OPT_BACKING | OPT_LAYOUT,
	(const struct cli_note[]){
		{ "update-mtime", "store NEW's mtime too" },
		{ "backing", "the new backing file (required)" },
		{ NULL, NULL },
	},
	NULL,
};

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
		cli_cow_err(path, &err);
		return cli_exit_status(act_cow_kind(&err));
	}
	cli_info(path, "layout %s: %s", cf->info.layout_name, cf->why);
	return 0;
}

/* open_cow() with a struct cow_backing to fill: *@b, freed on failure. */
static int open_cow_backing(struct cow_file *cf, const struct cli_opts *o,
			    struct cow_backing **b)
{
	int ret;

	*b = malloc(sizeof(**b));
	if (!*b) {
		cli_err(NULL, "out of memory");
		return EXIT_FAIL;
	}
	(*b)->fd = -1;
	ret = open_cow(cf, o->args[0], o, false);
	if (ret) {
		free(*b);
		*b = NULL;
	}
	return ret;
}

/* Take UML's kind of lock on @fd, or say who holds it. */
static int lock(int fd, bool exclusive, const char *path)
{
	static const struct filelock_words words = {
		.bracket = true,
		.outcome = "stop UML or close the mapping first",
	};
	struct filelock_holder h;
	char why[512];
	int err = filelock_take(fd, exclusive, &h);

	if (err == 0)
		return 0;
	filelock_refusal(err, &h, &words, why, sizeof(why));
	cli_err(path, "%s", why);
	return -1;
}

int cmd_info(int argc, char **argv)
{
	struct cli_opts o;
	struct cow_file cf;
	struct cow_backing *b;
	struct cow_err err, berr;
	uint64_t alloc, padded;
	const struct cow_info *ci;
	bool have_b;
	int ret;

	CLI_PARSE(argc, argv, &cmd_info_help, 1, 1, &o);
	ret = open_cow_backing(&cf, &o, &b);
	if (ret)
		return ret;
	ci = &cf.info;
	if (cow_bitmap_count(&cf, &alloc, &err) ||
	    cow_bitmap_count_padding(&cf, &padded, &err)) {
		cli_cow_err(cf.path, &err);
		ret = EXIT_FAIL;
		goto out;
	}
	have_b = cow_backing_find(cf.path, ci, o.backing, O_RDONLY, b,
				  &berr) == 0;
	cow_backing_close(b);	/* info reads nothing from it */
	if (!have_b)
		cli_warn(cf.path, "%s", berr.msg);
	else if (b->warning[0])
		cli_warn(cf.path, "%s", b->warning);

	if (o.json) {
		struct json j;

		json_init(&j, stdout);
		json_object_begin(&j, NULL);
		json_string(&j, "file", cf.path);
		json_string(&j, "layout", ci->layout_name);
		json_u64(&j, "version", ci->version);
		json_string(&j, "byte_order", ci->order == COW_BE ?
			    "big-endian" : "little-endian");
		json_string(&j, "backing_file", ci->backing_file);
		json_string(&j, "backing_file_used", have_b ? b->path : NULL);
		json_u64(&j, "mtime", ci->mtime);
		json_u64(&j, "size", ci->size);
		json_u64(&j, "sector_size", ci->sector_size);
		json_u64(&j, "alignment", ci->alignment);
		json_u64(&j, "bitmap_offset", ci->bitmap_offset);
		json_u64(&j, "bitmap_length", ci->bitmap_len);
		json_u64(&j, "bitmap_span", ci->bitmap_span);
		json_u64(&j, "data_offset", ci->data_offset);
		json_u64(&j, "sectors", ci->nr_sectors);
		json_u64(&j, "tracked_sectors", ci->tracked_sectors);
		json_u64(&j, "allocated_sectors", alloc);
		json_u64(&j, "padding_sectors", padded);
		json_u64(&j, "file_size", ci->file_size);
		json_bool(&j, "short_bitmap", ci->flags & COW_F_SHORT_BITMAP);
		json_bool(&j, "short_bitmap_overlaps_data",
			  ci->flags & COW_F_SHORT_BITMAP_OVERLAPS_DATA);
		if (have_b) {
			json_bool(&j, "backing_size_matches", b->size_matches);
			json_bool(&j, "backing_mtime_matches",
				  b->mtime_matches);
		} else {
			json_null(&j, "backing_size_matches");
			json_null(&j, "backing_mtime_matches");
		}
		json_object_end(&j);
		goto out;
	}

	printf("file:              %s\n", cli_q(cf.path));
	printf("layout:            %s (%s)\n", ci->layout_name,
	       ci->layout->desc);
	printf("version:           %u\n", ci->version);
	printf("byte order:        %s\n",
	       ci->order == COW_BE ? "big-endian" : "little-endian");
	printf("backing file:      %s\n", cli_q(ci->backing_file));
	if (!have_b)
		printf("backing status:    not found\n");
	else
		printf("backing status:    %s%s, size %s, mtime %s\n",
		       b->source == COW_BACKING_HEADER ? "found" : "using ",
		       b->source == COW_BACKING_HEADER ? "" : cli_q(b->path),
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
		" (short: the last bits lie in the padding, honoured)") : "");
	printf("data offset:       %llu\n",
	       (unsigned long long)ci->data_offset);
	printf("sectors:           %llu\n",
	       (unsigned long long)ci->nr_sectors);
	printf("allocated sectors: %llu (%.2f%%)\n", (unsigned long long)alloc,
	       ci->nr_sectors ? (double)alloc * 100 / (double)ci->nr_sectors :
	       0.0);
	if (padded)
		printf("in the padding:    %llu (UML's next boot reads them from the backing file)\n",
		       (unsigned long long)padded);
	if (cli_verbose)
		printf("chosen because:    %s\n", cli_q(cf.why));
out:
	free(b);
	cow_close(&cf);
	return ret;
}

int cmd_create(int argc, char **argv)
{
	struct cow_create_opts co = { .order = -1 };
	struct cli_output out;
	struct cli_opts o;
	struct cow_err err;
	const char *backing, *cow;

	CLI_PARSE(argc, argv, &cmd_create_help, 1, 2, &o);
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
	if (o.layout)	/* a known name: cli_parse() checked it */
		co.layout = cow_layout_find(o.layout, &co.order);
	/* Like merge's output: whole, or not there at all (output.h). */
	if (cli_output_begin(&out, cow, false, false, 0644))
		return EXIT_FAIL;
	if (cow_create_write(out.fd, backing, &co, &err)) {
		cli_cow_err(cow, &err);
		cli_output_abort(&out);
		return EXIT_FAIL;
	}
	if (cli_output_commit(&out))
		return EXIT_FAIL;
	cli_info(cow, "created (layout %s) on %s",
		 co.layout ? co.layout->name : "v3", backing);
	return EXIT_OK;
}

/*
 * Find, open (@flags) and check the backing file; prints the error. The
 * descriptor checked (b->fd) is the one used: cow_backing_close().
 */
static int get_backing(const struct cow_file *cf, const struct cli_opts *o,
		       int flags, struct cow_backing *b)
{
	struct cow_err err;

	if (cow_backing_find(cf->path, &cf->info, o->backing, flags, b,
			     &err) ||
	    cow_backing_not_self(cf, b, &err) ||
	    cow_backing_verify(&cf->info, b, o->force, &err)) {
		cli_cow_err(cf->path, &err);
		return -1;
	}
	if (b->warning[0])
		cli_warn(cf->path, "%s", b->warning);
	if (!b->mtime_matches)
		cli_warn(cf->path, "backing file %s's mtime differs from the header's (going on: --force)",
			 b->path);
	return 0;
}

static int merge_in_place(struct cow_file *cf, const struct cow_backing *b)
{
	struct cli_bar bar;
	struct cow_progress prog = { cli_bar_update, &bar };
	struct cow_err err;

	if (lock(b->fd, true, b->path))
		return EXIT_FAIL;
	cli_bar_start(&bar, "merging");
	if (cow_merge_in_place(cf, b->fd, &prog, &err)) {
		cli_bar_end(&bar);
		cli_err(cf->path, "merge into %s failed: %s", b->path, err.msg);
		return EXIT_FAIL;
	}
	cli_bar_end(&bar);
	cli_warn(cf->path, "merged into %s; its mtime changed, so COW files on it (this one too) no longer match it",
		 b->path);
	return EXIT_OK;
}

/*
 * OUT.img must be neither the COW file nor its backing file: even with
 * --overwrite, replacing one of those with the image loses the other's data.
 */
static int merge_target_ok(const struct cow_file *cf,
			   const struct cow_backing *b, const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return 0;
	if (st.st_dev == cf->dev && st.st_ino == cf->ino) {
		cli_err(path, "is the COW file itself; not replaced");
		return -1;
	}
	if (st.st_dev == b->dev && st.st_ino == b->ino) {
		cli_err(path, "is the backing file; not replaced (merge into it with --in-place --yes)");
		return -1;
	}
	return 0;
}

static int merge_to_file(struct cow_file *cf, const struct cli_opts *o,
			 const struct cow_backing *b, const char *path)
{
	struct cli_bar bar;
	struct cow_progress prog = { cli_bar_update, &bar };
	/*
	 * 0600, then no wider than its inputs: the image holds the backing
	 * file's data and the COW file's, so nobody who could not read both
	 * may read it (cow_output_perm()).
	 */
	const struct cow_perm in[] = { cf->perm, b->perm };
	struct cli_output out;
	struct cow_err err;

	if (merge_target_ok(cf, b, path))
		return EXIT_FAIL;
	if (lock(b->fd, false, b->path) ||
	    cli_output_begin(&out, path, o->overwrite, true, 0600))
		return EXIT_FAIL;
	if (cow_output_perm(out.fd, in, 2, NULL, &err)) {
		cli_cow_err(path, &err);
		cli_output_abort(&out);
		return EXIT_FAIL;
	}
	cli_bar_start(&bar, "merging");
	if (cow_merge(cf, b->fd, out.fd, &prog, &err)) {
		cli_bar_end(&bar);
		cli_cow_err(path, &err);
		cli_output_abort(&out);
		return EXIT_FAIL;
	}
	cli_bar_end(&bar);
	if (cli_output_commit(&out))
		return EXIT_FAIL;
	cli_info(path, "written from %s and %s", cf->path, b->path);
	return EXIT_OK;
}

/*
 * merge --in-place writes into a file that a header, which anyone may have
 * written, names: as root that could be any regular file. Only a file the
 * user names with --backing is written, and only with --yes.
 */
static int in_place_allowed(const struct cli_opts *o)
{
	if (!o->backing)
		return cli_usage_error("merge", "--in-place writes into the backing file: name it with --backing PATH (the header's path is not trusted for writing)");
	if (!o->yes) {
		cli_err(o->args[0], "merging in place writes into the backing file %s; add --yes (or -q, --batch-mode) to do it (other COW files on %s will no longer match its mtime)",
			o->backing, o->backing);
		return EXIT_FAIL;
	}
	return 0;
}

int cmd_merge(int argc, char **argv)
{
	struct cli_opts o;
	struct cow_file cf;
	struct cow_backing *b;
	int ret;

	CLI_PARSE(argc, argv, &cmd_merge_help, 1, 2, &o);
	if (o.nargs != (o.in_place ? 1 : 2))
		return cli_usage_error("merge", o.in_place ?
				       "--in-place takes FILE.cow only" :
				       "give FILE.cow OUT.img (or --in-place --yes --backing BACKING FILE.cow)");
	if (o.in_place && (ret = in_place_allowed(&o)))
		return ret;
	ret = open_cow_backing(&cf, &o, &b);
	if (ret)
		return ret;
	ret = EXIT_FAIL;
	if (lock(cf.fd, false, cf.path) || cli_data_complete(&cf) ||
	    get_backing(&cf, &o, o.in_place ? O_RDWR : O_RDONLY, b))
		goto out;
	ret = o.in_place ? merge_in_place(&cf, b) :
	      merge_to_file(&cf, &o, b, o.args[1]);
out:
	cow_backing_close(b);
	cow_close(&cf);
	free(b);
	return ret;
}

/* Where check's findings go: lines, or the JSON writer. */
struct check_out {
	const char *path;
	struct json *j;		/* NULL: text */
};

static void check_report(void *ctx, const struct cow_finding *f)
{
	static const char *const names[] = { "note", "warning", "problem" };
	const struct check_out *co = ctx;
	struct json *j = co->j;

	if (!j) {
		if (f->level != COW_CHECK_NOTE || cli_verbose)
			printf("%s: %s: %s\n", cli_q(co->path),
			       names[f->level], cli_q(f->msg));
		return;
	}
	json_object_begin(j, NULL);
	json_string(j, "level", names[f->level]);
	json_string(j, "code", f->code);
	json_string(j, "message", f->msg);
	if (f->range == COW_RANGE_SECTORS) {
		json_object_begin(j, "sectors");
		json_u64(j, "first", f->first);
		json_u64(j, "count", f->count);
		json_object_end(j);
	} else if (f->range == COW_RANGE_BYTES) {
		json_object_begin(j, "bytes");
		json_u64(j, "offset", f->first);
		json_u64(j, "length", f->count);
		json_object_end(j);
	}
	if (f->has_number)
		json_u64(j, "count", f->number);
	json_object_end(j);
}

/* A finding of check's own (the header no layout accepts). */
static void check_say(struct check_out *co, enum cow_check_level level,
		      const char *code, const char *msg)
{
	struct cow_finding f = { .level = level, .code = code, .msg = msg };

	check_report(co, &f);
}

/*
 * The end of check's report: "clean", "N problems found" (not after a
 * header no layout accepts: @header_bad), or (could not check) the error
 * on stderr, and in JSON the verdict. Returns the exit status: 0 clean,
 * 1 problems found, 2 could not check.
 */
static int check_end(struct check_out *co, int problems, const char *error,
		     bool header_bad)
{
	struct json *j = co->j;

	if (error)
		cli_err(co->path, "could not check: %s", error);
	if (j) {
		json_array_end(j);
		json_u64(j, "problems", problems > 0 ? (uint64_t)problems : 0);
		json_string(j, "verdict", error ? "not-checked" :
			    problems ? "problems" : "clean");
		if (error)
			json_string(j, "error", error);
		json_object_end(j);
	} else if (!error && problems && !header_bad) {
		printf("%s: %d problem%s found\n", cli_q(co->path), problems,
		       problems == 1 ? "" : "s");
	} else if (!error && !problems) {
		printf("%s: clean\n", cli_q(co->path));
	}
	return error ? 2 : problems ? 1 : 0;
}

/*
 * check's exit status: 0 clean, 1 problems found, 2 could not check (the
 * file cannot be opened or read, is not a file, or a usage error).
 */
int cmd_check(int argc, char **argv)
{
	struct cli_opts o;
	struct cow_open_opts oo;
	struct cow_file cf;
	struct cow_backing *b;
	struct cow_err *err, *berr;
	struct check_out co;
	struct json j;
	bool have_b;
	int problems, ret;

	cli_stdout_error_status = 2;	/* a report not written: not checked */
	CLI_PARSE(argc, argv, &cmd_check_help, 1, 1, &o);
	co = (struct check_out){ o.args[0], o.json ? &j : NULL };
	oo = (struct cow_open_opts){ .layout = o.layout, .backing = o.backing };
	b = malloc(sizeof(*b));
	err = malloc(sizeof(*err));
	berr = malloc(sizeof(*berr));
	if (!b || !err || !berr) {
		cli_err(NULL, "out of memory");
		ret = 2;
		goto out_free;
	}
	if (o.json) {
		json_init(&j, stdout);
		json_object_begin(&j, NULL);
		json_string(&j, "file", co.path);
		json_array_begin(&j, "findings");
	}
	if (cow_open(&cf, co.path, &oo, err)) {
		if (err->kind == COW_ERR_INVALID) {
			/* a header no layout accepts: a problem found */
			check_say(&co, COW_CHECK_PROBLEM, "invalid-header",
				  err->msg);
			if (err->detail[0])
				check_say(&co, COW_CHECK_NOTE,
					  "invalid-header-detail",
					  err->detail);
			ret = check_end(&co, 1, NULL, true);
		} else {
			ret = check_end(&co, 0, err->msg, false);
		}
		goto out_free;
	}
	co.path = cf.path;
	have_b = cow_backing_find(cf.path, &cf.info, o.backing, O_RDONLY, b,
				  berr) == 0;
	cow_backing_close(b);	/* check reads nothing from it */
	if (have_b && cow_backing_not_self(&cf, b, berr))
		have_b = false;
	problems = cow_check(&cf, have_b ? b : NULL, berr->msg, o.force,
			     check_report, &co, err);
	ret = check_end(&co, problems, problems < 0 ? err->msg : NULL, false);
	cow_close(&cf);
out_free:
	free(berr);
	free(err);
	free(b);
	return ret;
}

int cmd_upgrade(int argc, char **argv)
{
	struct cow_create_opts co = { .order = -1 };
	struct cli_opts o;
	struct cli_output out;
	struct cow_file cf;
	struct cow_err err;
	struct cli_bar bar;
	struct cow_progress prog = { cli_bar_update, &bar };
	int ret;

	CLI_PARSE(argc, argv, &cmd_upgrade_help, 2, 2, &o);
	ret = open_cow(&cf, o.args[0], &o, false);
	if (ret)
		return ret;
	ret = EXIT_FAIL;
	if (lock(cf.fd, false, cf.path) || cli_data_complete(&cf) ||
	    cli_output_begin(&out, o.args[1], false, false, 0600))
		goto out;
	co.layout = cow_layout_find("v3", NULL);
	co.inherit_perm = true;	/* NEW.cow stays its owner's, no wider */
	cli_bar_start(&bar, "upgrading");
	if (cow_convert_fd(&cf, out.fd, o.args[1], &co, &prog, &err)) {
		cli_bar_end(&bar);
		cli_cow_err(o.args[1], &err);
		cli_output_abort(&out);
		goto out;
	}
	cli_bar_end(&bar);
	if (cli_output_commit(&out))
		goto out;
	cli_info(o.args[1], "v3 copy of %s (%s)", cf.path,
		 cf.info.layout_name);
	ret = EXIT_OK;
out:
	cow_close(&cf);
	return ret;
}

int cmd_rebase(int argc, char **argv)
{
	struct cli_opts o, po;
	struct cow_file cf;
	struct cow_err err;
	struct stat st;
	char *path;
	uint32_t mtime;
	uint64_t size;
	int fd, ret;

	CLI_PARSE(argc, argv, &cmd_rebase_help, 1, 1, &o);
	if (!o.backing)
		return cli_usage_error("rebase", "--backing NEW is required");
	path = malloc(COW_PATH_MAX + 1);
	if (!path) {
		cli_err(NULL, "out of memory");
		return EXIT_FAIL;
	}
	/* --backing names the new file here, not one to parse with */
	po = o;
	po.backing = NULL;
	ret = open_cow(&cf, o.args[0], &po, true);
	if (ret) {
		free(path);
		return ret;
	}
	ret = EXIT_FAIL;
	if (lock(cf.fd, true, cf.path))
		goto out;
	fd = cow_open_path(o.backing, O_RDONLY, true, NULL, &err);
	if (fd < 0) {
		cli_cow_err(o.backing, &err);
		goto out;
	}
	if (fstat(fd, &st) < 0 || cow_fd_size(fd, &size, &err)) {
		cli_err(o.backing, "%s", errno ? strerror(errno) : err.msg);
		close(fd);
		goto out;
	}
	close(fd);
	if (st.st_dev == cf.dev && st.st_ino == cf.ino) {
		cli_err(cf.path, "%s is the COW file itself; a COW file cannot be its own backing file",
			o.backing);
		goto out;
	}
	mtime = (uint32_t)st.st_mtime;
	if (size != cf.info.size) {
		cli_err(cf.path, "%s has %llu bytes, the header says %llu: not the same image",
			o.backing, (unsigned long long)size,
			(unsigned long long)cf.info.size);
		goto out;
	}
	if (cow_absolute_path(o.backing, path, COW_PATH_MAX + 1, &err)) {
		cli_cow_err(cf.path, &err);
		goto out;
	}
	if (!o.update_mtime && mtime != cf.info.mtime)
		cli_warn(cf.path, "%s's mtime (%u) differs from the header's (%u): UML will refuse the file until they match (--update-mtime stores the new one)",
			 o.backing, mtime, cf.info.mtime);
	if (cow_write_header_fields(&cf, path, o.update_mtime ? &mtime : NULL,
				    &err)) {
		cli_cow_err(cf.path, &err);
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
