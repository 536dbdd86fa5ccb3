// SPDX-License-Identifier: GPL-2.0
/*
 * act.c - activation (see act.h).
 *
 * open: open the COW file (read-write unless read-only) and lock it the
 * way UML does, parse the header from that very descriptor, plan the table
 * (lib: cow_map_plan), find the backing file and check it the way UML does,
 * lock it, extend a short QEMU-style COW file sparsely, attach both files
 * to autoclear loop devices (the backing always read-only), and create
 * /dev/mapper/NAME (sys: loopdev, filelock, dmdev). Every step is undone
 * when a later one fails or a signal comes.
 *
 * The loop devices hold the file descriptions our locks are on: once the
 * table holds the loop devices we close our descriptors, and the locks, the
 * loop devices and the mapping all go away together at close.
 */
#include "act.h"
#include "act-int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "filelock.h"
#include "holders.h"
#include "loopdev.h"

/* ---- errors and remarks ---------------------------------------------- */

void act_set_err(struct act_err *e, enum act_err_kind kind, const char *file,
		 const char *fmt, ...)
{
	va_list ap;

	e->kind = kind;
	e->signo = 0;
	snprintf(e->file, sizeof(e->file), "%s", file ? file : "");
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	e->detail[0] = '\0';
}

enum act_err_kind act_cow_kind(const struct cow_err *ce)
{
	return ce->kind == COW_ERR_AMBIGUOUS || ce->kind == COW_ERR_USAGE ?
	       ACT_ERR_USAGE : ACT_ERR_FAIL;
}

int act_cow_failed(struct act_err *e, const char *file,
		   const struct cow_err *ce)
{
	act_set_err(e, act_cow_kind(ce), file, "%s", ce->msg);
	snprintf(e->detail, sizeof(e->detail), "%s", ce->detail);
	return -1;
}

void act_say(act_log_fn log, enum act_log_level level, const char *file,
	     const char *fmt, ...)
{
	char msg[2 * COW_PATH_MAX + 1024];
	va_list ap;

	if (!log)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log(level, file, msg);
}

int act_dm_err(struct act_err *e, const char *what, int err)
{
	if (err == -ENODEV || err == -ENOENT || err == -ENXIO)
		act_set_err(e, ACT_ERR_NO_DM, what, "device-mapper is not available (is the dm-mod module loaded?)");
	else
		act_set_err(e, ACT_ERR_FAIL, what, "device-mapper: %s%s%s",
			    strerror(-err), dmdev_last_error()[0] ? ": " : "",
			    dmdev_last_error());
	return -1;
}

/* ---- the mappings there are ------------------------------------------ */

void act_uuid_prefix(bool nbd, dev_t dev, ino_t ino, char *buf, size_t len)
{
	snprintf(buf, len, "%s%x:%x:%" PRIx64 "-",
		 nbd ? ACT_NBD_UUID_PREFIX : DMDEV_UUID_PREFIX, major(dev),
		 minor(dev), (uint64_t)ino);
}

bool act_is_nbd_mapping(const struct dmdev *d)
{
	return !strcmp(d->type, "linear") &&
	       !strncmp(d->uuid, ACT_NBD_UUID_PREFIX,
			strlen(ACT_NBD_UUID_PREFIX));
}

bool act_is_ours(const struct dmdev *d)
{
	return !strcmp(d->type, ACT_TARGET) || act_is_nbd_mapping(d);
}

bool act_of_file(const struct dmdev *d, dev_t dev, ino_t ino)
{
	char prefix[DM_UUID_LEN];

	act_uuid_prefix(act_is_nbd_mapping(d), dev, ino, prefix,
			sizeof(prefix));
	return !strncmp(d->uuid, prefix, strlen(prefix));
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(((const struct dmdev *)a)->name,
		      ((const struct dmdev *)b)->name);
}

int act_list(struct dmdev **devs, size_t *n)
{
	struct dmdev *lin, *all;
	size_t nlin, k;
	int err = dmdev_list(ACT_TARGET, devs, n);

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
		if (act_is_nbd_mapping(&lin[i]))
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

int act_mappings_of(dev_t dev, ino_t ino, char *names, size_t len)
{
	struct dmdev *devs;
	size_t n, used = 0;
	int err, found = 0;

	if (len)
		names[0] = '\0';
	err = act_list(&devs, &n);
	if (err)
		return err;
	for (size_t i = 0; i < n; i++) {
		if (!act_of_file(&devs[i], dev, ino))
			continue;
		found++;
		if (used < len) {
			int w = snprintf(names + used, len - used, "%s\n",
					 devs[i].name);

			used += w > 0 ? (size_t)w : 0;
		}
	}
	dmdev_free_list(devs, n);
	return found;
}

int act_already_mapped(struct act_err *e, const char *path,
			  const char *name)
{
	act_set_err(e, ACT_ERR_BUSY, path, "already mapped as %s/%s (umlcow-setup close %s); not mapped again",
		    DMDEV_DIR, name, name);
	return -1;
}

int act_lock(int fd, bool exclusive, const char *path, bool cow,
	     struct act_err *e)
{
	static const struct filelock_words cow_words = {
		.hint = "is UML running on it?", .outcome = "not mapped",
	};
	static const struct filelock_words backing_words = {
		.backing = true, .outcome = "not mapped",
	};
	struct filelock_holder h;
	char why[512], name[2 * DM_NAME_LEN];
	struct stat st;
	int err = filelock_take(fd, exclusive, &h);

	if (!err)
		return 0;
	if (err == -EAGAIN && cow && (!h.known || h.ofd) &&
	    fstat(fd, &st) == 0 &&
	    act_mappings_of(st.st_dev, st.st_ino, name, sizeof(name)) > 0) {
		name[strcspn(name, "\n")] = '\0';
		return act_already_mapped(e, path, name);
	}
	filelock_refusal(err, &h, cow ? &cow_words : &backing_words, why,
			 sizeof(why));
	act_set_err(e, err == -EAGAIN ? ACT_ERR_BUSY : ACT_ERR_FAIL, path,
		    "%s", why);
	return -1;
}

/* Why a device could not be made, into @e; returns -1. */
static int create_failed(struct act_err *e, const char *what,
			 const char *name, int err)
{
	char kmsg[512], dmmsg[512];

	/* Copies: the next dmdev call starts with empty messages. */
	snprintf(kmsg, sizeof(kmsg), "%s", dmdev_kernel_error());
	snprintf(dmmsg, sizeof(dmmsg), "%s", dmdev_last_error());

	if (err == -EEXIST)
		act_set_err(e, ACT_ERR_BUSY, what, "a device-mapper device named '%s' exists already (choose another name with --name)",
			    name);
	else if (err == -ENODEV || err == -ENOENT)
		act_set_err(e, ACT_ERR_NO_DM, what, "device-mapper is not available (is the dm-mod module loaded?)");
	else if (dmdev_has_target(ACT_TARGET) == 0)
		act_set_err(e, ACT_ERR_NO_DM, what, "the kernel has no '%s' target and could not load it (install umlcow-dkms, or run make install-dkms in the source tree, or insmod drivers/md/dm-umlcow.ko; or map it without the module: --via nbd)",
			    ACT_TARGET);
	else if (kmsg[0])
		act_set_err(e, ACT_ERR_FAIL, what, "the kernel refused the table: %s",
			    kmsg);
	else if (dmmsg[0])
		act_set_err(e, ACT_ERR_FAIL, what, "%s", dmmsg);
	else
		act_set_err(e, ACT_ERR_FAIL, what, "cannot create device '%s': %s",
			    name, strerror(-err));
	return -1;
}

/* ---- open ------------------------------------------------------------ */

/* Everything open holds while it works, undone by open_undo(). */
struct open_state {
	const struct umlcow_open_opts *o;
	const char *path;
	struct act_err *e;
	struct cow_file cf;
	struct cow_backing *b;
	struct cow_map_plan plan;
	bool read_only;
	int back_fd;
	struct loopdev cow_loop, back_loop;
	bool extended, created;
	uint64_t orig_size;
	sigset_t held, old_mask;	/* the signals held, the mask before */
	bool holding;
};

/*
 * The signals open undoes itself on: SIGINT, SIGTERM and SIGHUP, unless the
 * process ignores one (nohup, a background job's SIGINT). Linux queues a
 * blocked signal even when it is ignored: holding it would turn it into
 * an interruption it never was.
 */
static void undo_signals(sigset_t *set)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };
	struct sigaction sa;

	sigemptyset(set);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (sigaction(sigs[i], NULL, &sa) < 0 ||
		    sa.sa_handler != SIG_IGN)
			sigaddset(set, sigs[i]);
}

/*
 * Whether one of the held signals came: then it is taken (it must not kill
 * us before everything is undone) and open fails as interrupted.
 */
static bool interrupted(struct open_state *s)
{
	static const struct timespec now = { 0, 0 };
	sigset_t pending;
	int sig;

	if (!s->holding || sigpending(&pending) < 0)
		return false;
	for (sig = 1; sig < NSIG; sig++)
		if (sigismember(&s->held, sig) == 1 &&
		    sigismember(&pending, sig) == 1)
			break;
	if (sig >= NSIG)
		return false;
	{
		sigset_t one;

		sigemptyset(&one);
		sigaddset(&one, sig);
		while (sigtimedwait(&one, NULL, &now) < 0 && errno == EINTR)
			;
	}
	act_set_err(s->e, ACT_ERR_INTERRUPTED, s->path, "interrupted by SIG%s; everything open did was undone",
		    sigabbrev_np(sig) ? sigabbrev_np(sig) : "?");
	s->e->signo = sig;
	return true;
}

int act_plan(const struct cow_info *info, struct cow_map_plan *p,
	     const char *path, act_log_fn log, struct act_err *e)
{
	struct cow_err ce;

	if (cow_map_plan(info, 512, p, &ce))
		return act_cow_failed(e, path, &ce);
	if (p->unmapped_bytes)
		act_say(log, ACT_LOG_INFO, path, "the last %" PRIu64 " bytes of the image are not a whole sector and are not mapped",
			p->unmapped_bytes);
	if (p->padding_bits)
		act_say(log, ACT_LOG_INFO, path, "short %s bitmap: the bits of the last sectors lie in the padding, where UML writes them; mapped read-write",
			info->layout_name);
	return 0;
}

void act_explain_tail(const struct cow_info *info,
		      const struct cow_map_plan *p, const char *path,
		      act_log_fn log)
{
	char which[64];

	if (p->tail_sectors == 1)
		snprintf(which, sizeof(which), "the last sector");
	else
		snprintf(which, sizeof(which), "the last %" PRIu64 " sectors",
			 p->tail_sectors);
	act_say(log, ACT_LOG_ERR, path, "mapping read-only: the short %s bitmap has no bit for %s ('umlcow-setup upgrade' makes a v3 copy that maps read-write)",
		info->layout_name, which);
	act_say(log, ACT_LOG_INFO, path, "the bitmap is one byte short (UML's rounding) and that byte is the data area's first: UML reads %s from the backing file, and so does this mapping, where a write could not be kept",
		which);
}

/* Open and lock the COW file, then parse it from that descriptor. */
static int open_cow_locked(struct open_state *s)
{
	struct cow_open_opts co = { .layout = s->o->layout,
				    .backing = s->o->backing,
				    .writable = !s->read_only };
	struct cow_err ce;
	struct stat st;
	int fd;

	fd = cow_open_path(s->path, s->read_only ? O_RDONLY : O_RDWR, false,
			   NULL, &ce);
	if (fd < 0) {
		if (!s->read_only &&
		    (errno == EROFS || errno == EACCES || errno == EPERM))
			act_set_err(s->e, ACT_ERR_FAIL, s->path, "cannot open for writing: %s; map it with --read-only",
				    strerror(errno));
		else if (errno == EINVAL && stat(s->path, &st) == 0 &&
			 S_ISBLK(st.st_mode))
			act_set_err(s->e, ACT_ERR_FAIL, s->path, "%s (map a COW file on a block device by hand: see 'table')",
				    ce.msg);
		else
			act_cow_failed(s->e, s->path, &ce);
		return -1;
	}
	if (act_lock(fd, !s->read_only, s->path, true, s->e)) {
		close(fd);
		return -1;
	}
	if (cow_open_fd(&s->cf, fd, s->path, &co, &ce)) {
		close(fd);
		return act_cow_failed(s->e, s->path, &ce);
	}
	act_say(s->o->log, ACT_LOG_INFO, s->path, "layout %s (%s)",
		s->cf.info.layout_name, s->cf.why);
	/*
	 * Before the file is extended (which would put zeros under set bits)
	 * or anything is attached: sectors whose data was cut off are lost.
	 */
	if (act_plan(&s->cf.info, &s->plan, s->path, s->o->log, s->e))
		return -1;
	if (cow_data_check(&s->cf, &ce))
		return act_cow_failed(s->e, s->path, &ce);
	if (s->plan.read_only && !s->read_only) {
		act_explain_tail(&s->cf.info, &s->plan, s->path, s->o->log);
		s->read_only = true;
		/* A read lock now, as for --read-only (same description). */
		return act_lock(fd, false, s->path, true, s->e);
	}
	return 0;
}

/* Find, check and lock the backing file, as UML checks it. */
static int open_backing(struct open_state *s)
{
	struct cow_err ce;
	uint64_t bsize;

	s->b = malloc(sizeof(*s->b));
	if (!s->b) {
		act_set_err(s->e, ACT_ERR_FAIL, s->path, "out of memory");
		return -1;
	}
	s->b->fd = -1;
	if (cow_backing_open(&s->cf, s->o->backing, O_RDONLY, s->o->force,
			     s->b, &ce))
		return act_cow_failed(s->e, s->path, &ce);
	if (s->b->warning[0])
		act_say(s->o->log, ACT_LOG_WARN, s->path, "%s", s->b->warning);
	act_say(s->o->log, ACT_LOG_INFO, s->path, "backing file %s", s->b->path);
	/*
	 * The descriptor checked is the one mapped: reopening the path would
	 * map whatever it names by now (a block device, too).
	 */
	s->back_fd = s->b->fd;
	s->b->fd = -1;
	if (act_lock(s->back_fd, false, s->b->path, false, s->e))
		return -1;
	if (cow_fd_size(s->back_fd, &bsize, &ce))
		return act_cow_failed(s->e, s->b->path, &ce);
	if (bsize / 512 < s->plan.len + s->plan.tail_len) {
		act_set_err(s->e, ACT_ERR_FAIL, s->b->path, "the backing file (%" PRIu64 " bytes) is smaller than the image (%" PRIu64 " bytes)",
			    bsize, s->cf.info.size);
		return -1;
	}
	if (s->read_only && s->cf.info.file_size < s->plan.cow_need &&
	    !cow_map_ro_short_ok(&s->plan, s->cf.info.file_size)) {
		act_set_err(s->e, ACT_ERR_FAIL, s->path, "the file ends at byte %" PRIu64 ", before its data area ends at byte %" PRIu64 "; a read-only mapping cannot extend it (map it once read-write, or extend it with 'truncate -s %" PRIu64 "')",
			    s->cf.info.file_size, s->plan.cow_need,
			    s->plan.cow_need);
		return -1;
	}
	return 0;
}

/* The name must be free (or say it is this file's mapping already). */
static int open_check_free(struct open_state *s)
{
	char uuid[DM_UUID_LEN];
	struct dmdev d;
	int err = dmdev_exists(s->o->name);

	if (err < 0)
		return create_failed(s->e, s->path, s->o->name, err);
	if (err == 0)
		return 0;
	act_uuid_prefix(false, s->cf.dev, s->cf.ino, uuid, sizeof(uuid));
	/* dmdev_get() leaves @d safe to free even when it fails. */
	if (!dmdev_get(s->o->name, &d) && !strncmp(d.uuid, uuid, strlen(uuid)))
		act_already_mapped(s->e, s->path, s->o->name);
	else
		create_failed(s->e, s->path, s->o->name, -EEXIST);
	dmdev_free(&d);
	return -1;
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
		act_say(s->o->log, ACT_LOG_INFO, s->path, "the file ends before its data area; mapped as it is");
		return 0;
	}
	if (ftruncate(s->cf.fd, (off_t)need) < 0) {
		act_set_err(s->e, ACT_ERR_FAIL, s->path, "cannot extend the file to %" PRIu64 " bytes: %s",
			    need, strerror(errno));
		return -1;
	}
	s->orig_size = size;
	s->extended = true;
	act_say(s->o->log, ACT_LOG_INFO, s->path, "extended sparsely from %" PRIu64 " to %" PRIu64 " bytes",
		size, need);
	return 0;
}

/* Say which loop device the file system refused direct I/O for. */
static void dio_refused(struct open_state *s, const struct loopdev *ld,
			const char *file)
{
	act_say(s->o->log, ACT_LOG_WARN, file, "the file system refused direct I/O on the file; %s uses the page cache",
		ld->path);
}

static int open_attach(struct open_state *s)
{
	unsigned int dio = s->o->direct_io ? LOOPDEV_DIRECT_IO : 0;
	int err = loopdev_attach(s->cf.fd,
				 (s->read_only ? LOOPDEV_READ_ONLY : 0) | dio,
				 s->path, &s->cow_loop);

	if (err) {
		act_set_err(s->e, ACT_ERR_FAIL, s->path, "cannot attach a loop device: %s",
			    loopdev_strerror(err));
		return -1;
	}
	if (dio && !s->cow_loop.direct_io)
		dio_refused(s, &s->cow_loop, s->path);
	if (interrupted(s))
		return -1;
	err = loopdev_attach(s->back_fd, LOOPDEV_READ_ONLY | dio, s->b->path,
			     &s->back_loop);
	if (err) {
		act_set_err(s->e, ACT_ERR_FAIL, s->b->path, "cannot attach a loop device: %s",
			    loopdev_strerror(err));
		return -1;
	}
	if (dio && !s->back_loop.direct_io)
		dio_refused(s, &s->back_loop, s->b->path);
	act_say(s->o->log, ACT_LOG_INFO, s->path, "COW file on %s, backing file on %s%s",
		s->cow_loop.path, s->back_loop.path,
		dio ? " (direct I/O asked for)" : "");
	return 0;
}

static int open_create(struct open_state *s, struct umlcow_open_result *r)
{
	const struct cow_map_features f = {
		.read_only = s->read_only,
		.no_discard = s->o->no_discard,
		.commit_interval_set = s->o->have_commit_interval,
		.commit_interval = s->o->commit_interval,
	};
	char cow_dev[32], back_dev[32], params[256], tparams[64];
	char uuid[DM_UUID_LEN];
	struct dmdev_target t[2];
	struct cow_err ce;
	int err;

	snprintf(cow_dev, sizeof(cow_dev), "%u:%u", major(s->cow_loop.rdev),
		 minor(s->cow_loop.rdev));
	snprintf(back_dev, sizeof(back_dev), "%u:%u",
		 major(s->back_loop.rdev), minor(s->back_loop.rdev));
	if (cow_map_params(&s->plan, cow_dev, back_dev, &f, params,
			   sizeof(params), &ce) ||
	    cow_map_tail_params(&s->plan, back_dev, tparams, sizeof(tparams),
				&ce))
		return act_cow_failed(s->e, s->path, &ce);
	act_uuid_prefix(false, s->cf.dev, s->cf.ino, uuid, sizeof(uuid));
	snprintf(uuid + strlen(uuid), sizeof(uuid) - strlen(uuid), "%s",
		 s->o->name);
	t[0] = (struct dmdev_target){ 0, s->plan.len, ACT_TARGET, params };
	t[1] = (struct dmdev_target){ s->plan.len, s->plan.tail_len, "linear",
				      tparams };
	act_say(s->o->log, ACT_LOG_INFO, s->path, "table: 0 %" PRIu64 " %s %s",
		s->plan.len, ACT_TARGET, params);
	if (s->plan.tail_len)
		act_say(s->o->log, ACT_LOG_INFO, s->path, "table: %" PRIu64 " %" PRIu64 " linear %s",
			s->plan.len, s->plan.tail_len, tparams);
	err = dmdev_create_table(s->o->name, uuid, s->read_only, t,
				 s->plan.tail_len ? 2 : 1, r->node,
				 sizeof(r->node));
	if (err)
		return create_failed(s->e, s->path, s->o->name, err);
	s->created = true;
	return 0;
}

static void open_undo(struct open_state *s, bool failed)
{
	if (failed && s->created) {
		int err = dmdev_remove(s->o->name, false);

		if (err)
			act_say(s->o->log, ACT_LOG_ERR, s->o->name, "cannot remove the device again: %s",
				dmdev_last_error()[0] ? dmdev_last_error() :
				strerror(-err));
	}
	if (failed) {
		loopdev_detach(&s->back_loop);
		loopdev_detach(&s->cow_loop);
	} else {
		/* The table holds the loop devices now: they go when it goes. */
		loopdev_release(&s->cow_loop);
		loopdev_release(&s->back_loop);
	}
	if (s->extended && failed &&
	    ftruncate(s->cf.fd, (off_t)s->orig_size) < 0)
		act_say(s->o->log, ACT_LOG_ERR, s->path, "cannot shrink the file back to %" PRIu64 " bytes: %s",
			s->orig_size, strerror(errno));
	if (s->back_fd >= 0)
		close(s->back_fd);
	cow_backing_close(s->b);
	free(s->b);
	cow_close(&s->cf);
	if (s->holding)
		sigprocmask(SIG_SETMASK, &s->old_mask, NULL);
}

int umlcow_open(const struct umlcow_open_opts *o, struct umlcow_open_result *r,
		struct act_err *e)
{
	struct open_state *s = calloc(1, sizeof(*s));
	int ret;

	memset(r, 0, sizeof(*r));
	act_set_err(e, ACT_ERR_NONE, NULL, "%s", "");
	if (!s) {
		act_set_err(e, ACT_ERR_FAIL, o->path, "out of memory");
		return -1;
	}
	s->o = o;
	s->path = o->path;
	s->e = e;
	s->read_only = o->read_only;
	s->back_fd = -1;
	s->cf.fd = -1;
	loopdev_init(&s->cow_loop);
	loopdev_init(&s->back_loop);
	undo_signals(&s->held);
	s->holding = sigprocmask(SIG_BLOCK, &s->held, &s->old_mask) == 0;

	ret = open_cow_locked(s);
	if (!ret)
		ret = interrupted(s) || open_backing(s);
	if (!ret)
		ret = interrupted(s) || open_check_free(s);
	if (!ret)
		ret = interrupted(s) || open_extend(s);
	if (!ret)
		ret = interrupted(s) || open_attach(s);
	if (!ret)
		ret = interrupted(s) || open_create(s, r);
	/* The last look: a signal during the create undoes it too. */
	if (!ret)
		ret = interrupted(s);
	if (!ret) {
		r->read_only = s->read_only;
		r->cow_direct_io = s->cow_loop.direct_io;
		r->backing_direct_io = s->back_loop.direct_io;
	}
	open_undo(s, ret != 0);
	free(s);
	return ret ? -1 : 0;
}

/* ---- close, commit --------------------------------------------------- */

int act_not_held(const struct dmdev *d, struct act_err *e)
{
	char who[512];
	int n = holders_of(d->major, d->minor, who, sizeof(who));

	if (n <= 0)
		return 0;
	act_set_err(e, ACT_ERR_BUSY, d->name, "the device is held by %s (a partition mapping or another device on top of it); remove %s first (partitions: kpartx -d %s/%s); nothing was closed",
		    who, n == 1 ? "it" : "them", DMDEV_DIR, d->name);
	return -1;
}

int umlcow_close(const char *name, bool deferred, struct act_err *e)
{
	int err = dmdev_remove(name, deferred);

	if (!err)
		return 0;
	if (err == -EBUSY)
		act_set_err(e, ACT_ERR_BUSY, name, "the device is in use (mounted or open); close it first, or use --deferred");
	else if (err == -ENXIO)
		act_set_err(e, ACT_ERR_NOT_MAPPED, name, "no such device");
	else
		act_set_err(e, ACT_ERR_FAIL, name, "cannot remove the device: %s",
			    dmdev_last_error()[0] ? dmdev_last_error() :
			    strerror(-err));
	return -1;
}

int umlcow_commit(const char *name, struct act_err *e)
{
	char reply[256];
	int err = dmdev_message(name, "commit", reply, sizeof(reply));

	if (!err)
		return 0;
	act_set_err(e, ACT_ERR_FAIL, name, "commit failed: %s",
		    dmdev_last_error()[0] ? dmdev_last_error() : strerror(-err));
	return -1;
}
